// Issue 13, items 1–4 and 6: a model directory is untrusted input. Its files are bounded before
// they are parsed, checked against each other before anything is built, and never followed
// outside the directory. Cases whose failure mode is a hang or an out-of-memory run in a child
// process with a time and heap limit.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseHfConfig } from '../lib/models/hf-config';
import { MAX_TENSORS_PER_FILE, readSafetensorsHeader } from '../lib/models/safetensors';

const ROOT = path.join(__dirname, '..');
const BUNDLED = path.join(ROOT, 'models', 'kjv-tiny');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-model-files-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs a CommonJS snippet (TypeScript modules load through tsx) in a child with a heap cap and a time limit. */
export function inChild(code: string, { timeoutMs = 20_000, heapMb = 256 } = {}) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, '--require', 'tsx/cjs', '-e', code],
    { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

describe('config.json bounds (item 1)', () => {
  const base = JSON.parse(fs.readFileSync(path.join(BUNDLED, 'config.json'), 'utf8'));
  test.each([
    ['num_hidden_layers', 1e9], ['num_hidden_layers', 1e7], ['head_dim', 2e9], ['vocab_size', 1e8],
    ['hidden_size', 1e6], ['intermediate_size', 1e7], ['max_position_embeddings', 1e9], ['num_attention_heads', 4096],
  ])('%s: %d is refused', (field, value) => {
    expect(() => parseHfConfig({ ...base, [field]: value }, 'config.json'))
      .toThrow(expect.objectContaining({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: field }));
  });

  test('the extremes of real models pass', () => {
    const big = {
      ...base, vocab_size: 262_144, num_hidden_layers: 126, hidden_size: 16_384, intermediate_size: 53_248,
      num_attention_heads: 128, num_key_value_heads: 8, head_dim: 256, max_position_embeddings: 10_000_000,
    };
    expect(parseHfConfig(big, 'config.json')).toMatchObject({ numLayers: 126, vocabSize: 262_144, maxPositions: 10_000_000 });
  });
});

describe('safetensors headers (item 6)', () => {
  test(`a header listing more than ${MAX_TENSORS_PER_FILE} tensors is refused before it is parsed`, async () => {
    const n = MAX_TENSORS_PER_FILE + 50_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const header = Buffer.from(`{${parts.join(',')}}`);
    const file = path.join(tmp, 'many.safetensors');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([length, header]));
    const parse = jest.spyOn(JSON, 'parse');
    try {
      await expect(readSafetensorsHeader(file)).rejects.toThrow(/more than 100000 tensors/);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});

/** A copy of the bundled model with `edit` applied to it. */
function modelCopy(name: string, edit: (dir: string) => void = () => undefined): string {
  const dir = path.join(tmp, name);
  fs.cpSync(BUNDLED, dir, { recursive: true });
  edit(dir);
  return dir;
}

describe('JSON side files are read under limits (item 3)', () => {
  // Every hostile directory is loaded in one child (a heap cap, a time limit): a hang or an
  // out-of-memory there fails these tests instead of the suite.
  const cases = new Map<string, string>(); // case -> directory
  let lines: Map<string, string> | undefined;
  let run: ReturnType<typeof inChild> | undefined;
  const outcome = (name: string): string => {
    if (!lines) {
      run = inChild(`
        const { loadModel, loadTokenizer } = require('./lib/node.ts');
        (async () => {
          for (const [name, dir] of ${JSON.stringify([...cases])}) {
            const said = [];
            for (const load of [loadModel, loadTokenizer]) {
              try { await load(dir); said.push('LOADED'); } catch (e) { said.push(['REFUSED', e.name, e.code, e.message].join(' ')); }
            }
            console.log(name + '\t' + said.join(' | '));
          }
        })();`, { timeoutMs: 30_000, heapMb: 200 });
      lines = new Map(run.stdout.trim().split('\n').map((l) => [l.split('\t')[0]!, l.split('\t')[1] ?? ''] as [string, string]));
    }
    expect(run!.signal).toBeNull(); // not killed at the time limit
    return lines.get(name) ?? '(no answer)';
  };
  const files = ['model.json', 'config.json', 'entropix.json', 'tokenizer.json'];
  beforeAll(() => {
    for (const file of files) {
      cases.set(`zero-${file}`, modelCopy(`zero-${file}`, (d) => { fs.rmSync(path.join(d, file)); fs.symlinkSync('/dev/zero', path.join(d, file)); }));
    }
    for (const file of ['model.json', 'tokenizer.json']) {
      cases.set(`fifo-${file}`, modelCopy(`fifo-${file}`, (d) => {
        fs.rmSync(path.join(d, file));
        expect(spawnSync('mkfifo', [path.join(d, file)]).status).toBe(0);
      }));
    }
    cases.set('huge-model-json', modelCopy('huge-model-json', (d) => {
      const fd = fs.openSync(path.join(d, 'model.json'), 'w');
      fs.ftruncateSync(fd, 70 << 20); // sparse: no disk
      fs.closeSync(fd);
    }));
  });

  test.each(files)('%s as a link to /dev/zero is refused without reading it', (file) => {
    expect(outcome(`zero-${file}`)).toMatch(new RegExp(`REFUSED EntropixError INVALID_ARGUMENT .*${file.replace('.', '\\.')}.*(outside|not a regular file)`));
  });

  test.each(['model.json', 'tokenizer.json'])('%s as a FIFO is refused, not waited on', (file) => {
    expect(outcome(`fifo-${file}`)).toMatch(/REFUSED EntropixError INVALID_ARGUMENT .*not a regular file/);
  });

  test('a 70 MB model.json is refused by its size', () => {
    expect(outcome('huge-model-json')).toMatch(/^REFUSED EntropixError INVALID_ARGUMENT .*model\.json: is \d+ bytes, more than/);
  });

  test('a link inside the directory is followed; a Hugging Face cache snapshot links into its blobs', async () => {
    const { loadTokenizer } = await import('../lib/node');
    const repo = path.join(tmp, 'hub', 'models--org--tiny');
    const snapshot = path.join(repo, 'snapshots', 'abc123');
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.mkdirSync(snapshot, { recursive: true });
    for (const file of fs.readdirSync(BUNDLED)) {
      fs.copyFileSync(path.join(BUNDLED, file), path.join(repo, 'blobs', `blob-${file}`));
      fs.symlinkSync(path.join('..', '..', 'blobs', `blob-${file}`), path.join(snapshot, file));
    }
    await expect(loadTokenizer(snapshot)).resolves.toMatchObject({ vocabSize: expect.any(Number) });
    fs.rmSync(path.join(snapshot, 'tokenizer.json'));
    fs.symlinkSync(path.join(BUNDLED, 'tokenizer.json'), path.join(snapshot, 'tokenizer.json')); // leaves the repo folder
    await expect(loadTokenizer(snapshot)).rejects.toThrow(/symbolic link .* outside/);
  });
});

describe('convert checks what it writes (item 4)', () => {
  let src: string;
  beforeAll(async () => {
    const { tf } = await import('../lib');
    const { randomModel, SHAPE } = await import('./helpers/llama-reference');
    const { writeCheckpoint } = await import('./helpers/hf-writer');
    const { arrays, weights } = randomModel(SHAPE, 2);
    tf.dispose(weights as unknown as import('../lib').tf.TensorContainer);
    src = path.join(tmp, 'hf-src');
    await writeCheckpoint(src, arrays);
    fs.copyFileSync(path.join(BUNDLED, 'tokenizer.json'), path.join(src, 'tokenizer.json'));
  });

  const source = (name: string, edit: (dir: string) => void) => {
    const dir = path.join(tmp, name);
    fs.cpSync(src, dir, { recursive: true });
    edit(dir);
    return dir;
  };

  test.each([
    ['a generation_config.json linking outside', (d: string) => fs.symlinkSync('/etc/passwd', path.join(d, 'generation_config.json')), /outside/],
    ['a tokenizer.json that is not JSON', (d: string) => fs.writeFileSync(path.join(d, 'tokenizer.json'), 'not json'), /not valid JSON/],
    ['an entropix.json with a bad sampler key', (d: string) => fs.writeFileSync(path.join(d, 'entropix.json'), '{"sampler":{"temprature":1}}'), /temprature/],
    ['an entropix.json with eos 999999', (d: string) => fs.writeFileSync(path.join(d, 'entropix.json'), '{"eosTokenIds":[999999]}'), /eosTokenIds/],
  ])('refuses %s before any work, writing nothing', async (name, edit, message) => {
    const { convertHfCheckpoint } = await import('../lib/node');
    const dir = source(`src-${name.replace(/\W+/g, '-')}`, edit);
    const parent = fs.mkdtempSync(path.join(tmp, 'out-'));
    let progress = 0;
    await expect(convertHfCheckpoint(dir, path.join(parent, 'out'), { onProgress: () => { progress++; } }))
      .rejects.toMatchObject({ name: 'EntropixError', message: expect.stringMatching(message) });
    expect(progress).toBe(0);
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  test('the output holds what was checked, never a linked file\'s bytes', async () => {
    const { convertHfCheckpoint } = await import('../lib/node');
    const dir = source('src-ok', () => undefined);
    const out = path.join(tmp, 'converted-ok');
    await convertHfCheckpoint(dir, out);
    for (const file of fs.readdirSync(out)) expect(fs.lstatSync(path.join(out, file)).isSymbolicLink()).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8'))).toEqual(
      JSON.parse(fs.readFileSync(path.join(BUNDLED, 'tokenizer.json'), 'utf8')));
  });
});

describe('config.json and the graph must agree; broken graphs do not load (items 1 and 2)', () => {
  const config = () => JSON.parse(fs.readFileSync(path.join(BUNDLED, 'config.json'), 'utf8'));
  const modelJson = () => JSON.parse(fs.readFileSync(path.join(BUNDLED, 'model.json'), 'utf8'));
  const withFile = (name: string, file: string, json: unknown) =>
    modelCopy(name, (d) => fs.writeFileSync(path.join(d, file), JSON.stringify(json)));

  test('num_hidden_layers 1e9 is refused at once, not a heap exhaustion', () => {
    const dir = withFile('layers-1e9', 'config.json', { ...config(), num_hidden_layers: 1e9 });
    const r = inChild(`require('./lib/node.ts').loadModel(${JSON.stringify(dir)})
      .then(() => console.log('LOADED'), (e) => console.log('REFUSED', e.name, e.code, e.message));`, { timeoutMs: 20_000, heapMb: 256 });
    expect(r.signal).toBeNull();
    expect(r.stdout).toMatch(/^REFUSED EntropixError INVALID_ARGUMENT .*num_hidden_layers/);
  });

  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded inside the test, after the suite's setup
  const { tf } = require('../lib') as typeof import('../lib');
  const refusedAtLoad = async (dir: string, message: RegExp) => {
    const { loadModel } = await import('../lib/node');
    const before = tf.memory().numTensors;
    const e = await loadModel(dir).then(() => null, (x: unknown) => x);
    expect(e).toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT' });
    expect((e as Error).message).toMatch(message);
    expect(tf.memory().numTensors).toBe(before);
  };

  test.each([
    ['fewer layers than the graph', { num_hidden_layers: 2 }, /the graph has 4 layers .* num_hidden_layers 2/],
    ['another head_dim', { head_dim: 64 }, /head size 32, .*head_dim 64/],
    ['other kv heads', { num_key_value_heads: 2 }, /4 kv heads, .*num_key_value_heads 2/],
    ['another vocabulary', { vocab_size: 300 }, /embedding is \[257,256\], .*\[300, 256\]/],
  ])('config.json with %s is refused before anything is built', async (name, edit, message) => {
    await refusedAtLoad(withFile(`config-${name.replace(/\W+/g, '-')}`, 'config.json', { ...config(), ...edit }), message);
  });

  type Node = { name: string; op: string; input?: string[] };
  const editGraph = (edit: (nodes: Node[]) => Node[]) => {
    const m = modelJson();
    m.modelTopology.node = edit(m.modelTopology.node);
    return m;
  };
  test.each([
    ['an unknown op', (ns: Node[]) => ns.map((n) => (n.name === 'MatMul_16' ? { ...n, op: 'FrobnicateV9' } : n)), /op 'FrobnicateV9'/],
    ['a cycle', (ns: Node[]) => ns.map((n) => (n.name === 'MatMul_16' ? { ...n, input: ['logits', ...(n.input ?? []).slice(1)] } : n)), /cycle/],
    ['a node reading itself', (ns: Node[]) => ns.map((n) => (n.name === 'MatMul_16' ? { ...n, input: ['MatMul_16', ...(n.input ?? []).slice(1)] } : n)), /cycle/],
    ['no logits output', (ns: Node[]) => ns.filter((n) => n.name !== 'logits'), /no output 'logits'/],
    ['an input naming no node', (ns: Node[]) => ns.map((n) => (n.name === 'logits' ? { ...n, input: ['nowhere'] } : n)), /nowhere.*, which is no node/],
  ])('a graph with %s is refused at load', async (name, edit, message) => {
    await refusedAtLoad(withFile(`graph-${name.replace(/\W+/g, '-')}`, 'model.json', editGraph(edit)), message);
  });
});

describe('permission problems say so (item 3)', () => {
  // Root reads everything, so as root the loads run in a child as 'nobody'.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  test('an unreadable directory, tokenizer or shard is reported as permission denied', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-perm-'));
    fs.chmodSync(base, 0o755);
    try {
      const copy = (name: string, edit: (d: string) => void) => {
        const d = path.join(base, name);
        fs.cpSync(BUNDLED, d, { recursive: true });
        spawnSync('chmod', ['-R', 'a+rX', d]);
        edit(d);
        return d;
      };
      const dirs = {
        dir: copy('dir', (d) => fs.chmodSync(d, 0o000)),
        tokenizer: copy('tokenizer', (d) => fs.chmodSync(path.join(d, 'tokenizer.json'), 0o000)),
        shard: copy('shard', (d) => fs.chmodSync(path.join(d, 'group1-shard1of2.bin'), 0o000)),
      };
      const code = `
        const { loadModel, loadTokenizer } = require('./lib/node.ts');
        (async () => {
          for (const [name, dir, load] of [['dir', ${JSON.stringify(dirs.dir)}, loadModel], ['tokenizer', ${JSON.stringify(dirs.tokenizer)}, loadTokenizer], ['shard', ${JSON.stringify(dirs.shard)}, loadModel]]) {
            try { await load(dir); console.log(name + '\\tLOADED'); } catch (e) { console.log(name + '\\t' + e.name + ' ' + e.message); }
          }
        })();`;
      const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', code],
        { cwd: ROOT, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL', env: { ...process.env, HOME: base }, ...asUser });
      if (!r.stdout) throw new Error(r.stderr);
      const said = new Map(r.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]));
      expect(said.get('dir')).toMatch(/^EntropixError .*permission denied/);
      expect(said.get('tokenizer')).toMatch(/^EntropixError .*tokenizer\.json.*permission denied/);
      expect(said.get('shard')).toMatch(/^EntropixError .*group1-shard1of2\.bin.*permission denied/);
    } finally {
      spawnSync('chmod', ['-R', 'u+rwX', base]);
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
