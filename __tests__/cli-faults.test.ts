// The command line under faults (issue 13, items 9–14): usage errors, outputs that cannot or must
// not be written, a reader that goes away, Ctrl-C, and memory that stays bounded.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../lib';
import { TokenRecord } from '../lib/cli/token-record';
import { SamplerState } from '../lib/sampling/regimes';
import { randomModel, SHAPE } from './helpers/llama-reference';
import { writeCheckpoint } from './helpers/hf-writer';
import { DIST_CLI, ROOT, requireFreshDist } from './helpers/dist';

const BUNDLED = path.join(ROOT, 'models', 'kjv-tiny');
const CLI = [DIST_CLI]; // the shipped command, run with node

function entropix(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string;
let model: string; // a copy of the bundled model, so a test that fails cannot damage the real one
beforeAll(() => {
  requireFreshDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-cli-faults-'));
  model = path.join(tmp, 'model');
  fs.cpSync(BUNDLED, model, { recursive: true });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `fn` with process.exit, stdout and stderr captured: the first exit code and what was written. */
async function captured(fn: () => Promise<unknown>): Promise<{ exit: number | undefined; stdout: string; stderr: string; error: unknown }> {
  let exit: number | undefined;
  let stdout = '';
  let stderr = '';
  let stderrAtExit: string | undefined;
  const exitSpy = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    if (exit === undefined) [exit, stderrAtExit] = [code, stderr];
    throw new Error(`exit ${code}`);
  }) as never);
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation(((s: string) => { stdout += s; return true; }) as never);
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(((s: string) => { stderr += s; return true; }) as never);
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  } finally {
    exitSpy.mockRestore();
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
  return { exit, stdout, stderr: stderrAtExit ?? stderr, error };
}

describe('usage errors exit 2 before any output', () => {
  test.each([
    ['--trace with no value', ['--trace']],
    ['--plot with no value', ['--plot']],
    ['--max-new-tokens with no value', ['--max-new-tokens']],
    ['--seed with no value', ['--seed']],
    ['--prompt with no value', ['--prompt']],
    ['a repeated --max-new-tokens', ['--max-new-tokens', '3', '--max-new-tokens', '4']],
    ['--seed abc', ['--seed', 'abc']],
    ['--temperature abc', ['--temperature', 'abc']],
  ])('%s', async (_, extra) => {
    const { main } = await import('../lib/cli/main');
    const r = await captured(() => main(['generate', '--model', model, '--prompt', 'And', ...extra]));
    expect(r.exit).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^entropix: /);
    expect(r.stderr).not.toMatch(/error/);
  });
});

