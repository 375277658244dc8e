// The wasm matmul module (lib/wasm): its assembler against wabt's bytes, its products against
// tf.matMul, and both models under weights: 'packed' running their weight matrices in it (no
// tensor copy); the default stays tf.matMul.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EntropixError, tf, useBackend } from '../lib';
import type { WeightsOption } from '../lib';
import { convertHfCheckpoint, loadHfCheckpoint, loadModel } from '../lib/node';
import { checkSteps, golden, MODELS } from './helpers/golden';
import { assembleWat } from '../scripts/wat';
import { GEMV_WASM } from '../benchmarks/peer/gemv';
import { MATMUL_WASM_HEX } from '../lib/wasm/matmul-wasm';
import { ATTENTION_WASM_HEX } from '../lib/wasm/attention-wasm';
import { batchedMatMul } from '../lib/wasm/attention';
import { PackedMatrices, PackedMatrix, packedBytes } from '../lib/wasm/packed-matrices';
import { rng } from './helpers/paths';

const BUNDLED = path.join(__dirname, '..', 'models', 'kjv-tiny');

describe('the wat assembler', () => {
  test('encodes benchmarks/peer/gemv.wat byte for byte as wabt 1.0.37 did', () => {
    const bytes = assembleWat(fs.readFileSync(path.join(__dirname, '..', 'benchmarks', 'peer', 'gemv.wat'), 'utf8'));
    expect(Buffer.from(bytes).toString('hex')).toBe(GEMV_WASM);
  });

  test('lib/wasm/matmul-wasm.ts is matmul.wat assembled (npm run build:wasm)', () => {
    const bytes = assembleWat(fs.readFileSync(path.join(__dirname, '..', 'lib', 'wasm', 'matmul.wat'), 'utf8'));
    expect(Buffer.from(bytes).toString('hex')).toBe(MATMUL_WASM_HEX);
  });

  test('lib/wasm/attention-wasm.ts is attention.wat assembled (npm run build:wasm)', () => {
    const bytes = assembleWat(fs.readFileSync(path.join(__dirname, '..', 'lib', 'wasm', 'attention.wat'), 'utf8'));
    expect(Buffer.from(bytes).toString('hex')).toBe(ATTENTION_WASM_HEX);
  });

  // Opcodes wabt's reference module does not use, by the SIMD and core specs' numbers: select 0x1b,
  // v128.load32_splat 0xfd 0x09 with memarg (align 2, offset).
  test('encodes select and v128.load32_splat by the spec', () => {
    const hex = (body: string) => Buffer.from(assembleWat(`(module (import "env" "memory" (memory 1)) (func (param i32) ${body}))`)).toString('hex');
    expect(hex('(drop (select (local.get 0) (i32.const 1) (local.get 0)))')).toMatch(/2000410120001b1a0b$/);
    expect(hex('(drop (v128.load32_splat offset=4 (local.get 0)))')).toMatch(/2000fd0902041a0b$/);
    const bytes = assembleWat(`(module (import "env" "memory" (memory 1))
      (func (export "f") (param i32 i32) (v128.store (local.get 1) (v128.load32_splat offset=4 (local.get 0)))))`);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const f = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.f as (x: number, y: number) => void;
    new Float32Array(memory.buffer).set([1, 2.5, 3], 0);
    f(0, 16);
    expect(Array.from(new Float32Array(memory.buffer, 16, 4))).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  test('refuses what it does not read', () => {
    expect(() => assembleWat('(module (func (i64.popcnt (local.get 0))))')).toThrow(/unknown/);
    expect(() => assembleWat('(module (func')).toThrow(/unbalanced/);
    expect(() => assembleWat('(module))')).toThrow(/unbalanced/);
  });
});

describe('PackedMatrices on wasm', () => {
  beforeAll(() => useBackend('wasm'));

  const random = (n: number, seed: number) => {
    const next = rng(seed);
    return Float32Array.from({ length: n }, () => next() * 2 - 1);
  };
  const expectNear = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5) => {
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
    expect(worst).toBeLessThan(tol);
  };

  // K not a multiple of 4 and N not of 16 exercise the zero padding; M = 1 the one-row kernel
  // (odd and even panel counts), M = 2, 3, 4, 9 the many-row kernel (odd and even row counts).
  test.each([[1, 37, 50], [3, 64, 16], [4, 36, 33], [9, 130, 70], [2, 20, 200], [1, 8, 96]])('x [%i, %i] · W [K, %i] equals tf.matMul', (m, k, n) => {
    const w = random(k * n, k + n);
    const x = tf.tensor2d(random(m * k, m), [m, k]);
    const wt = tf.tensor2d(w, [k, n]);
    const packed = new PackedMatrices(2 * packedBytes(k, n));
    // The same matrix given row-major ([in, out], a graph's) and as HF's [out, in] parts (two of them).
    const byRows = packed.packRows(w, k, n);
    const transposed = (tf.transpose(wt).dataSync() as Float32Array);
    const cut = Math.floor(n / 3) * k;
    const byColumns = packed.packColumns([transposed.slice(0, cut), transposed.slice(cut)], k);
    expect(byColumns.shape).toEqual([k, n]);
    const want = tf.matMul(x, wt).dataSync();
    const before = tf.memory().numTensors;
    for (const matrix of [byRows, byColumns]) {
      const y = packed.matMul(x, matrix);
      expect(y.shape).toEqual([m, n]);
      expectNear(y.dataSync(), want);
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    // Columns as rows: the tied head's embedding lookup.
    const ids = tf.tensor1d([0, n - 1, 5 % n], 'int32');
    const cols = packed.columns(byRows, ids);
    expect(Array.from(cols.dataSync())).toEqual(Array.from(tf.transpose(tf.gather(wt, ids, 1)).dataSync()));
    packed.dispose();
    expect(packed.disposed).toBe(true);
    expect(() => packed.matMul(x, byRows)).toThrow(/disposed/);
    tf.dispose([x, wt, ids, cols]);
  });

  // The rows kernel (gemm, rows in pairs, an odd last row paired with itself) for every row count
  // from 1 (gemv) to 13, on K and N that need padding (K = 4i + 3, N = 16j + 5) and a few panels.
  test.each([[45, 53], [131, 37]])('x [1..13, %i] · W [K, %i] equals tf.matMul for each row count', (k, n) => {
    const w = random(k * n, 7 * k + n);
    const wt = tf.tensor2d(w, [k, n]);
    const packed = new PackedMatrices(packedBytes(k, n));
    const matrix = packed.packRows(w, k, n);
    for (let m = 1; m <= 13; m++) {
      const x = tf.tensor2d(random(m * k, 100 + m), [m, k]);
      const y = packed.matMul(x, matrix);
      expect(y.shape).toEqual([m, n]);
      expectNear(y.dataSync(), tf.matMul(x, wt).dataSync());
      // Each row alone gives the same as within the product (no row leaks into another).
      const last = tf.slice(x, [m - 1, 0], [1, k]);
      const alone = packed.matMul(last, matrix);
      expectNear(alone.dataSync(), y.dataSync().slice((m - 1) * n));
      tf.dispose([x, y, last, alone]);
    }
    packed.dispose();
    wt.dispose();
  });

  // The kernel itself, in a memory of its own: y [m, np] and nothing past it is written (an odd
  // last row's pair must not reach row m), and y equals the sums in double precision.
  test('gemm writes y [m, np] and nothing else, for m = 1 .. 9', () => {
    const [kp, np] = [12, 32];
    const memory = new WebAssembly.Memory({ initial: 1 });
    const gemm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(MATMUL_WASM_HEX, 'hex')), { env: { memory } })
      .exports.gemm as (x: number, w: number, y: number, m: number, kp: number, np: number) => void;
    const f32 = new Float32Array(memory.buffer);
    const w = random(kp * np, 3); // packed: panel p, row i, column j at (p * kp + i) * 16 + j
    f32.set(w, 0);
    for (let m = 1; m <= 9; m++) {
      const xAt = kp * np;
      const yAt = xAt + m * kp;
      const x = random(m * kp, m);
      f32.set(x, xAt);
      f32.fill(-7, yAt, yAt + (m + 2) * np); // y, then two rows' worth past it
      gemm(4 * xAt, 0, 4 * yAt, m, kp, np);
      const want: number[] = [];
      for (let r = 0; r < m; r++) {
        for (let c = 0; c < np; c++) {
          let sum = 0;
          for (let i = 0; i < kp; i++) sum += x[r * kp + i]! * w[((c >> 4) * kp + i) * 16 + (c & 15)]!;
          want.push(sum);
        }
      }
      expectNear(f32.subarray(yAt, yAt + m * np), want);
      expect(Array.from(f32.subarray(yAt + m * np, yAt + (m + 2) * np))).toEqual(new Array(2 * np).fill(-7));
    }
  });

  test('refuses a product of the wrong shape or with another model\'s matrix', () => {
    const a = new PackedMatrices(packedBytes(8, 16));
    const b = new PackedMatrices(packedBytes(8, 16));
    const w = a.packRows(new Float32Array(8 * 16), 8, 16);
    const x = tf.zeros([1, 7]);
    expect(() => a.matMul(x, w)).toThrow(/matMul: \[1,7\]/);
    expect(() => b.matMul(x, w)).toThrow(/another model/);
    x.dispose();
  });
});

