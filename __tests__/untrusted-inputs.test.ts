// Issue 13, items 5, 7 and 8: a tokenizer or template that would hang or exhaust memory is
// refused first (each hostile case runs in a child process with a time and heap limit, so a
// regression fails instead of hanging the suite); the clarifying token is checked against the
// model; public functions refuse wrong types with typed errors.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EntropixSampler, tf, useBackend } from '../lib';
import { byteTokenizerConfig, byteTokenizerJson } from '../lib/text/byte-tokenizer';
import { createTextStream, tokenizerFromJson } from '../lib/text/tokenizer';
import { convertHfCheckpoint, loadHfCheckpoint, loadModel } from '../lib/node';
import { generate } from '../lib/decoding/generate';
import { expectRefused } from './helpers/tensors';
import { DIST_CLI, requireFreshDist } from './helpers/dist';

const ROOT = path.join(__dirname, '..');
const BUNDLED = path.join(ROOT, 'models', 'kjv-tiny');

let tmp: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-untrusted-'));
  await useBackend('wasm');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A model directory: the bundled model with some of its files replaced. */
function hostileModel(name: string, files: Record<string, unknown>): string {
  const dir = path.join(tmp, name);
  fs.cpSync(BUNDLED, dir, { recursive: true });
  for (const [file, json] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), JSON.stringify(json));
  return dir;
}

/** Runs a CommonJS snippet (TypeScript modules load through tsx) in a child with a heap cap and a time limit. */
function inChild(code: string, { timeoutMs = 20_000, heapMb = 256 } = {}) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, '--require', 'tsx/cjs', '-e', code],
    { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

/** Loads the tokenizer (and renders the chat template) of `dir` in a child; prints the refusal. */
function loadInChild(dir: string, chat = false) {
  return inChild(`
    const { loadTokenizer, applyChatTemplate } = require('./lib/text/tokenizer-files.ts');
    (async () => {
      try {
        const tok = await loadTokenizer(${JSON.stringify(dir)});
        tok.encode('a'.repeat(40) + 'b');
        if (${chat}) await applyChatTemplate(${JSON.stringify(dir)}, [{ role: 'user', content: 'hi' }]);
        console.log('LOADED');
      } catch (e) { console.log('REFUSED', e.name, e.code, e.message); }
    })();`);
}

describe('tokenizer and template denial of service (item 5)', () => {
  const tokenizer = byteTokenizerJson() as Record<string, unknown> & { added_tokens: object[] };

  test('an added token with id 1e9 is refused before the vocabulary is built', () => {
    const json = { ...tokenizer, added_tokens: [...tokenizer.added_tokens, { id: 1e9, content: '<x>', special: true }] };
    const r = loadInChild(hostileModel('big-id', { 'tokenizer.json': json }));
    expect(r.stdout).toMatch(/^REFUSED EntropixError INVALID_ARGUMENT .*id 1000000000/);
    expect(r.ms).toBeLessThan(10_000);
  });

  test('a pre-tokenizer regex with nested quantifiers is refused', () => {
    const json = {
      ...tokenizer,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false }, tokenizer.pre_tokenizer] },
    };
    const r = loadInChild(hostileModel('regex', { 'tokenizer.json': json }));
    expect(r.stdout).toMatch(/^REFUSED EntropixError INVALID_ARGUMENT .*nests unbounded quantifiers/);
  });

  test('a chat template looping 30M times is refused within its budget', () => {
    const config = { ...byteTokenizerConfig(256), chat_template: '{% for i in range(30000000) %}x{% endfor %}' };
    const r = loadInChild(hostileModel('template', { 'tokenizer_config.json': config }), true);
    expect(r.stdout).toMatch(/^REFUSED EntropixError INVALID_ARGUMENT .*range\(\)/);
  });

  test('the regex check admits the real pre-tokenizers (GPT-2, Llama 3) and spots star height 2', async () => {
    const { nestedQuantifier } = await import('../lib/text/guards');
    const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    expect(nestedQuantifier(gpt2)).toBeNull();
    expect(nestedQuantifier(llama3)).toBeNull();
    expect(nestedQuantifier('[(a+)]+')).toBeNull(); // a character class, not a group
    expect(nestedQuantifier('(a{1,3})+')).toBeNull(); // bounded inside
    expect(nestedQuantifier('(\\w+\\s?)*$')).toBe('(\\w+\\s?)*');
    expect(nestedQuantifier('((ab)*c)+')).toBe('((ab)*c)+');
    expect(nestedQuantifier('(?:x{2,})*')).toBe('(?:x{2,})*');
  });

  test('Ctrl-C ends the CLI while a slow tokenizer blocks it', async () => {
    // (a|a)+$ passes the static check (overlapping alternatives are not detected) and backtracks
    // exponentially: the process is blocked, and only the default SIGINT action can end it.
    const json = {
      ...tokenizer,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: '(a|a)+$' }, behavior: 'Isolated', invert: false }, tokenizer.pre_tokenizer] },
    };
    const dir = hostileModel('slow-regex', { 'tokenizer.json': json });
    requireFreshDist();
    const child = spawn(process.execPath, [DIST_CLI,
      'generate', '--model', dir, '--prompt', `${'a'.repeat(40)}b`, '--max-new-tokens', '2'], { cwd: ROOT, stdio: 'ignore' });
    const exit = new Promise<number>((resolve) => child.on('exit', () => resolve(Date.now())));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // the shipped CLI loads the model in ~0.4 s, then blocks encoding
    expect(child.exitCode).toBeNull(); // still blocked
    const sent = Date.now();
    child.kill('SIGINT');
    const ended = await exit;
    clearTimeout(killer);
    expect(ended - sent).toBeLessThan(3_000);
  }, 40_000);
});

