// The host strategy (cpu and tensorflow: read each input back once, then the plain-JS step)
// against the generic tf-ops path on the same backend, inputs and seeds: tokens and states equal,
// metrics within 1e-4, over many rows in every regime, NaN/±Inf rows, keyMask, ties, per-row
// tensor parameters, seeds, logits only; each input read once and only after validation; no leaks.
import { tf, useBackend, EntropixSampler, sampleTokens, computeMetrics } from '../lib';
import type { BackendName, SamplerConfig, SamplingParams } from '../lib';
import { samplingStrategy } from '../lib/sampling/backends/strategy';
import { NO_LIMITS, TENSORFLOW_LIMITS } from '../lib/sampling/backends/host/strategy';
import { countReads, expectRefused } from './helpers/tensors';
import { METRICS, generic, rng, normal, readResult } from './helpers/paths';
import { onBackend, TENSORFLOW } from './helpers/backends';

const BACKENDS: BackendName[] = TENSORFLOW.missing() === null ? ['cpu', 'tensorflow'] : ['cpu'];
if (BACKENDS.length === 1) console.warn(`SKIPPED on tensorflow: ${TENSORFLOW.missing()} (${TENSORFLOW.install})`);

/**
 * Logit rows for every regime: one-hot-like (flowing), 16 tied tokens (treading), a peak over a
 * flat tail (exploring, resampling), wide normals (adaptive), quarter-step ties, an all-NaN row,
 * rows with NaN, ±Inf, and two +Inf.
 */
function logitRows(batch: number, vocab: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(batch * vocab);
  const peaked = (q: number) => Math.log(q / (1 - q) * (vocab - 1));
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * vocab, (b + 1) * vocab);
    const peak = Math.floor(r() * vocab);
    for (let i = 0; i < vocab; i++) row[i] = normal(r) * (0.5 + 3 * r());
    switch (b % 10) {
      case 0: row[peak] = 40; break;
      case 1: row.fill(-Infinity); for (let i = 0; i < 16; i++) row[(i * 37 + b) % vocab] = 2; break;
      case 2: for (let i = 0; i < vocab; i++) row[i] = 0.01 * normal(r); row[peak] = peaked(0.6); break;
      case 3: for (let i = 0; i < vocab; i++) row[i] = 0.01 * normal(r); row[peak] = peaked(0.3); break;
      case 4: for (let i = 0; i < vocab; i++) row[i] = Math.round(row[i]! * 4) / 4; break;
      case 5: if (b % 20 === 5) row.fill(NaN); break;
      case 6: row[3] = NaN; row[5] = -Infinity; row[7] = Infinity; break;
      case 7: row[2] = Infinity; row[9] = Infinity; break;
      case 8: for (let i = 0; i < vocab; i++) row[i] = normal(r); break;
      default: for (let i = 0; i < vocab; i++) row[i] = normal(r) * 0.8; row[11] = NaN; row[13] = -Infinity; break;
    }
  }
  return x;
}

/**
 * A +Inf attention score in batch row INF_ROW's last query row (4-D scores [B, 4, 2, 24]). There
 * the generic path on tensorflow is off by rounding at FLOAT32_MAX (libtensorflow's float32
 * softmax leaves p_max a few ulps below 1, and FLOAT32_MAX·(1 − p_max) is ~1e31 bits of entropy);
 * the host step gives the limit, as the generic path on cpu does, which is that row's reference.
 */
const INF_AT = 40;
const INF_ROW = 0;

function attentionRows(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const s = Float32Array.from({ length: n }, (_, i) => normal(r) * (1 + 3 * ((i >> 7) % 3)));
  s[5] = NaN;
  s[9] = -Infinity;
  s[INF_AT] = Infinity;
  return s;
}

/**
 * Within tol (relative above 1); NaN and ±Inf exactly where the reference has them. `instead`
 * replaces the reference at one row (see INF_ROW).
 */
function expectClose(
  a: ArrayLike<number>, b: ArrayLike<number>, what: string, instead?: { row: number; value: number }, tol = 1e-4,
): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    const want = instead?.row === i ? instead.value : b[i]!;
    if (!Number.isFinite(want) || !Number.isFinite(a[i]!)) {
      expect(`${what}[${i}] = ${a[i]}`).toBe(`${what}[${i}] = ${want}`);
    } else if (Math.abs(a[i]! - want) > tol * Math.max(1, Math.abs(want))) {
      expect(`${what}[${i}] = ${a[i]}`).toBe(`${what}[${i}] ≈ ${want}`);
    }
  }
}

const B = 40;
const V = 1000;
const [H, Q, T] = [4, 2, 24];