describe('batchedMatMul on wasm (attention.wat on the tfjs-wasm heap)', () => {
  beforeAll(() => useBackend('wasm'));

  const random = (shape: number[], seed: number) => {
    const next = rng(seed);
    return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1), shape);
  };
  const worst = (got: tf.Tensor, want: tf.Tensor) => {
    const g = got.dataSync();
    const w = want.dataSync();
    let d = 0;
    for (let i = 0; i < w.length; i++) d = Math.max(d, Math.abs(g[i]! - w[i]!) / (1 + Math.abs(w[i]!)));
    return d;
  };

  // Decode's q·kᵀ and p·v (3 kv heads, 3 query rows each, S = 77), a prompt's rotary product,
  // batch 2 with head dims 8 and 16; then shapes the kernels leave to tf.matMul (shared dim 12,
  // columns 24, batch 1 without a transpose: XNNPACK's case).
  test.each([
    [[1, 3, 3, 64], [1, 3, 77, 64], true, true], [[1, 3, 3, 77], [1, 3, 77, 64], false, true],
    [[2, 2, 10, 8], [2, 2, 13, 8], true, true], [[2, 2, 10, 13], [2, 2, 13, 16], false, true],
    [[1, 16, 12, 64], [1, 16, 64, 64], false, true], [[1, 3, 5, 12], [1, 3, 7, 12], true, false],
    [[1, 3, 5, 7], [1, 3, 7, 24], false, false], [[1, 1, 4, 7], [1, 1, 7, 32], false, false],
  ] as [number[], number[], boolean, boolean][])('a %j · b %j (transposeB %s; in attention.wat: %s) equals tf.matMul', async (as, bs, transposeB, inWasm) => {
    const a = random(as, as[3]!);
    const b = random(bs, bs[2]!);
    const want = tf.matMul(a, b, false, transposeB);
    const before = tf.memory().numTensors;
    let got: tf.Tensor | undefined;
    const { kernels } = await tf.profile(() => {
      got = batchedMatMul(a, b, transposeB);
      return [];
    });
    expect(kernels.some((k) => k.name === 'BatchMatMul')).toBe(!inWasm);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(got!.shape).toEqual(want.shape);
    expect(worst(got!, want)).toBeLessThan(1e-5); // float32 sums in another order
    // Inside a tidy the product is tracked like any other tensor.
    const kept = tf.tidy(() => tf.add(batchedMatMul(a, b, transposeB), 0));
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([a, b, want, got!, kept]);
  });

  test('on another backend, or with operands from another backend, it is tf.matMul', async () => {
    await useBackend('cpu');
    try {
      const a = random([1, 3, 3, 64], 1);
      const b = random([1, 3, 9, 64], 2);
      const [got, want] = [batchedMatMul(a, b, true), tf.matMul(a, b, false, true)];
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      tf.dispose([got, want]);
      // Operands made on cpu, used after the switch to wasm: moved by tf.matMul, not misread.
      await useBackend('wasm');
      const [moved, ref] = [batchedMatMul(a, b, true), tf.matMul(a, b, false, true)];
      expect(worst(moved, ref)).toBeLessThan(1e-5);
      tf.dispose([a, b, moved, ref]);
    } finally {
      await useBackend('wasm');
    }
  });
});

