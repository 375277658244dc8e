// The sampling paths side by side: the fused wasm kernels against the generic tf-ops path, and
// the host-side JS step against both. Same inputs and seeds → the same tokens and states, and
// metrics within 1e-4; kernels per step counted; no read-back inside a step; no leaks.
import { tf, useBackend, EntropixSampler, sampleTokens, computeMetrics } from '../lib';
import type { SampleResult } from '../lib';
import { GENERIC_FLAG, samplingStrategy } from '../lib/sampling/backends/strategy';
import { hostEntropixStep } from '../lib/sampling/backends/host/step';
import { compileRegimes } from '../lib/sampling/regimes';
import { gumbelNoise } from '../lib/sampling/rng';
import { countReads, expectRefused } from './helpers/tensors';
import { METRICS, generic, rng, normal, readResult } from './helpers/paths';

/**
 * Logit rows that reach every regime: near-one-hot (flowing), flat over 16 tied tokens (treading),
 * one strong token over a wide tail (exploring / resampling), wide normals (adaptive), an all-NaN
 * row (base, token −1), and rows with NaN, ±Inf and float16-like ties sprinkled in.
 */
function logitRows(batch: number, vocab: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(batch * vocab);
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * vocab, (b + 1) * vocab);
    const kind = b % 8;
    for (let i = 0; i < vocab; i++) row[i] = normal(r) * (0.5 + 3 * r());
    if (kind === 0) row[Math.floor(r() * vocab)] = 40;
    if (kind === 1) { row.fill(-Infinity); for (let i = 0; i < 16; i++) row[(i * 37 + b) % vocab] = 2; }
    if (kind === 2) { for (let i = 0; i < vocab; i++) row[i] = normal(r) * 0.3; row[b % vocab] = 9 + 2 * r(); }
    if (kind === 3) { for (let i = 0; i < vocab; i++) row[i] = normal(r) * 0.2; row[b % vocab] = 7.3 + r(); }
    if (kind === 4) for (let i = 0; i < vocab; i++) row[i] = Math.round(row[i]! * 4) / 4; // many ties
    if (kind === 5 && b % 16 === 5) row.fill(NaN);
    if (kind === 6) { row[3] = NaN; row[5] = -Infinity; row[7] = Infinity; }
    if (kind === 7) { for (let i = 0; i < vocab; i++) row[i] = normal(r) * 0.8; row[11] = NaN; row[13] = -Infinity; }
  }
  return x;
}

function attentionRows(batch: number, heads: number, queries: number, keys: number, seed: number): Float32Array {
  const r = rng(seed);
  const s = new Float32Array(batch * heads * queries * keys);
  for (let i = 0; i < s.length; i++) s[i] = normal(r) * (1 + 3 * ((i >> 7) % 3));
  s[5] = NaN;
  s[9] = -Infinity;
  return s;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i])) expect(a[i]).toBeNaN();
    else expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  }
}

/** Kernels one call runs (tf.profile lists each kernel invocation). */
async function kernelsOf(fn: () => tf.TensorContainer): Promise<number> {
  const info = await tf.profile(() => fn() as tf.Tensor);
  tf.dispose(info.result as tf.TensorContainer);
  return info.kernels.length;
}