describe('outputs are checked before generating', () => {
  const modelJson = () => fs.readFileSync(path.join(model, 'model.json'), 'utf8');
  test.each([
    ['a directory', () => ({ trace: tmp }), /it is a directory/],
    ['the same path twice', () => ({ trace: path.join(tmp, 'x'), plot: path.join(tmp, 'x') }), /--trace writes the same file/],
    ['a file of the model directory', () => ({ trace: path.join(model, 'model.json') }), /inside the model directory/],
    ['a new file in the model directory', () => ({ plot: path.join(model, 'plot.svg') }), /inside the model directory/],
    ['a device that is full', () => ({ trace: '/dev/full' }), /not a regular file/],
    ['a missing directory', () => ({ trace: path.join(tmp, 'no', 'such', 't.json') }), /does not exist/],
  ])('refuses %s with a typed error and no output', async (_, outputs, message) => {
    const { runGenerate } = await import('../lib/cli/generate-command');
    const before = modelJson();
    const r = await captured(() => runGenerate({
      prompts: ['And'], model, backend: 'wasm', maxNewTokens: 3, sampler: 'entropix', chat: false, color: false, quiet: true, ...outputs(),
    }));
    expect(r.error).toMatchObject({ name: 'EntropixError', message: expect.stringMatching(message) });
    expect(r.stdout).toBe('');
    expect(modelJson()).toBe(before);
    expect(fs.existsSync(path.join(model, 'plot.svg'))).toBe(false);
  });

  test('an unwritable directory is refused before generating', () => {
    if (process.getuid?.() === 0) return; // root writes everywhere: nothing to refuse
    const dir = path.join(tmp, 'readonly');
    fs.mkdirSync(dir, { mode: 0o500 });
    const r = entropix(['generate', '--model', model, '--prompt', 'And', '--max-new-tokens', '3', '--trace', path.join(dir, 't.json')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not writable/);
  });

  test('a trace is written atomically: no temporary file is left, an existing one is replaced whole', () => {
    const dir = path.join(tmp, 'atomic');
    fs.mkdirSync(dir);
    const trace = path.join(dir, 't.json');
    fs.writeFileSync(trace, 'old');
    const r = entropix(['generate', '--model', model, '--prompt', 'And', '--max-new-tokens', '3', '--seed', '1', '--quiet', '--trace', trace]);
    expect(r.status).toBe(0);
    expect(JSON.parse(fs.readFileSync(trace, 'utf8')).tokens).toHaveLength(3);
    expect(fs.readdirSync(dir)).toEqual(['t.json']);
  });
});

/** Spawns a generation and resolves once `chars` characters of stdout arrived. */
function startGeneration(args: string[], chars: number) {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<void>((resolve) => child.stdout.on('data', (d: string) => {
    stdout += d;
    if (stdout.length >= chars) resolve();
  }));
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  void exit.then(() => clearTimeout(timer));
  return { child, exit, started, out: () => stdout, err: () => stderr };
}

test('a reader that goes away (| head -c 10) stops the generation quietly', async () => {
  const g = startGeneration(['generate', '--model', model, '--prompt', 'And', '--max-new-tokens', '100000', '--seed', '1'], 10);
  await g.started;
  g.child.stdout.destroy();
  expect(await g.exit).toBe(0);
  expect(g.err()).toBe('');
}, 45_000);

test('Ctrl-C exits 130 with a newline after the text, and writes the trace and plot so far, marked aborted', async () => {
  const trace = path.join(tmp, 'aborted.json');
  const plot = path.join(tmp, 'aborted.svg');
  const g = startGeneration(['generate', '--model', model, '--prompt', 'And', '--max-new-tokens', '100000', '--seed', '1',
    '--trace', trace, '--plot', plot], 40);
  await g.started;
  g.child.kill('SIGINT');
  expect(await g.exit).toBe(130);
  expect(g.out().endsWith('\n')).toBe(true);
  expect(g.err()).toMatch(/^entropix: interrupted after \d+ tokens\n/);
  const t = JSON.parse(fs.readFileSync(trace, 'utf8'));
  expect(t.aborted).toBe(true);
  expect(t.tokens.length).toBeGreaterThan(0);
  expect(g.out()).toBe(`And${t.tokens.map((x: { text: string }) => x.text).join('')}\n`);
  expect(fs.readFileSync(plot, 'utf8')).toMatch(/aborted/);
}, 45_000);

test('without --trace or --plot no token is kept; the regime counts still are', () => {
  const token = (regime: 'flowing' | 'adaptive') => ({
    row: 0, step: 0, tokenId: 1, text: 'a', state: SamplerState.Flowing, regime, logprob: 0,
    entropy: 0, varentropy: 0, attnEntropy: 0, attnVarentropy: 0, agreement: 0, interactionStrength: 0,
  });
  const lean = new TokenRecord(false);
  const full = new TokenRecord(true);
  for (let i = 0; i < 10_000; i++) {
    lean.add(token(i % 4 === 0 ? 'adaptive' : 'flowing'));
    full.add(token('flowing'));
  }
  expect(lean.tokens).toHaveLength(0);
  expect(lean.generated).toBe(10_000);
  expect(lean.counts).toMatchObject({ adaptive: 2500, flowing: 7500, treading: 0 });
  expect(full.tokens).toHaveLength(10_000);
});

describe('convert under interruption', () => {
  let src: string;
  beforeAll(async () => {
    const { arrays, weights } = randomModel(SHAPE, 2);
    tf.dispose(weights as unknown as tf.TensorContainer);
    src = path.join(tmp, 'hf');
    await writeCheckpoint(src, arrays);
  });

  const hidden = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.'));

  test('an abort during conversion removes every staging directory and leaves no output', async () => {
    const { convertHfCheckpoint } = await import('../lib/node');
    const parent = fs.mkdtempSync(path.join(tmp, 'abort-'));
    const out = path.join(parent, 'out');
    const controller = new AbortController();
    await expect(convertHfCheckpoint(src, out, {
      signal: controller.signal, onProgress: (done, total) => { if (done === Math.ceil(total / 2)) controller.abort(); },
    })).rejects.toMatchObject({ name: 'EntropixError', code: 'ABORTED' });
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  test('Ctrl-C during `entropix convert` exits 130 and leaves nothing next to the output', async () => {
    const parent = fs.mkdtempSync(path.join(tmp, 'sigterm-'));
    const out = path.join(parent, 'out');
    const child = spawn(process.execPath, [...CLI, 'convert', src, out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stderr.on('data', (d) => {
      stderr += d;
      if (/\d+%/.test(stderr)) resolve();
    }));
    child.kill('SIGINT');
    const code = await exit;
    // A conversion this small may finish before the signal lands; then the model must be complete.
    if (code === 0) expect(fs.existsSync(path.join(out, 'model.json'))).toBe(true);
    else {
      expect(code).toBe(130);
      expect(fs.existsSync(out)).toBe(false);
    }
    expect(hidden(parent)).toEqual([]);
  }, 45_000);
});