describe("weights: 'packed' keeps a model's matrices outside TF.js", () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-packed-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('the bundled converted model (float16 shards), by default: tensors hold only the rest; logits equal the tf.matMul path', async () => {
    const run = async (options: WeightsOption) => {
      const bytes0 = tf.memory().numBytes;
      const model = await loadModel(BUNDLED, options);
      const held = tf.memory().numBytes - bytes0;
      const prompt = tf.tensor2d([[1, 5, 9, 20, 33, 7]], undefined, 'int32');
      const step = tf.tensor2d([[3]], undefined, 'int32');
      const first = model.forward(prompt);
      const next = model.forward(step, first.cache);
      const logits = [await first.logits.data(), await next.logits.data()];
      tf.dispose([prompt, step, first.logits, first.attentionScores, next.logits, next.attentionScores]);
      next.cache.dispose();
      model.dispose();
      expect(tf.memory().numBytes).toBe(bytes0);
      return { held, logits };
    };
    const packed = await run({});
    const plain = await run({ weights: 'tfjs' });
    // kjv-tiny's matrices are 12 MB as float32; only the embedding and the norms stay tensors.
    expect(plain.held).toBeGreaterThan(10e6);
    expect(packed.held).toBeLessThan(0.05 * plain.held);
    packed.logits.forEach((l, i) => expectCloseLogits(l, plain.logits[i]!));
  });

  // GPT-2's Conv1D matrices are [in, out] already (packed by rows) and its head is tied (packed by
  // columns, the embedding gathered from them): transformers' logits through the cache.
  test('GPT-2, native and converted: transformers\' logits and attention', async () => {
    const g = golden('gpt2');
    const bytes0 = tf.memory().numBytes;
    const native = await loadHfCheckpoint(path.join(MODELS, 'gpt2')); // packed: the default on wasm
    try {
      // 172 KB of matrices as float32 (wte, tied, among them); wpe, the norms and biases (11 KB) stay tensors.
      expect(tf.memory().numBytes - bytes0).toBeLessThan(16e3);
      await checkSteps(native, g, 'gpt2 native packed');
    } finally {
      native.dispose();
    }
    const out = path.join(root, 'gpt2');
    await convertHfCheckpoint(path.join(MODELS, 'gpt2'), out);
    const converted = await loadModel(out, { weights: 'packed' });
    try {
      await checkSteps(converted, g, 'gpt2 converted packed');
    } finally {
      converted.dispose();
    }
  });

  // A bfloat16 checkpoint widens exactly to float32, so its matrices take bfloat16 panels; a
  // float32 one's stay float32. Both still give transformers' outputs through the cache.
  test.each([['gpt2-bf16-sharded', true], ['gpt2', false]] as const)('%s: bfloat16 panels %s, native and converted; transformers\' logits', async (name, bf16) => {
    const g = golden(name);
    const panels = (m: unknown) => [...m instanceof Map ? m.values() : []].map((p: PackedMatrix) => p.bf16);
    const native = await loadHfCheckpoint(path.join(MODELS, name));
    const out = path.join(root, `${name}-panels`);
    await convertHfCheckpoint(path.join(MODELS, name), out);
    const converted = await loadModel(out);
    try {
      const w = (native as unknown as { weights: { layers: { qkv: PackedMatrix; down: PackedMatrix }[]; lmHead: PackedMatrix } }).weights;
      const nativePanels = [...w.layers.flatMap((l) => [l.qkv.bf16, l.down.bf16]), w.lmHead.bf16];
      const convertedPanels = panels((converted as unknown as { matrices: { byName: Map<string, PackedMatrix> } }).matrices.byName);
      expect(convertedPanels.length).toBeGreaterThan(4);
      expect(new Set([...nativePanels, ...convertedPanels])).toEqual(new Set([bf16]));
      await checkSteps(native, g, `${name} native`);
      await checkSteps(converted, g, `${name} converted`);
    } finally {
      native.dispose();
      converted.dispose();
    }
  });

  test('the option is checked before anything is read: another value, or packed off wasm', async () => {
    const refused = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'weights' });
    await refused(loadModel('/nonexistent', { weights: 'xnnpack' as WeightsOption['weights'] }));
    await refused(loadHfCheckpoint('/nonexistent', { weights: 'xnnpack' as WeightsOption['weights'] }));
    await useBackend('cpu');
    try {
      await refused(loadModel('/nonexistent', { weights: 'packed' }));
      await refused(loadModel('http://127.0.0.1:9/m/', { weights: 'packed' }));
      await refused(loadHfCheckpoint('/nonexistent', { weights: 'packed' }));
      // Packing is the default on wasm only: elsewhere no option means tensors.
      await expect(loadModel('/nonexistent')).rejects.toThrow(/config\.json/);
    } finally {
      await useBackend('wasm');
    }
  });

  test('ENTROPIX_WASM_MATMUL=tfjs makes tensors the default on wasm for the process', async () => {
    const bytes0 = tf.memory().numBytes;
    process.env.ENTROPIX_WASM_MATMUL = 'tfjs';
    const model = await loadHfCheckpoint(path.join(MODELS, 'gpt2')).finally(() => delete process.env.ENTROPIX_WASM_MATMUL);
    try {
      expect(tf.memory().numBytes - bytes0).toBeGreaterThan(150e3); // the 172 KB of matrices are tensors
    } finally {
      model.dispose();
    }
  });
});