describe.each(BACKENDS)('the host strategy on %s', (backend) => {
  let logits: tf.Tensor2D;
  let scores: tf.Tensor4D;
  let keyMask: tf.Tensor2D;
  let boolMask: tf.Tensor2D;
  let lastTokens: tf.Tensor1D;
  beforeAll(async () => {
    await useBackend(backend);
    logits = tf.tensor2d(logitRows(B, V, 1), [B, V]);
    scores = tf.tensor4d(attentionRows(B * H * Q * T, 2), [B, H, Q, T]);
    // Rows lose 0–6 trailing keys; row 4 (mod 9) loses every key.
    const mask = Float32Array.from({ length: B * T }, (_, i) => ((i / T | 0) % 9 === 4 ? 0 : i % T < T - ((i / T | 0) % 7) ? 1 : 0));
    keyMask = tf.tensor2d(mask, [B, T]);
    boolMask = tf.tensor2d(Uint8Array.from(mask), [B, T], 'bool');
    lastTokens = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => (b % 3 === 0 ? 17 : b)), 'int32');
  });
  afterAll(() => tf.dispose([logits, scores, keyMask, boolMask, lastTokens]));

  // tensorflow: the attention metrics of INF_ROW on cpu's generic path (the reference there).
  let cpuAttention: Float32Array[] | null = null;
  beforeAll(async () => {
    if (backend === 'cpu') return;
    cpuAttention = await onBackend('cpu', () => generic(() => {
      const x = tf.tensor2d(logitRows(B, V, 1), [B, V]);
      const s = tf.tensor4d(attentionRows(B * H * Q * T, 2), [B, H, Q, T]);
      const m = computeMetrics(x, s);
      const out = METRICS.map((k) => m[k].dataSync() as Float32Array);
      tf.dispose([x, s, m]);
      return out;
    }));
  });
  /** What replaces the generic reference of metric i on 4-D scores (every mask here keeps INF_ROW's keys). */
  const instead = (i: number, s: tf.Tensor | null) =>
    cpuAttention && i >= 2 && s?.rank === 4 ? { row: INF_ROW, value: cpuAttention[i]![INF_ROW]! } : undefined;

  test('the strategy is the host one; the flag forces the generic path', () => {
    expect(samplingStrategy().name).toBe('host');
    expect(generic(() => samplingStrategy().name)).toBe('generic');
  });

  // Each config over two input variants (scores with or without a mask, or logits only), one
  // seed for the batch and one per row.
  const rowSeeds = Array.from({ length: B }, (_, b) => 1000 + b);
  const configs: [string, Partial<SamplerConfig>, 'none' | 'float' | 'bool' | 'logits only', 'none' | 'float' | 'bool' | 'logits only'][] = [
    ['defaults', {}, 'none', 'float'],
    ['clarifying token', { clarifyingTokenId: 17 }, 'bool', 'logits only'],
    ['top-k off, gates', { topK: 0, topP: 0.95, exploringMinTopK: 0, exploringTopKAgreementCoef: 0, gates: { exploring: { maxAgreement: 0.5 } } }, 'float', 'logits only'],
  ];
  test.each(configs)('EntropixSampler.sample (%s): same tokens and states, metrics within 1e-4', async (_, config, ...variants) => {
    const sampler = new EntropixSampler(config);
    const states = new Set<number>();
    const before = tf.memory().numTensors;
    for (const [v, variant] of variants.entries()) {
      const s = variant === 'logits only' ? null : scores;
      const opts = { seed: v === 0 ? 3 : rowSeeds, keyMask: variant === 'float' ? keyMask : variant === 'bool' ? boolMask : undefined, lastTokens };
      const host = await readResult(sampler.sample(logits, s, opts));
      const ref = await readResult(generic(() => sampler.sample(logits, s, opts)));
      expect({ variant, tokens: host.tokens }).toEqual({ variant, tokens: ref.tokens });
      expect({ variant, states: host.states }).toEqual({ variant, states: ref.states });
      METRICS.forEach((m, i) => expectClose(host.metrics[i]!, ref.metrics[i]!, `${variant} ${m}`, instead(i, s)));
      ref.states.forEach((x) => states.add(x));
      expect(ref.tokens).toContain(-1);
      if (!s) for (const i of [2, 3, 4, 5]) expect(Array.from(host.metrics[i]!).every(Number.isNaN)).toBe(true);
      if (config.clarifyingTokenId !== undefined) expect(host.tokens).toContain(17);
    }
    expect([...states].sort()).toEqual([0, 1, 2, 3, 4, 5]); // every regime, and Base
    expect(tf.memory().numTensors).toBe(before);
  });

  test('sampleTokens: numbers and per-row tensors (NaN, negative, huge, int32), top-k off or on, caps, seeds', async () => {
    const col = (f: (b: number) => number, dtype: 'float32' | 'int32' = 'float32') =>
      tf.tensor1d(Array.from({ length: B }, (_, b) => f(b)), dtype);
    const t = {
      temperature: col((b) => [0.7, 1.3, 0, -1, NaN, 2.5, 1e-9, 1, Infinity, 0.3][b % 10]!),
      topK: col((b) => [0, 1, 5, 40, 2000, 3, 0, 12][(b * 3) % 8]!, 'int32'),
      topKf: col((b) => [0, 1.7, 5, NaN, -2, 3, 0, 1e9][(b * 5) % 8]!),
      topP: col((b) => [1, 0.9, 0.5, 0.05, NaN, 0.99, 0, -1][(b * 7) % 8]!),
      minP: col((b) => [0, 0.05, 0.2, NaN, 1, 0.5, -1, 2][(b * 3 + 1) % 8]!),
    };
    const cases: [string, SamplingParams, number][] = [
      ['defaults', {}, 256],
      ['numbers', { temperature: 0.8, topK: 20, topP: 0.9, minP: 0.02 }, 256],
      ['top-p over the vocabulary', { temperature: 1.2, topP: 0.7, minP: 0.05 }, 32],
      ['argmax', { temperature: 0 }, 256],
      ['small cap', { temperature: 1, topK: 50 }, 7],
      ['cap above V', { temperature: 1.1, topP: 0.97 }, 4000],
      ['tensors', { temperature: t.temperature, topK: t.topK, topP: t.topP, minP: t.minP }, 256],
      ['float topK tensor', { temperature: 1, topK: t.topKf, topP: 0.8 }, 64],
      ['tensor topP, number topK off', { temperature: t.temperature, topP: t.topP }, 128],
    ];
    const before = tf.memory().numTensors;
    let distinct = new Set<number>();
    for (const [name, params, candidateCap] of cases) {
      for (const seed of [1, Array.from({ length: B }, (_, b) => 7 * b + 3)]) {
        const host = sampleTokens(logits, params, seed, { candidateCap });
        const ref = generic(() => sampleTokens(logits, params, seed, { candidateCap }));
        const got = Array.from(await host.data());
        expect({ name, tokens: got }).toEqual({ name, tokens: Array.from(await ref.data()) });
        if (name === 'numbers') distinct = new Set([...distinct, ...got]);
        tf.dispose([host, ref]);
      }
    }
    expect(distinct.size).toBeGreaterThan(30); // the draws are not all one token
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(t));
  });

  test('computeMetrics: within 1e-4 of the generic path (3-D and 4-D scores, keyMask, logits only)', () => {
    const s3 = tf.tidy(() => tf.reshape(tf.slice(scores, [0, 0, 0, 0], [-1, -1, 1, -1]), [B, H, T]));
    const before = tf.memory().numTensors;
    for (const [s, mask] of [[s3, undefined], [scores, keyMask], [scores, boolMask], [null, undefined]] as const) {
      const host = computeMetrics(logits, s, mask ? { keyMask: mask } : {});
      const ref = generic(() => computeMetrics(logits, s, mask ? { keyMask: mask } : {}));
      expect(tf.memory().numTensors).toBe(before + 12);
      for (const k of METRICS) {
        expect(host[k].shape).toEqual([B]);
        expect(host[k].dtype).toBe('float32');
        expectClose(host[k].dataSync(), ref[k].dataSync(), `${s ? `${s.rank}-D` : 'logits only'} ${k}`, instead(METRICS.indexOf(k), s));
      }
      tf.dispose([host, ref]);
    }
    expect(tf.memory().numTensors).toBe(before);
    s3.dispose();
  });

  test('each input tensor is read once, and only after validation; bad input is refused with no read and no leak', () => {
    const sampler = new EntropixSampler({ clarifyingTokenId: 17 });
    const x = tf.slice(logits, [0, 0], [4, -1]) as tf.Tensor2D;
    const s = tf.slice(scores, [0, 0, 0, 0], [4, -1, -1, -1]);
    const m = tf.slice(keyMask, [0, 0], [4, -1]) as tf.Tensor2D;
    const last = tf.tensor1d([17, 1, 2, 3], 'int32');
    const temperature = tf.tensor1d([0.5, 1, 0, 2]);
    const before = tf.memory().numTensors;
    let out: tf.TensorContainer[] = [];
    expect(countReads(() => { out.push(sampler.sample(x, s, { keyMask: m, lastTokens: last, seed: 1 })); })).toBe(4);
    expect(countReads(() => { out.push(sampler.sample(x, null, { seed: 1 })); })).toBe(1);
    expect(countReads(() => { out.push(sampleTokens(x, { temperature, topP: 0.9 }, 1)); })).toBe(2);
    expect(countReads(() => { out.push(computeMetrics(x, s, { keyMask: m })); })).toBe(3);
    expect(countReads(() => { out.push(computeMetrics(x)); })).toBe(1);
    expect(tf.memory().numTensors).toBe(before + 8 + 8 + 1 + 6 + 6);
    tf.dispose(out);
    out = [];
    expect(tf.memory().numTensors).toBe(before);

    const refusedUnread = (fn: () => unknown, code: string, argument: string) => {
      expect(countReads(() => expectRefused(fn, code, argument))).toBe(0);
    };
    const intLogits = tf.zeros([4, 10], 'int32');
    const wrongBatch = tf.zeros([3, 2, 4]);
    const wrongMask = tf.zeros([4, 5]);
    const wrongParam = tf.zeros([3]);
    const disposed = tf.zeros([4, 10]);
    disposed.dispose();
    refusedUnread(() => sampler.sample(intLogits, s), 'INVALID_DTYPE', 'logits');
    refusedUnread(() => sampler.sample(x, wrongBatch), 'INVALID_SHAPE', 'attentionScores');
    refusedUnread(() => sampler.sample(x, s, { keyMask: wrongMask }), 'INVALID_SHAPE', 'keyMask');
    refusedUnread(() => sampler.sample(x, null, { keyMask: m }), 'INVALID_ARGUMENT', 'keyMask');
    refusedUnread(() => sampler.sample(x, s, { lastTokens: temperature }), 'INVALID_DTYPE', 'options.lastTokens');
    refusedUnread(() => sampler.sample(disposed, s), 'INVALID_ARGUMENT', 'logits');
    refusedUnread(() => new EntropixSampler({ clarifyingTokenId: V }).sample(x, s), 'INVALID_ARGUMENT', 'config.clarifyingTokenId');
    refusedUnread(() => sampleTokens(x, { topK: 1.5 }, 1), 'INVALID_ARGUMENT', 'params.topK');
    refusedUnread(() => sampleTokens(x, { temperature: wrongParam }, 1), 'INVALID_SHAPE', 'params.temperature');
    refusedUnread(() => sampleTokens(x, {}, [1]), 'INVALID_ARGUMENT', 'seed');
    refusedUnread(() => sampleTokens(x, {}, 1, { candidateCap: 0 }), 'INVALID_ARGUMENT', 'options.candidateCap');
    refusedUnread(() => computeMetrics(x, wrongBatch), 'INVALID_SHAPE', 'attentionScores');
    tf.dispose([x, s, m, last, temperature, intLogits, wrongBatch, wrongMask, wrongParam]);
  });

  test('past the backend\'s limits the step takes the generic path (no read); cpu has none', () => {
    const limits = backend === 'cpu' ? NO_LIMITS : TENSORFLOW_LIMITS;
    expect(limits).toEqual(backend === 'cpu'
      ? { stepLogits: Infinity, stepScores: Infinity, topKLogits: Infinity }
      : { stepLogits: 2 ** 17, stepScores: 2 ** 17, topKLogits: 2 ** 20 });
    if (backend === 'cpu') return;
    const sampler = new EntropixSampler();
    const wide = tf.randomNormal([2, 2 ** 16 + 1], 0, 3, 'float32', 4) as tf.Tensor2D; // just past stepLogits
    const manyKeys = tf.randomNormal([1, 32, 2 ** 12 + 1], 0, 1, 'float32', 5); // just past stepScores
    const narrow = tf.randomNormal([1, 1000], 0, 3, 'float32', 6) as tf.Tensor2D;
    const huge = tf.randomNormal([2, 2 ** 19 + 1], 0, 3, 'float32', 7) as tf.Tensor2D; // past topKLogits
    const fewKeys = tf.slice(manyKeys, [0, 0, 0], [-1, -1, 2 ** 12]); // stepScores exactly
    const runs: [string, number, () => tf.TensorContainer][] = [
      ['sample, B·V over', 0, () => sampler.sample(wide, null, { seed: 1 })],
      ['computeMetrics, B·V over', 0, () => computeMetrics(wide)],
      ['sample, B·H·T over', 0, () => sampler.sample(narrow, manyKeys, { seed: 1 })],
      ['sample, within', 2, () => sampler.sample(narrow, fewKeys, { seed: 1 })],
      ['sampleTokens, top-p over the vocabulary, B·V over', 0, () => sampleTokens(wide, { topP: 0.9 }, 1)],
      ['sampleTokens, top-k, B·V within', 1, () => sampleTokens(wide, { topK: 20 }, 1)],
      ['sampleTokens, top-k, B·V over', 0, () => sampleTokens(huge, { topK: 20 }, 1)],
    ];
    for (const [name, reads, run] of runs) {
      let out: tf.TensorContainer = [];
      expect({ name, reads: countReads(() => { out = run(); }) }).toEqual({ name, reads });
      tf.dispose(out);
    }
    tf.dispose([wide, manyKeys, fewKeys, narrow, huge]);
  });
});