describe('sampling paths on wasm: fused kernels vs the generic tf ops', () => {
  beforeAll(() => useBackend('wasm'));
  afterEach(() => tf.env().set(GENERIC_FLAG, false));

  test('the strategy is chosen per backend; the flag forces the generic path', () => {
    expect(samplingStrategy().name).toBe('wasm');
    expect(generic(() => samplingStrategy().name)).toBe('generic');
  });

  const B = 48;
  const V = 3000;
  const [H, Q, T] = [4, 2, 40];
  const config = { clarifyingTokenId: 17 };

  test.each([false, true])('EntropixSampler.sample: same tokens, states and metrics (keyMask %s)', async (masked) => {
    const logits = tf.tensor2d(logitRows(B, V, 1), [B, V]);
    const scores = tf.tensor4d(attentionRows(B, H, Q, T, 2), [B, H, Q, T]);
    const keyMask = masked
      ? tf.tensor2d(Float32Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T) % 7 || (i / T | 0) % 9 === 4 ? 1 : 0)), [B, T])
      : undefined;
    const lastTokens = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => (b % 3 === 0 ? 17 : b)), 'int32');
    const sampler = new EntropixSampler(config);
    const before = tf.memory().numTensors;
    for (const seed of [3, Array.from({ length: B }, (_, b) => 1000 + b)]) {
      const opts = { seed, keyMask, lastTokens };
      const fused = await readResult(sampler.sample(logits, scores, opts));
      const ref = await readResult(generic(() => sampler.sample(logits, scores, opts)));
      expect(fused.tokens).toEqual(ref.tokens);
      expect(fused.states).toEqual(ref.states);
      METRICS.forEach((_, i) => expectClose(fused.metrics[i]!, ref.metrics[i]!));
      expect(new Set(ref.states)).toEqual(new Set([0, 1, 2, 3, 4, 5])); // every regime, and Base
      expect(ref.tokens).toContain(-1);
      expect(ref.tokens).toContain(17);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, scores, keyMask, lastTokens]);
  });

  test('sampleTokens: numbers and per-row tensors (with NaN), top-k off or on, many seeds', async () => {
    const logits = tf.tensor2d(logitRows(B, V, 5), [B, V]);
    const col = (f: (b: number) => number) => tf.tensor1d(Float32Array.from({ length: B }, (_, b) => f(b)));
    const perRow = {
      temperature: col((b) => (b % 11 === 0 ? 0 : b % 13 === 0 ? NaN : 0.3 + (b % 5) * 0.4)),
      topK: col((b) => (b % 4 === 0 ? 0 : b % 7 === 0 ? NaN : 1 + (b * 7) % 60)),
      topP: col((b) => (b % 6 === 0 ? 1 : b % 17 === 0 ? NaN : 0.5 + (b % 4) * 0.12)),
      minP: col((b) => (b % 5 === 0 ? 0.2 : b % 19 === 0 ? NaN : 0)),
    };
    const cases = [
      { temperature: 1 }, { temperature: 0.7, topK: 27, topP: 0.9 }, { temperature: 1.3, topP: 0.8 },
      { temperature: 0.9, minP: 0.05, topK: 5 }, { temperature: 0 }, perRow,
    ];
    const before = tf.memory().numTensors;
    for (const params of cases) {
      for (const seed of [1, 2, 3]) {
        for (const candidateCap of [64, 256]) {
          const fused = sampleTokens(logits, params, seed, { candidateCap });
          const ref = generic(() => sampleTokens(logits, params, seed, { candidateCap }));
          expect(Array.from(await fused.data())).toEqual(Array.from(await ref.data()));
          tf.dispose([fused, ref]);
        }
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, ...Object.values(perRow)]);
  });

  test('computeMetrics: within 1e-4 of the generic path (3-D scores, NaN rows)', () => {
    const logits = tf.tensor2d(logitRows(16, 700, 9), [16, 700]);
    const scores = tf.tensor3d(attentionRows(16, 3, 1, 33, 4), [16, 3, 33]);
    const fused = computeMetrics(logits, scores);
    const ref = generic(() => computeMetrics(logits, scores));
    for (const k of METRICS) expectClose(fused[k].dataSync(), ref[k].dataSync());
    tf.dispose([logits, scores, fused, ref]);
  });

  test('kernels per step, as counted numbers; nothing read back inside a step', async () => {
    const logits = tf.tensor2d(logitRows(2, 4096, 3), [2, 4096]);
    const scores = tf.tensor3d(attentionRows(2, 8, 1, 64, 3), [2, 8, 64]);
    const sampler = new EntropixSampler(config);
    // clip, candidates, softmax, sub, 2 × (mul, reshape, avgPool) for Σ p·d and Σ p·d², the
    // attention's reshape, clip and softmax, its mean over heads (reshape, avgPool), the metric
    // kernel, decide + draw: 17 (the block search adds a reshape and a max-pool for V ≥ 64·cap).
    expect(await kernelsOf(() => sampler.sample(logits, scores, { seed: 1 }))).toBe(17);
    expect(await kernelsOf(() => sampler.sample(logits, null, { seed: 1 }))).toBe(12); // logits only
    const genericKernels = await kernelsOf(() => generic(() => sampler.sample(logits, scores, { seed: 1 })));
    expect(genericKernels).toBeGreaterThan(150);
    expect(await kernelsOf(() => sampleTokens(logits, { temperature: 0.7, topK: 27, topP: 0.9 }, 1))).toBe(3);
    expect(await kernelsOf(() => computeMetrics(logits, scores))).toBe(18); // k = 1: the block search runs
    let result: SampleResult | undefined;
    expect(countReads(() => { result = sampler.sample(logits, scores, { seed: 1 }); })).toBe(0);
    let others: tf.TensorContainer[] = [];
    expect(countReads(() => {
      others = [
        sampleTokens(logits, { topP: 0.9 }, 1), computeMetrics(logits, scores),
        sampler.sample(logits, null, { seed: 2 }), new EntropixSampler({ topK: 0 }).sample(logits, scores, { seed: 3 }),
      ];
    })).toBe(0);
    tf.dispose([result!, logits, scores, others]);
  });

  test('logits only (no attention scores): same tokens, states and metrics', async () => {
    const logits = tf.tensor2d(logitRows(B, V, 11), [B, V]);
    const lastTokens = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => (b % 2 ? 17 : 0)), 'int32');
    const sampler = new EntropixSampler(config);
    const before = tf.memory().numTensors;
    const states = new Set<number>();
    for (const seed of [7, Array.from({ length: B }, (_, b) => 50 + 3 * b)]) {
      const fused = await readResult(sampler.sample(logits, null, { seed, lastTokens }));
      const ref = await readResult(generic(() => sampler.sample(logits, null, { seed, lastTokens })));
      expect(fused.tokens).toEqual(ref.tokens);
      expect(fused.states).toEqual(ref.states);
      METRICS.forEach((_, i) => expectClose(fused.metrics[i]!, ref.metrics[i]!));
      for (let i = 2; i < 6; i++) expect(Array.from(fused.metrics[i]!).every(Number.isNaN)).toBe(true);
      ref.states.forEach((st) => states.add(st));
    }
    expect(states.size).toBeGreaterThanOrEqual(4);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, lastTokens]);
  });

  test('the block search (V = 64·cap), empty heads and fully masked rows: same as the generic path', async () => {
    const [b, v, h, t] = [24, 4096, 3, 17];
    const logits = tf.tensor2d(logitRows(b, v, 13), [b, v]);
    const raw = attentionRows(b, h, 1, t, 14);
    for (let k = 0; k < t; k++) raw[(2 * h + 1) * t + k] = NaN; // row 2, head 1: no real key
    const scores = tf.tensor3d(raw, [b, h, t]);
    // Row 5 has no real key at all; others lose a few keys (left padding and a hole).
    const keyMask = tf.tensor2d(Float32Array.from({ length: b * t }, (_, i) => {
      const [row, key] = [Math.floor(i / t), i % t];
      return row === 5 || key < row % 4 || key === 9 ? 0 : 1;
    }), [b, t]);
    const before = tf.memory().numTensors;
    for (const cfg of [{ candidateCap: 64, clarifyingTokenId: 17 }, { candidateCap: 64, topK: 0 }]) {
      const sampler = new EntropixSampler(cfg);
      for (const seed of [1, 2]) {
        const opts = { seed, keyMask };
        const fused = await readResult(sampler.sample(logits, scores, opts));
        const ref = await readResult(generic(() => sampler.sample(logits, scores, opts)));
        expect(fused.tokens).toEqual(ref.tokens);
        expect(fused.states).toEqual(ref.states);
        METRICS.forEach((_, i) => expectClose(fused.metrics[i]!, ref.metrics[i]!));
      }
    }
    const fused = computeMetrics(logits, scores, { keyMask });
    const ref = generic(() => computeMetrics(logits, scores, { keyMask }));
    for (const k of METRICS) expectClose(fused[k].dataSync(), ref[k].dataSync());
    expect(fused.interactionStrength.dataSync()[5]).toBe(0); // no real pair
    tf.dispose([fused, ref]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, scores, keyMask]);
  });

  test('bad input is refused as on the generic path, with no leak', () => {
    const sampler = new EntropixSampler();
    const logits = tf.zeros([2, 10]) as tf.Tensor2D;
    const scores = tf.zeros([2, 2, 4]);
    const intLogits = tf.zeros([2, 10], 'int32') as tf.Tensor2D;
    const wrongBatch = tf.zeros([3, 2, 4]);
    const wrongMask = tf.zeros([2, 5]) as tf.Tensor2D;
    expectRefused(() => sampler.sample(intLogits, scores), 'INVALID_DTYPE', 'logits');
    expectRefused(() => sampler.sample(logits, wrongBatch), 'INVALID_SHAPE', 'attentionScores');
    expectRefused(() => sampler.sample(logits, scores, { keyMask: wrongMask }), 'INVALID_SHAPE', 'keyMask');
    expectRefused(() => sampleTokens(logits, { topK: 1.5 }, 1), 'INVALID_ARGUMENT', 'params.topK');
    expectRefused(() => sampleTokens(logits, {}, [1]), 'INVALID_ARGUMENT', 'seed');
    tf.dispose([logits, scores, intLogits, wrongBatch, wrongMask]);
  });
});