function expectCloseLogits(got: ArrayLike<number>, want: ArrayLike<number>): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThan(1e-3);
}

describe('PackedMatrices with a helper thread (ENTROPIX_WASM_THREADS=2)', () => {
  beforeAll(() => useBackend('wasm'));
  const random = (n: number, seed: number) => {
    const next = rng(seed);
    return Float32Array.from({ length: n }, () => next() * 2 - 1);
  };

  test('one row by column panels and nine rows by rows, shared with the worker, equal tf.matMul', async () => {
    const shapes: [number, number, number][] = [[1, 256, 200], [9, 130, 70], [2, 64, 48]];
    const packed = new PackedMatrices(shapes.reduce((a, [, k, n]) => a + packedBytes(k, n), 0), 'all');
    try {
      const thread = (packed as unknown as { thread: { ready: boolean; job: number } }).thread;
      for (let i = 0; i < 1000 && !thread.ready; i++) await new Promise((r) => setTimeout(r, 10));
      expect(thread.ready).toBe(true);
      for (const [m, k, n] of shapes) {
        const w = random(k * n, k + n);
        const matrix = packed.packRows(w, k, n);
        const x = tf.tensor2d(random(m * k, m), [m, k]);
        const wt = tf.tensor2d(w, [k, n]);
        const jobs = thread.job;
        const y = packed.matMul(x, matrix);
        expect(thread.job).toBe(jobs + 1); // the worker took part
        const want = tf.matMul(x, wt);
        const [got, ref] = [y.dataSync(), want.dataSync()];
        let worst = 0;
        for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / (1 + Math.abs(ref[i]!)));
        expect(worst).toBeLessThan(1e-5);
        tf.dispose([x, wt, y, want]);
      }
    } finally {
      packed.dispose();
    }
    expect((packed as unknown as { thread: unknown }).thread).toBeNull();
  });

  test("'prompts': a prompt's product starts the thread, a run of other products stops it, the next prompt starts another", async () => {
    const [k, n] = [2048, 4096]; // 32 MiB of matrix: large enough for a thread
    const w = new Float32Array(k * n); // filled by a loop: random() over 8M values takes seconds
    for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 1013) / 1013 - 0.5;
    const small = random(16 * 16, 8);
    const bytes = packedBytes(k, n) + packedBytes(16, 16);
    const packed = new PackedMatrices(bytes, 'prompts');
    const alone = new PackedMatrices(bytes, 'none');
    const threadOf = () => (packed as unknown as { thread: { ready: boolean; job: number } | null }).thread;
    const x = tf.tensor2d(random(8 * k, 9), [8, k]);
    const row = tf.tensor2d(random(16, 10), [1, 16]);
    try {
      const [big, tiny] = [packed.packRows(w, k, n), packed.packRows(small, 16, 16)];
      const want = alone.matMul(x, alone.packRows(w, k, n));
      const wantData = want.dataSync();
      const prompt = async () => {
        tf.dispose(packed.matMul(x, big)); // starts the thread (this product: this thread alone)
        const thread = threadOf()!;
        expect(thread).not.toBeNull();
        for (let i = 0; i < 300 && !thread.ready; i++) await new Promise((r) => setTimeout(r, 10));
        expect(thread.ready).toBe(true);
        const jobs = thread.job;
        const y = packed.matMul(x, big);
        expect(thread.job).toBe(jobs + 1); // the worker took its rows
        expect(Array.from(y.dataSync())).toEqual(Array.from(wantData)); // the same kernel per row: bit for bit
        y.dispose();
      };
      expect(threadOf()).toBeNull(); // none until a prompt
      await prompt();
      for (let i = 0; i < 511; i++) tf.dispose(packed.matMul(row, tiny));
      expect(threadOf()).not.toBeNull();
      tf.dispose(packed.matMul(row, tiny)); // the 512th product without a prompt's
      expect(threadOf()).toBeNull();
      await prompt(); // a new worker on the same control words
      want.dispose();
    } finally {
      tf.dispose([x, row]);
      packed.dispose();
      alone.dispose();
    }
    expect(threadOf()).toBeNull();
  });
});