test('the CLI ends a tokenizer that runs past its time budget by itself, with one line', async () => {
  const tokenizer = byteTokenizerJson() as Record<string, unknown>;
  const json = {
    ...tokenizer,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: '(a|a)+$' }, behavior: 'Isolated', invert: false }, tokenizer.pre_tokenizer] },
  };
  const dir = hostileModel('slow-regex-budget', { 'tokenizer.json': json });
  requireFreshDist();
  const started = Date.now();
  const r = spawnSync(process.execPath, [DIST_CLI,
    'generate', '--model', dir, '--prompt', `${'a'.repeat(40)}b`, '--max-new-tokens', '2'],
  { cwd: ROOT, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL', env: { ...process.env, ENTROPIX_TEXT_BUDGET_S: '2' } });
  expect(r.signal).toBe('SIGTERM'); // the watchdog's, not the test's SIGKILL
  expect(r.stderr).toMatch(/^entropix: error: the tokenizer or chat template of .* took longer than 2 s/);
  expect(r.stdout).toBe('');
  expect(Date.now() - started).toBeLessThan(20_000);
}, 40_000);

describe('the clarifying token meets the model (item 7)', () => {
  test('entropix.json with a clarifyingTokenId outside the vocabulary is refused at load', async () => {
    const entropix = JSON.parse(fs.readFileSync(path.join(BUNDLED, 'entropix.json'), 'utf8'));
    for (const id of [300, 3e9]) {
      const dir = hostileModel(`clarify-${id}`, { 'entropix.json': { ...entropix, sampler: { ...entropix.sampler, clarifyingTokenId: id } } });
      await expect(loadModel(dir)).rejects.toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT' });
    }
  });

  test('generate refuses a sampler whose clarifying token the model does not have; sample() refuses it for the logits', async () => {
    const model = await loadModel(BUNDLED);
    try {
      const before = tf.memory().numTensors;
      const sampler = new EntropixSampler({ clarifyingTokenId: model.config.vocabSize });
      const steps = generate(model, [[1, 2, 3]], { maxNewTokens: 2, sampler, seed: 1 });
      await expect(steps.next()).rejects.toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'options.sampler' });
      expect(tf.memory().numTensors).toBe(before);
      expect(() => new EntropixSampler({ clarifyingTokenId: 3e9 })).toThrow(/clarifyingTokenId/);
      const logits = tf.zeros([1, 8]) as tf.Tensor2D;
      const scores = tf.zeros([1, 2, 4]);
      expectRefused(() => new EntropixSampler({ clarifyingTokenId: 8 }).sample(logits, scores), 'INVALID_ARGUMENT', 'config.clarifyingTokenId');
      tf.dispose([logits, scores]);
    } finally {
      model.dispose();
    }
  });
});

describe('typed errors instead of raw TypeErrors (item 8)', () => {
  const typed = { name: 'EntropixError', code: 'INVALID_ARGUMENT' };
  test('model loaders and convert refuse non-paths and a null options', async () => {
    await expect(loadModel(123 as never)).rejects.toMatchObject(typed);
    await expect(loadModel(null as never)).rejects.toMatchObject(typed);
    await expect(loadHfCheckpoint(null as never)).rejects.toMatchObject(typed);
    await expect(convertHfCheckpoint(BUNDLED, path.join(tmp, 'never'), null as never)).rejects.toMatchObject(typed);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  test('decode and a text stream refuse ids that are not token ids', () => {
    const tok = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(256));
    for (const ids of [[1.5], [NaN], [-1], [1e9], 'ab']) {
      expect(() => tok.decode(ids as never)).toThrow(expect.objectContaining(typed));
      expect(() => createTextStream(tok).push(ids as never)).toThrow(expect.objectContaining(typed));
    }
    const stream = createTextStream(tok);
    expect(() => stream.push([NaN])).toThrow(expect.objectContaining(typed));
    expect(() => stream.push([1e9])).toThrow(expect.objectContaining(typed));
    expect(stream.push([72, 105]) + stream.flush()).toBe(tok.decode([72, 105])); // a refused push changes nothing
  });

  test('a duck-typed fake tensor is refused; a second tfjs-core copy\'s real tensors still work', () => {
    const sampler = new EntropixSampler();
    const fake = { shape: [1, 8], dtype: 'float32', dataId: {}, isDisposed: false, rank: 2, size: 8 };
    const scores = tf.zeros([1, 2, 4]);
    expectRefused(() => sampler.sample(fake as never, scores), 'INVALID_ARGUMENT', 'logits');
    let second: typeof tf | undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a second module instance needs require inside isolateModules
    jest.isolateModules(() => { second = require('@tensorflow/tfjs-core'); });
    const logits = second!.tensor2d([[0, 1, 2, 3, 4, 5, 6, 9]]);
    expect(second!.tensor2d).not.toBe(tf.tensor2d); // really another copy (sharing the global engine)
    const r = sampler.sample(logits as never, scores, { seed: 1 });
    expect(r.tokens.shape).toEqual([1]);
    tf.dispose([r.tokens, r.states, scores, logits as never, ...Object.values(r.metrics)]);
  });
});