describe('top-k keeps ties with the k-th largest logit (Hugging Face, vLLM)', () => {
  // Logits 5, 5, 3, 3, 3, 1, … : top-k 3 keeps the five tokens ≥ 3; top-k 2 keeps the two 5s.
  const vocab = 600;
  const row = Float32Array.from({ length: vocab }, (_, i) => (i < 2 ? 5 : i < 5 ? 3 : 1 - i / vocab));
  const drawn = (topK: number): Set<number> => {
    const logits = tf.tensor2d(row, [1, vocab]);
    const seen = new Set<number>();
    for (let seed = 0; seed < 300; seed++) {
      const t = sampleTokens(logits, { temperature: 3, topK }, seed);
      seen.add(t.dataSync()[0]!);
      t.dispose();
    }
    logits.dispose();
    return seen;
  };
  test.each([['wasm', false], ['wasm', true], ['cpu', true]] as const)('%s (generic %s)', async (backend, forceGeneric) => {
    await useBackend(backend);
    tf.env().set(GENERIC_FLAG, forceGeneric);
    try {
      expect(drawn(3)).toEqual(new Set([0, 1, 2, 3, 4]));
      expect(drawn(2)).toEqual(new Set([0, 1]));
      expect(drawn(6).size).toBe(6);
      // Candidates come in one order on every path: logit descending, ties by token id.
      const tied = tf.tensor2d(Float32Array.from({ length: 2 * 4096 }, (_, i) => (i * 7919) % 5), [2, 4096]);
      const cand = tf.tidy(() => samplingStrategy().candidates(tied, 300));
      const values = cand.values.dataSync();
      const indices = cand.indices.dataSync();
      for (let i = 1; i < values.length; i++) {
        if (i % 300 === 0) continue;
        expect(values[i]! < values[i - 1]! || (values[i] === values[i - 1] && indices[i]! > indices[i - 1]!)).toBe(true);
      }
      tf.dispose([tied, cand]);
      // The block searches (V a multiple of 16, ≥ 64·cap; two rows for the generic two-stage one)
      // give tf.topk's candidates exactly, also when block maxima tie.
      const wide = tf.tensor2d(Float32Array.from({ length: 2 * 32768 }, (_, i) => ((i * 7919) % 5) + (i % 9973 === 0 ? 9 : 0)), [2, 32768]);
      const ours = tf.tidy(() => samplingStrategy().candidates(wide, 64));
      const ref = tf.topk(wide, 64);
      expect(Array.from(ours.indices.dataSync())).toEqual(Array.from(ref.indices.dataSync()));
      expect(Array.from(ours.values.dataSync())).toEqual(Array.from(ref.values.dataSync()));
      tf.dispose([wide, ours, ref.values, ref.indices]);
      // Sorted, reversed and constant rows (the streaming search's worst cases), ±0 ties, with
      // and without the block search.
      for (const n of [1000, 16384]) {
        const rows = [(i: number) => i / n, (i: number) => -i / n, () => 1, (i: number) => (i % 3 ? 0 : -0)];
        const x = tf.tensor2d(Float32Array.from({ length: rows.length * n }, (_, i) => rows[Math.floor(i / n)]!(i % n)), [rows.length, n]);
        const got = tf.tidy(() => samplingStrategy().candidates(x, 64));
        const want = tf.topk(x, 64);
        expect(Array.from(got.indices.dataSync())).toEqual(Array.from(want.indices.dataSync()));
        expect(Array.from(got.values.dataSync())).toEqual(Array.from(want.values.dataSync()));
        tf.dispose([x, got, want.values, want.indices]);
      }
    } finally {
      tf.env().set(GENERIC_FLAG, false);
    }
  });
});

