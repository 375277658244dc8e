import { tf, useBackend, sampleTokens, SamplingParams } from '../lib';
import { referenceDistribution, RefParams } from './helpers/reference';
import { expectFits, histogram } from './helpers/stats';
import { countReads, expectRefused } from './helpers/tensors';
import { expectCpuDrawsAsWasm } from './helpers/backends';

const DRAWS = 6000; // per distribution, on wasm
const CPU_ROWS = 300; // the cpu backend draws the same tokens as wasm on these rows (same seeds)

/** Draws `rows` tokens for one logit row, as a batch of identical rows (row i uses stream i). */
function drawMany(logits: number[], params: SamplingParams, seed: number, cap?: number, rows = DRAWS): Int32Array {
  return tf.tidy(() => {
    const x = tf.tile(tf.tensor2d([logits]), [rows, 1]) as tf.Tensor2D;
    return sampleTokens(x, params, seed, { candidateCap: cap }).dataSync() as Int32Array;
  });
}

function full(p: Partial<RefParams>): RefParams {
  return { temperature: 1, topK: 0, topP: 1, minP: 0, ...p };
}

/** Distinct logits with a realistic spread: 40 tokens. */
const LOGITS = Array.from({ length: 40 }, (_, i) => 3 * Math.cos(1.7 * i + 0.3) - 0.05 * i);

type DistributionCase = [name: string, logits: number[], params: Partial<RefParams>, seed: number, cap: number];
const DISTRIBUTIONS: DistributionCase[] = [
  ['plain T=1', LOGITS, {}, 1234, 256],
  ['T=0.5', LOGITS, { temperature: 0.5 }, 1234, 256],
  ['T=2', LOGITS, { temperature: 2 }, 1234, 256],
  ['top-k 5', LOGITS, { topK: 5 }, 1234, 256],
  ['top-p 0.8 (top-k off: whole-vocabulary mass)', LOGITS, { topP: 0.8 }, 1234, 256],
  ['min-p 0.1', LOGITS, { minP: 0.1 }, 1234, 256],
  ['min-p → top-k → top-p, T=1.3', LOGITS, { temperature: 1.3, minP: 0.02, topK: 12, topP: 0.7 }, 1234, 256],
  ['top-p with a cap narrower than the nucleus', LOGITS, { topP: 0.95 }, 1234, 8],
  ['top-k above the cap acts as the cap', LOGITS, { topK: 30 }, 1234, 10],
  ['a vocabulary larger than the cap, top-k off, top-p on',
    Array.from({ length: 3000 }, (_, i) => 2 * Math.sin(0.37 * i) - i * 1e-4), { topP: 0.5, temperature: 0.8 }, 77, 64],
  // V a multiple of 16 with many rows takes the two-stage candidate search; float32 values, so
  // that the reference ranks them exactly as the tensor does.
  ['the two-stage candidate search (V a multiple of 16, many rows)',
    Array.from({ length: 1024 }, (_, i) => Math.fround(2.5 * Math.sin(0.91 * i + 0.2) - i * 2e-4)),
    { temperature: 1.2, topP: 0.9, minP: 0.001 }, 31, 16],
];

/** Per-row parameters as tensors: `per` rows for each setting, in order. */
const ROW_SETTINGS: RefParams[] = [
  full({ temperature: 0.7, topK: 3 }),
  full({ temperature: 1.5, topP: 0.6 }),
  full({ minP: 0.3 }),
  full({ temperature: 0, topK: 9 }),
];
function drawPerRow(per: number): Int32Array {
  const rows = ROW_SETTINGS.length * per;
  const col = (f: (s: RefParams) => number, dtype: 'float32' | 'int32' = 'float32') =>
    tf.tensor1d(Array.from({ length: rows }, (_, r) => f(ROW_SETTINGS[Math.floor(r / per)]!)), dtype);
  return tf.tidy(() => {
    const params = {
      temperature: col((s) => s.temperature),
      topK: col((s) => s.topK, 'int32'),
      topP: col((s) => s.topP),
      minP: col((s) => s.minP),
    };
    const x = tf.tile(tf.tensor2d([LOGITS]), [rows, 1]) as tf.Tensor2D;
    return sampleTokens(x, params, 99).dataSync() as Int32Array;
  });
}

