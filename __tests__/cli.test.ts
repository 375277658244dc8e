// The `entropix` command line as shipped (dist/cli/main.js, run with node), end to end as a
// spawned process, on the bundled model.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../lib';
import { randomModel, SHAPE } from './helpers/llama-reference';
import { writeCheckpoint } from './helpers/hf-writer';
import { DIST_CLI, ROOT, requireFreshDist } from './helpers/dist';

function entropix(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [DIST_CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** TF.js's "Hi, looks like you are running TensorFlow.js in Node.js…" between lines of '='. */
const BANNER = /looks like you are running TensorFlow\.js|={10}/;

let tmp: string;
// A long generation a test starts; killed after the test, so a timed-out test leaves no work behind.
let running: ChildProcess | undefined;
afterEach(() => {
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  running = undefined;
});
beforeAll(() => {
  requireFreshDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('generate streams the prompt and its continuation, and writes a trace and a plot that agree with it', () => {
  const trace = path.join(tmp, 'trace.json');
  const plot = path.join(tmp, 'plot.svg');
  const args = ['generate', '--prompt', 'And God said', '--max-new-tokens', '48', '--seed', '7', '--trace', trace, '--plot', plot];
  const r = entropix(args);
  expect(r.stderr).toMatch(/tokens in [\d.]+ s .*wasm.*seed 7; regimes: /);
  expect(r.status).toBe(0);
  expect(r.stdout.startsWith('And God said')).toBe(true);
  const t = JSON.parse(fs.readFileSync(trace, 'utf8'));
  expect(t).toMatchObject({ version: 1, backend: 'wasm', sampler: 'entropix', seed: 7, prompts: ['And God said'] });
  expect(t.tokens.length).toBeGreaterThan(0);
  expect(t.tokens.length).toBeLessThanOrEqual(48);
  // The streamed text is the prompt plus the trace's token texts, in order.
  expect(r.stdout).toBe(`And God said${t.tokens.map((x: { text: string }) => x.text).join('')}\n`);
  expect(t.texts[0]).toBe(t.tokens.map((x: { text: string }) => x.text).join(''));
  for (const tok of t.tokens) {
    expect(['flowing', 'treading', 'exploring', 'resampling', 'adaptive']).toContain(tok.regime);
    for (const k of ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength', 'logprob']) {
      expect(typeof tok[k]).toBe('number');
    }
  }
  expect(t.thresholds.lowEntropy).toBeGreaterThan(0);
  const svg = fs.readFileSync(plot, 'utf8');
  expect(svg.startsWith('<?xml')).toBe(true);
  expect([...svg.matchAll(/class="token /g)]).toHaveLength(t.tokens.length);
  // The same seed gives the same text.
  expect(entropix(args).stdout).toBe(r.stdout);
}, 60_000);

test('--color colours tokens by regime; plain and greedy samplers report the base state', () => {
  const colored = entropix(['generate', '--prompt', 'Amen', '--max-new-tokens', '12', '--seed', '1', '--color', '--quiet']);
  expect(colored.status).toBe(0);
  expect(colored.stdout).toMatch(/\x1b\[3\dm/);
  const trace = path.join(tmp, 'greedy.json');
  const greedy = entropix(['generate', '--prompt', 'Amen', '--max-new-tokens', '12', '--sampler', 'greedy', '--trace', trace, '--quiet']);
  expect(greedy.status).toBe(0);
  const t = JSON.parse(fs.readFileSync(trace, 'utf8'));
  expect(t.thresholds).toBeNull();
  expect(t.tokens.every((x: { regime: string }) => x.regime === 'base')).toBe(true);
  const verbose = entropix(['generate', '--prompt', 'Amen', '--max-new-tokens', '12', '--sampler', 'greedy', '--quiet', '--verbose']);
  expect(verbose.stdout).toBe(greedy.stdout);
  expect(verbose.stderr).toMatch(/^backend wasm\n/); // --verbose names the backend (and a GPU adapter on webgpu)
}, 60_000);

test.each([
  ['an unknown model path', ['--model', '/nonexistent/model'], /no model at \/nonexistent\/model/],
  ['a directory without model.json', ['--model', os.tmpdir()], /has no model\.json/],
  ['an empty prompt', ['--prompt', ''], /prompt is empty/],
  ['a prompt longer than the context', ['--prompt', 'x'.repeat(300)], /longer than the model's context/],
  ['--max-new-tokens 0', ['--max-new-tokens', '0'], /--max-new-tokens must be a positive integer/],
  ['--max-new-tokens 2.5', ['--max-new-tokens', '2.5'], /--max-new-tokens must be a positive integer/],
])('refuses %s with one line on stderr and no stack trace', (_, extra, message) => {
  const args = ['generate', '--prompt', 'And', ...extra];
  const r = entropix(args);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^entropix: error: /);
  // --verbose adds the stack.
  expect(entropix([...args, '--verbose']).stderr).toMatch(/\n\s+at /);
});

test('an unknown backend or option is a usage error (exit 2)', () => {
  const r = entropix(['generate', '--prompt', 'And', '--backend', 'tpu']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/Invalid values|backend/);
  expect(entropix(['generate', '--prompt', 'x', '--frobnicate']).status).toBe(2);
});

test('convert writes a loadable model with a progress bar', async () => {
  const { arrays, weights } = randomModel(SHAPE, 2);
  tf.dispose(weights as unknown as tf.TensorContainer);
  const src = path.join(tmp, 'hf');
  await writeCheckpoint(src, arrays);
  const out = path.join(tmp, 'converted');
  const r = entropix(['convert', src, out, '--dtype', 'float16']);
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(/100% \d+\/\d+/);
  expect(r.stderr).not.toMatch(BANNER);
  expect(fs.existsSync(path.join(out, 'model.json'))).toBe(true);
  const again = entropix(['convert', src, out]);
  expect(again.status).toBe(1);
  expect(again.stderr).toMatch(/^entropix: error: cannot write the model to .*: it exists/);
}, 60_000);

test('Ctrl-C (SIGINT) aborts a generation cleanly: one line, exit 130', async () => {
  const child = running = spawn(process.execPath, [DIST_CLI, 'generate', '--prompt', 'And', '--max-new-tokens', '100000', '--seed', '1'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const streaming = new Promise<void>((resolve) => child.stdout.on('data', (d) => {
    stdout += d;
    if (stdout.length > 40) resolve();
  }));
  await Promise.race([streaming, exit]); // a child that fails at once fails the test at once
  expect([stdout.length > 40, stderr]).toEqual([true, '']);
  child.kill('SIGINT');
  expect(await exit).toBe(130);
  expect(stderr).toMatch(/^entropix: interrupted after \d+ tokens\n/);
}, 60_000);

test("TF.js's Node banner stays off stderr: the cpu backend keeps the one-line summary and one-line errors", () => {
  const r = entropix(['generate', '--prompt', 'Amen', '--max-new-tokens', '3', '--seed', '1', '--backend', 'cpu']);
  expect(r.status).toBe(0);
  expect(r.stderr).not.toMatch(BANNER);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/3 tokens in .*cpu/);
  const bad = entropix(['generate', '--prompt', 'x'.repeat(300), '--backend', 'cpu']);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/^entropix: error: [^\n]*\n$/);
});