describe('the host-side step (read back, then plain JS)', () => {
  beforeAll(() => useBackend('wasm'));
  test('same tokens and states as the device paths, metrics within 1e-4', async () => {
    const [batch, vocab, heads, queries, keys] = [40, 2500, 4, 1, 48];
    const x = logitRows(batch, vocab, 21);
    const s = attentionRows(batch, heads, queries, keys, 22);
    const mask = Float32Array.from({ length: batch * keys }, (_, i) => (i % keys < keys - (i % 5) ? 1 : 0));
    const last = Int32Array.from({ length: batch }, (_, b) => (b % 2 ? 17 : 0));
    const cfg = { clarifyingTokenId: 17 };
    const sampler = new EntropixSampler(cfg);
    const table = compileRegimes(sampler.config);
    const logits = tf.tensor2d(x, [batch, vocab]);
    const scores = tf.tensor3d(s, [batch, heads, keys]);
    const keyMask = tf.tensor2d(mask, [batch, keys]);
    const lastTokens = tf.tensor1d(last, 'int32');
    for (const seed of [5, 6]) {
      const noise = gumbelNoise(seed, batch, table.adaptiveSamples, Math.min(sampler.config.candidateCap, vocab));
      const host = hostEntropixStep({
        logits: x, batch, vocab, scores: s, heads, queries, keys, keyMask: mask, lastTokens: last,
      }, table, sampler.config.candidateCap, 17, noise);
      const opts = { seed, keyMask, lastTokens };
      for (const device of [await readResult(sampler.sample(logits, scores, opts)),
        await readResult(generic(() => sampler.sample(logits, scores, opts)))]) {
        expect(Array.from(host.tokens)).toEqual(device.tokens);
        expect(Array.from(host.states)).toEqual(device.states);
        METRICS.forEach((_, i) => expectClose(host.metrics[i]!, device.metrics[i]!));
      }
    }
    tf.dispose([logits, scores, keyMask, lastTokens]);
  });
});