// The statistics run on wasm; the cpu backend must then draw the very same tokens.
describe('sampleTokens matches the exact distribution (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  test.each(DISTRIBUTIONS)('%s', (_, logits, params, seed, cap) => {
    const tokens = drawMany(logits, params, seed, cap);
    expectFits(histogram(tokens, logits.length), referenceDistribution(logits, full(params), cap));
  });

  test('per-row parameters as tensors: each row follows its own', () => {
    const per = 2000;
    const tokens = drawPerRow(per);
    ROW_SETTINGS.forEach((s, g) => {
      const mine = tokens.slice(g * per, (g + 1) * per);
      expectFits(histogram(mine, LOGITS.length), referenceDistribution(LOGITS, s));
    });
  });
});

describe(`sampleTokens on cpu draws what wasm draws (${CPU_ROWS} rows per case)`, () => {
  test.each(DISTRIBUTIONS)('%s', async (_, logits, params, seed, cap) => {
    await expectCpuDrawsAsWasm(() => drawMany(logits, params, seed, cap, CPU_ROWS));
  });

  test('per-row parameters as tensors', async () => {
    await expectCpuDrawsAsWasm(() => drawPerRow(CPU_ROWS / ROW_SETTINGS.length));
  });
});

describe.each(['cpu', 'wasm'] as const)('sampleTokens on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  // Deterministic checks: fewer rows on the slow cpu backend.
  const rows = backend === 'cpu' ? CPU_ROWS : DRAWS;

  test('temperature ≤ 0 and a tiny top-p give the argmax', () => {
    const argmax = LOGITS.indexOf(Math.max(...LOGITS));
    for (const params of [{ temperature: 0 }, { temperature: -1 }, { topP: 1e-9 }]) {
      expect(Array.from(drawMany(LOGITS, params, 5, undefined, rows)).every((t) => t === argmax)).toBe(true);
    }
  });

  test('NaN and −Inf are never drawn; +Inf takes all; a row with nothing usable gets −1', async () => {
    const x = tf.tensor2d([
      [NaN, 0, -Infinity, 0.5, NaN],
      [0, 1, Infinity, 2, NaN],
      [NaN, NaN, -Infinity, NaN, -Infinity],
      [-1e30, -3.4e38, 1, 0, 2], // HF-style finfo.min masks count as −Inf
    ]);
    const seen = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const t = sampleTokens(x, { temperature: 5 }, seed);
      const [a, b, c, d] = Array.from(await t.data());
      t.dispose();
      expect([1, 3]).toContain(a);
      expect(b).toBe(2);
      expect(c).toBe(-1);
      expect([2, 3, 4]).toContain(d);
      seen.add(a!);
    }
    expect(seen).toEqual(new Set([1, 3]));
    x.dispose();
  });

  test('NaN parameter tensors fall back to their documented meaning', async () => {
    const x = tf.tile(tf.tensor2d([LOGITS]), [2, 1]) as tf.Tensor2D;
    const argmax = LOGITS.indexOf(Math.max(...LOGITS));
    const t = sampleTokens(x, { temperature: tf.tensor1d([NaN, NaN]) }, 3);
    expect(Array.from(await t.data())).toEqual([argmax, argmax]);
    tf.dispose([x, t]);
  });

  test('the same seed gives the same tokens; row i depends only on (seed, i) or its own seed', async () => {
    const x = tf.tidy(() => tf.mul(tf.randomNormal([6, 500], 0, 1, 'float32', 3), 2) as tf.Tensor2D);
    const read = async (t: tf.Tensor) => { const v = Array.from(await t.data()); t.dispose(); return v; };
    const a = await read(sampleTokens(x, { topP: 0.9 }, 42));
    const b = await read(sampleTokens(x, { topP: 0.9 }, 42));
    const c = await read(sampleTokens(x, { topP: 0.9 }, 43));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    // Per-row seeds: each row alone with its seed draws what it draws in the batch.
    const seeds = [11, 12, 13, 14, 15, 16];
    const batch = await read(sampleTokens(x, { temperature: 1.5 }, seeds));
    for (let r = 0; r < 6; r++) {
      const row = tf.slice(x, [r, 0], [1, -1]) as tf.Tensor2D;
      expect(await read(sampleTokens(row, { temperature: 1.5 }, [seeds[r]!]))).toEqual([batch[r]]);
      row.dispose();
    }
    // A single seed: row 0 of the batch equals the row alone.
    const row0 = tf.slice(x, [0, 0], [1, -1]) as tf.Tensor2D;
    expect(await read(sampleTokens(row0, { topP: 0.9 }, 42))).toEqual([a[0]]);
    tf.dispose([x, row0]);
  });

  test('reads nothing back on wasm, each input tensor once on cpu (the host step), and leaks nothing', () => {
    const x = tf.randomNormal([4, 1000]) as tf.Tensor2D;
    const params = { temperature: tf.tensor1d([0.5, 1, 0, 2]), topK: tf.tensor1d([0, 5, 3, 0], 'int32'), topP: 0.9, minP: 0.05 };
    const before = tf.memory().numTensors;
    let out: tf.Tensor | undefined;
    expect(countReads(() => { out = sampleTokens(x, params, 1); })).toBe(backend === 'cpu' ? 3 : 0);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(out!.dtype).toBe('int32');
    expect(out!.shape).toEqual([4]);
    tf.dispose([x, out!, params.temperature, params.topK]);
  });

  test('a vocabulary smaller than the cap works', async () => {
    const t = sampleTokens(tf.tensor2d([[0, 5, 1]]), { temperature: 0 }, 0, { candidateCap: 256 });
    expect(Array.from(await t.data())).toEqual([1]);
    t.dispose();
  });

  describe('bad input is refused with a typed error and no leak', () => {
    let x: tf.Tensor2D;
    beforeAll(() => { x = tf.zeros([2, 10]) as tf.Tensor2D; });
    afterAll(() => x.dispose());
    const p = (o: object) => o as SamplingParams;

    test('logits', () => {
      const v = tf.zeros([10]);
      expectRefused(() => sampleTokens(v as unknown as tf.Tensor2D, {}, 0), 'INVALID_SHAPE', 'logits');
      const i = tf.zeros([2, 10], 'int32');
      expectRefused(() => sampleTokens(i as tf.Tensor2D, {}, 0), 'INVALID_DTYPE', 'logits');
      expectRefused(() => sampleTokens([[1, 2]] as unknown as tf.Tensor2D, {}, 0), 'INVALID_ARGUMENT', 'logits');
      const e = tf.zeros([2, 0]);
      expectRefused(() => sampleTokens(e as tf.Tensor2D, {}, 0), 'INVALID_SHAPE', 'logits');
      const d = tf.zeros([2, 3]);
      d.dispose();
      expectRefused(() => sampleTokens(d as tf.Tensor2D, {}, 0), 'INVALID_ARGUMENT', 'logits');
      tf.dispose([v, i, e]);
    });

    test('number parameters', () => {
      expectRefused(() => sampleTokens(x, p({ temperature: NaN }), 0), 'INVALID_ARGUMENT', 'params.temperature');
      expectRefused(() => sampleTokens(x, p({ topP: 0 }), 0), 'INVALID_ARGUMENT', 'params.topP');
      expectRefused(() => sampleTokens(x, p({ topP: 1.5 }), 0), 'INVALID_ARGUMENT', 'params.topP');
      expectRefused(() => sampleTokens(x, p({ topK: -1 }), 0), 'INVALID_ARGUMENT', 'params.topK');
      expectRefused(() => sampleTokens(x, p({ topK: 2.5 }), 0), 'INVALID_ARGUMENT', 'params.topK');
      expectRefused(() => sampleTokens(x, p({ minP: 2 }), 0), 'INVALID_ARGUMENT', 'params.minP');
      expectRefused(() => sampleTokens(x, p({ topk: 3 }), 0), 'INVALID_ARGUMENT', 'params.topk');
      expectRefused(() => sampleTokens(x, p({ temperature: '1' }), 0), 'INVALID_ARGUMENT', 'params.temperature');
    });

    test('parameter tensors', () => {
      const short = tf.ones([3]);
      const wide = tf.ones([2, 1]);
      const bool = tf.ones([2], 'bool');
      expectRefused(() => sampleTokens(x, p({ temperature: short }), 0), 'INVALID_SHAPE', 'params.temperature');
      expectRefused(() => sampleTokens(x, p({ topP: wide }), 0), 'INVALID_SHAPE', 'params.topP');
      expectRefused(() => sampleTokens(x, p({ topK: bool }), 0), 'INVALID_DTYPE', 'params.topK');
      tf.dispose([short, wide, bool]);
    });

    test('seeds and options', () => {
      expectRefused(() => sampleTokens(x, {}, NaN), 'INVALID_ARGUMENT', 'seed');
      expectRefused(() => sampleTokens(x, {}, [1, 2, 3]), 'INVALID_ARGUMENT', 'seed');
      expectRefused(() => sampleTokens(x, {}, 'a' as unknown as number), 'INVALID_ARGUMENT', 'seed');
      expectRefused(() => sampleTokens(x, {}, 0, { candidateCap: 0 }), 'INVALID_ARGUMENT', 'options.candidateCap');
      expectRefused(() => sampleTokens(x, {}, 0, { candidateCap: 1.5 }), 'INVALID_ARGUMENT', 'options.candidateCap');
    });
  });
});