describe('bfloat16 panels (a matrix whose every value is a bfloat16)', () => {
  beforeAll(() => useBackend('wasm'));
  // Random values rounded to bfloat16 (to nearest even), as a bfloat16 checkpoint widens exactly.
  const bf16Random = (n: number, seed: number) => {
    const next = rng(seed);
    const out = Float32Array.from({ length: n }, () => next() * 2 - 1);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! + 0x7fff + ((bits[i]! >>> 16) & 1)) >>> 16) << 16;
    return out;
  };
  const topOf = (p: PackedMatrices) => (p as unknown as { top: number }).top;
  const random = (n: number, seed: number) => {
    const next = rng(seed);
    return Float32Array.from({ length: n }, () => next() * 2 - 1);
  };

  test.each([[45, 53], [131, 37], [64, 200], [576, 96]])('W [%i, %i]: half the bytes, products and column lookups equal to float32 panels bit for bit', (k, n) => {
    const w = bf16Random(k * n, k * n);
    const cols = Float32Array.from({ length: n * k }, (_, i) => w[(i % k) * n + Math.floor(i / k)]!); // Wᵀ, [n, k]
    const narrow = new PackedMatrices(3 * packedBytes(k, n), 'none');
    const wide = new PackedMatrices(2 * packedBytes(k, n), 'none');
    try {
      const t0 = topOf(narrow);
      const a = narrow.packRows(w, k, n);
      expect(topOf(narrow) - t0).toBe(packedBytes(k, n, true));
      const b = narrow.packColumns([cols.subarray(0, 7 * k), cols.subarray(7 * k)], k);
      const c = narrow.allocate(k, n, true);
      narrow.writeRows(c, 0, w.subarray(0, 3 * n));
      narrow.writeRows(c, 3, w.subarray(3 * n));
      const f = wide.packRows(w, k, n, false);
      expect([a.bf16, b.bf16, c.bf16, f.bf16]).toEqual([true, true, true, false]);
      for (const rows of [1, 2, 5, 9]) {
        const x = tf.tensor2d(random(rows * k, rows), [rows, k]);
        const want = Array.from(wide.matMul(x, f).dataSync());
        for (const m of [a, b, c]) {
          const y = narrow.matMul(x, m);
          expect(Array.from(y.dataSync())).toEqual(want);
          y.dispose();
        }
        x.dispose();
      }
      const ids = tf.tensor1d([0, n - 1, 17 % n], 'int32');
      const got = narrow.columns(a, ids);
      const ref = wide.columns(f, ids);
      expect(Array.from(got.dataSync())).toEqual(Array.from(ref.dataSync()));
      tf.dispose([ids, got, ref]);
      // Float32 panels when asked, or when a value is not a bfloat16; writeRows refuses one.
      const odd = Float32Array.from(w);
      odd[5] = 1 / 3;
      expect(narrow.packRows(odd, k, n).bf16).toBe(false);
      expect(() => narrow.writeRows(c, 0, odd.subarray(0, n))).toThrow(EntropixError);
    } finally {
      narrow.dispose();
      wide.dispose();
    }
  });

  test('shared with the helper thread, one row and many', async () => {
    const [k, n] = [256, 200];
    const w = bf16Random(k * n, 3);
    const packed = new PackedMatrices(2 * packedBytes(k, n), 'all');
    try {
      const thread = (packed as unknown as { thread: { ready: boolean; job: number } }).thread;
      for (let i = 0; i < 1000 && !thread.ready; i++) await new Promise((r) => setTimeout(r, 10));
      expect(thread.ready).toBe(true);
      const [a, f] = [packed.packRows(w, k, n), packed.packRows(w, k, n, false)];
      for (const rows of [1, 9]) {
        const x = tf.tensor2d(random(rows * k, rows + 1), [rows, k]);
        const jobs = thread.job;
        const [ya, yf] = [packed.matMul(x, a), packed.matMul(x, f)];
        expect(thread.job).toBe(jobs + 2);
        expect(Array.from(ya.dataSync())).toEqual(Array.from(yf.dataSync()));
        tf.dispose([x, ya, yf]);
      }
    } finally {
      packed.dispose();
    }
  });
});

test('a matrix packed after a product reads zeros in its padding, whatever the product left there', async () => {
  await useBackend('wasm');
  const packed = new PackedMatrices(2 * packedBytes(5, 16, false), 'none');
  try {
    const first = packed.packRows(new Float32Array(5 * 16).fill(0.5), 5, 16, false);
    // x's words are bfloat16 NaN/Inf patterns in their low halves: the scratch above the matrices keeps them.
    const x = tf.tensor2d(new Float32Array(new Uint32Array(5 * 64).fill(0x3f807fc0).buffer), [64, 5]);
    tf.dispose(packed.matMul(x, first));
    const ones = packed.packRows(new Float32Array(5 * 16).fill(1), 5, 16);
    expect(ones.bf16).toBe(true);
    const y = packed.matMul(tf.ones([1, 5]), ones);
    expect(Array.from(y.dataSync())).toEqual(new Array(16).fill(5));
    tf.dispose([x, y]);
  } finally {
    packed.dispose();
  }
});
