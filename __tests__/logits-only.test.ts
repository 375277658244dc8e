// Entropix from logits alone: EntropixSampler.sample(logits, null) and computeMetrics(logits) on
// every sampling path (generic tf ops, the wasm kernels; webgpu in a child process), the
// logits-only regime rules checked against the formulas, no read-back, no leaks, refusals;
// and generate with a model that has no attention scores, with and without a cache.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { tf, useBackend, EntropixSampler, computeMetrics, generate, DEFAULT_SAMPLER_CONFIG, SamplerState } from '../lib';
import type { KVCache, LanguageModel, SamplerConfig } from '../lib';
import { GENERIC_FLAG, samplingStrategy } from '../lib/sampling/backends/strategy';
import { compileLogitsOnlyRegimes, compileRegimes, decideRegimes } from '../lib/sampling/regimes';
import { regimeAt } from '../lib/sampling/states';
import { resolveSamplerConfig } from '../lib/sampling/config';
import { countReads, expectRefused } from './helpers/tensors';
import { METRICS, generic, rng, normal, readResult } from './helpers/paths';

/** Rows for every regime (gaps that put a peak of probability q over a flat rest), then special rows. */
function logitRows(batch: number, vocab: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(batch * vocab);
  const peaked = (q: number) => Math.log(q / (1 - q) * (vocab - 1));
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * vocab, (b + 1) * vocab);
    const peak = Math.floor(r() * vocab);
    const jitter = () => 0.01 * normal(r);
    for (let i = 0; i < vocab; i++) {
      switch (b % 8) {
        case 0: row[i] = i === peak ? 25 : jitter(); break; // flowing
        case 1: row[i] = (i + peak) % vocab < 20 ? 10 + jitter() : -30; break; // treading
        case 2: row[i] = i === peak ? peaked(0.6) : jitter(); break; // exploring
        case 3: row[i] = i === peak ? peaked(0.3) : jitter(); break; // resampling
        case 4: row[i] = normal(r); break; // adaptive
        case 5: row[i] = b % 16 === 5 ? NaN : 2 * normal(r); break; // one all-NaN row
        case 6: row[i] = i === 3 ? NaN : i === 5 ? -Infinity : i === 7 ? Infinity : normal(r); break;
        default: row[i] = Math.round(normal(r) * 4) / 4; break; // ties
      }
    }
  }
  return x;
}

function expectClose(a: number[], b: number[], tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => {
    if (Number.isNaN(v)) expect(a[i]).toBeNaN();
    else expect(Math.abs(a[i]! - v)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v)));
  });
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The logits-only rules, written out: [temperature, topK, topP, minP] per state. */
function expectedParams(c: SamplerConfig, state: SamplerState, ent: number, vent: number): number[] {
  const { temperature: T0, topK: k0, topP: p0, minP: m0 } = c;
  switch (state) {
    case SamplerState.Flowing: return [0, k0, p0, m0];
    case SamplerState.Treading: return [Math.min(1.5, 1.3 * T0), k0, p0, m0];
    case SamplerState.Exploring: return [Math.min(1.5, 1.2 * T0), Math.max(5, k0), p0, m0];
    case SamplerState.Resampling: return [Math.max(2.0, 2.0 * T0), k0, Math.max(0.5, p0), m0];
    case SamplerState.Adaptive: return [
      T0 * (1 + 0.3 * (ent + vent)), clamp(Math.round(k0), 1, 100), clamp(p0, 0.1, 1),
      clamp(0.03 * (1 - 0.5 * (ent + vent)), 0.01, 0.5), // minP: the same rule as with scores
    ];
    default: return [T0, k0, p0, m0];
  }
}

beforeAll(() => useBackend('wasm'));
afterEach(() => tf.env().set(GENERIC_FLAG, false));

describe('the logits-only regime table', () => {
  // (entropy, varentropy) points inside each regime under the default thresholds.
  const points: [SamplerState, number, number][] = [
    [SamplerState.Flowing, 0.05, 0.05], [SamplerState.Treading, 3.5, 0.05], [SamplerState.Exploring, 4, 6],
    [SamplerState.Resampling, 6, 6], [SamplerState.Adaptive, 2, 2], [SamplerState.Adaptive, 0.3, 0.4],
    [SamplerState.Adaptive, 6, 1],
  ];
  const configs: Partial<SamplerConfig>[] = [
    {}, // T0 0.666, topK0 27, topP0 0.9
    { temperature: 1.4, topK: 3, topP: 0.3, minP: 0.05 },
    { temperature: 0.3, topK: 150, topP: 0.05 },
    // Gates that would shut every regime with scores: ignored without them.
    { gates: { flowing: { minAttnEntropy: 1e6 }, treading: { maxAgreement: -1 }, exploring: { minInteraction: 1e6 },
      resampling: { maxAttnVarentropy: -1 }, adaptive: { minAgreement: 1e6 } } },
  ];

  test('attention columns: no weight, no bound', () => {
    const c = resolveSamplerConfig(configs[3]);
    const t = compileLogitsOnlyRegimes(c);
    const withScores = compileRegimes(c);
    const rowOf = (array: Float32Array, f: number) => array.slice(f * 36, (f + 1) * 36);
    for (const f of [2, 3, 4, 5]) {
      expect(Array.from(rowOf(t.weights, f)).every((w) => w === 0)).toBe(true);
      expect(Array.from(rowOf(withScores.weights, f)).some((w) => w !== 0)).toBe(true); // the full table has some
      for (let s = 0; s < 6; s++) {
        expect(t.lower[s * 7 + f]).toBe(-Infinity);
        expect(t.upper[s * 7 + f]).toBe(Infinity);
      }
    }
    expect(withScores.lower[2]).toBe(1e6); // flowing's gate is in the full table
  });

  test.each(['generic', 'wasm'])('%s: each regime takes the issue\'s parameters, whatever the attention columns hold', async (path) => {
    expect(samplingStrategy().name).toBe('wasm');
    const r = rng(9);
    for (const partial of configs) {
      const c = resolveSamplerConfig(partial);
      const table = compileLogitsOnlyRegimes(c);
      // Metric rows with random (even huge) attention columns: they must not matter.
      const rows = points.map(([, ent, vent]) => [ent, vent, 50 * r(), 50 * r(), r(), 1e4 * r(), 1]);
      const m = tf.tensor2d(rows);
      const decide = () => path === 'generic' ? decideRegimes(table, m) : samplingStrategy().decideRegimes(table, m);
      const d = tf.tidy(() => {
        const x = decide();
        return [x.states, x.temperature, x.topK, x.topP, x.minP];
      });
      const [states, ...params] = await Promise.all(d.map(async (t) => Array.from(await t.data())));
      tf.dispose([d, m]);
      points.forEach(([state, ent, vent], i) => {
        expect([partial, i, states![i]]).toEqual([partial, i, state]);
        const want = expectedParams(c, state, ent, vent);
        want.forEach((v, p) => expect(Math.abs(params[p]![i]! - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, v)));
      });
    }
  });
});

describe('EntropixSampler.sample and computeMetrics without attention scores', () => {
  const B = 32;
  const V = 1000;
  const config = { clarifyingTokenId: 17 };

  test('wasm kernels = generic: tokens, states, metrics (1e-4), NaN attention metrics; states from entropy and varentropy only', async () => {
    const logits = tf.tensor2d(logitRows(B, V, 1), [B, V]);
    const lastTokens = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => (b % 3 === 0 ? 17 : b)), 'int32');
    // With scores, for the logit metrics' reference.
    const scores = tf.randomNormal([B, 4, 12], 0, 2, 'float32', 5);
    const withScores = computeMetrics(logits, scores);
    const refEntropy = Array.from(await withScores.entropy.data());
    const refVarentropy = Array.from(await withScores.varentropy.data());
    tf.dispose(withScores);
    const gated = new EntropixSampler({ ...config, gates: { flowing: { minAttnEntropy: 1e6 }, adaptive: { maxAgreement: -1 } } });
    const before = tf.memory().numTensors;
    for (const sampler of [new EntropixSampler(config), gated]) {
      for (const seed of [3, Array.from({ length: B }, (_, b) => 1000 + b)]) {
        const fused = await readResult(sampler.sample(logits, null, { seed, lastTokens }));
        const ref = await readResult(generic(() => sampler.sample(logits, undefined, { seed, lastTokens })));
        expect(fused.tokens).toEqual(ref.tokens);
        expect(fused.states).toEqual(ref.states);
        METRICS.forEach((_, i) => expectClose(fused.metrics[i]!, ref.metrics[i]!));
        expectClose(ref.metrics[0]!, refEntropy);
        expectClose(ref.metrics[1]!, refVarentropy);
        for (const i of [2, 3, 4, 5]) expect(ref.metrics[i]!.every(Number.isNaN)).toBe(true);
        ref.states.forEach((s, b) => {
          const ent = ref.metrics[0]![b]!;
          const vent = ref.metrics[1]![b]!;
          const want = Number.isNaN(ent) ? SamplerState.Base : (['flowing', 'treading', 'exploring', 'resampling', 'adaptive', 'base'] as const)
            .indexOf(regimeAt(ent, vent, DEFAULT_SAMPLER_CONFIG));
          expect([b, s]).toEqual([b, want]);
        });
        expect(new Set(ref.states)).toEqual(new Set([0, 1, 2, 3, 4, 5])); // every regime, and Base (the NaN row)
        expect(ref.tokens).toContain(-1); // only the all-NaN row
        expect(ref.tokens.filter((t) => t === -1).length).toBe(2);
        expect(ref.tokens).toContain(17); // treading's clarifying token
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, lastTokens, scores]);
  });

  test.each(['generic', 'wasm'])('%s: computeMetrics(logits) = the logit metrics, NaN attention metrics', async (path) => {
    const logits = tf.tensor2d(logitRows(B, V, 2), [B, V]);
    const scores = tf.randomNormal([B, 2, 7], 0, 1, 'float32', 6);
    const run = <T>(f: () => T) => (path === 'generic' ? generic(f) : f());
    const before = tf.memory().numTensors;
    const m = run(() => computeMetrics(logits));
    const full = run(() => computeMetrics(logits, scores));
    expect(tf.memory().numTensors - before).toBe(12);
    for (const k of METRICS) {
      const got = Array.from(await m[k].data());
      expect(m[k].shape).toEqual([B]);
      if (k === 'entropy' || k === 'varentropy') expectClose(got, Array.from(await full[k].data()));
      else expect(got.every(Number.isNaN)).toBe(true);
    }
    tf.dispose([m, full, logits, scores]);
    expect(tf.memory().numTensors).toBe(before - 2);
  });

  test.each(['generic', 'wasm'])('%s: no read-back inside sample or computeMetrics; nothing leaks', (path) => {
    const logits = tf.tensor2d(logitRows(8, 300, 3), [8, 300]);
    const sampler = new EntropixSampler(config);
    const run = <T>(f: () => T) => (path === 'generic' ? generic(f) : f());
    const before = tf.memory().numTensors;
    let out: tf.TensorContainer[] = [];
    expect(countReads(() => run(() => { out = [sampler.sample(logits, null, { seed: 1 }), computeMetrics(logits, null)]; }))).toBe(0);
    tf.dispose(out);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  test('the draw uses the logits-only exploring parameters: topK = max(5, topK0) = 8 tokens, T = 1.2·T0', async () => {
    // One row in Exploring (ent ≈ 4.0 < 5, vent ≈ 16 > 5): a peak of probability 0.6 over 199
    // distinct near-equal logits. T0 = 1, topK0 = 8, top-p and min-p off.
    const V2 = 200;
    const peak = 100;
    const row = Array.from({ length: V2 }, (_, i) => (i === peak ? Math.log(1.5 * (V2 - 1)) : -1e-4 * i));
    const top8 = [peak, 0, 1, 2, 3, 4, 5, 6];
    const rows = 500;
    const logits = tf.tensor2d(Array.from({ length: rows }, () => row));
    const sampler = new EntropixSampler({ temperature: 1, topK: 8, topP: 1, minP: 0 });
    const drawn = new Map<number, number>();
    for (let rep = 0; rep < 4; rep++) {
      const r = await readResult(sampler.sample(logits, null, { seed: Array.from({ length: rows }, (_, b) => 7 + rep * rows + b) }));
      expect(new Set(r.states)).toEqual(new Set([SamplerState.Exploring]));
      for (const t of r.tokens) drawn.set(t, (drawn.get(t) ?? 0) + 1);
    }
    logits.dispose();
    // Exactly the 8 best tokens (⌊8·1.5⌋ = 12 if the agreement term's constant had stayed).
    expect([...drawn.keys()].sort((a, b) => a - b)).toEqual([...top8].sort((a, b) => a - b));
    // Off-peak share at T = 1.2: 7 / (7 + e^(ln(298.5)/1.2)) = 5.7% of 2000 draws ≈ 114 (sd 10);
    // T = 1 would give ≈ 46, T = 1.5 ≈ 270. Tolerance ±3 sd.
    const offPeak = 2000 - drawn.get(peak)!;
    expect(offPeak).toBeGreaterThanOrEqual(83);
    expect(offPeak).toBeLessThanOrEqual(145);
  });

  test('bad inputs refused as with scores, allocating nothing', () => {
    const logits = tf.zeros([2, 5]);
    const mask = tf.ones([2, 3]);
    const flat = tf.zeros([5]);
    const ints = tf.zeros([2, 5], 'int32');
    const sampler = new EntropixSampler();
    expectRefused(() => sampler.sample(logits, null, { keyMask: mask }), 'INVALID_ARGUMENT', 'keyMask');
    expectRefused(() => computeMetrics(logits, undefined, { keyMask: mask }), 'INVALID_ARGUMENT', 'keyMask');
    expectRefused(() => sampler.sample(flat, null), 'INVALID_SHAPE', 'logits');
    expectRefused(() => computeMetrics(ints, null), 'INVALID_DTYPE', 'logits');
    expectRefused(() => sampler.sample(logits, 5 as unknown as tf.Tensor), 'INVALID_ARGUMENT', 'attentionScores');
    expectRefused(() => sampler.sample(logits, null, { seed: [1, 2, 3] }), 'INVALID_ARGUMENT', 'options.seed');
    tf.dispose([logits, mask, flat, ints]);
  });
});

describe('generate with a model that has no attention scores', () => {
  const VOCAB = 11;

  /** Next-token logits from the last token and the sequence length (so a re-run matters). */
  function logitsFor(ids: number[][], last: number[], lengths: number[]): tf.Tensor2D {
    return tf.tensor2d(last.map((t, b) => Array.from({ length: VOCAB }, (_, v) =>
      Math.sin(1.3 * t + 0.7 * v + 0.1 * lengths[b]!) * 3 + (v === (t + 1) % VOCAB ? 2 : 0))));
  }

  /** With a cache (which only counts positions), or without one (then it sees the whole sequence). */
  function tinyModel(withCache: boolean, seen: number[]): LanguageModel {
    return {
      config: { vocabSize: VOCAB, maxPositions: 32 },
      forward(inputIds, cache) {
        const ids = inputIds.arraySync();
        const length = (cache?.length ?? 0) + ids[0]!.length;
        seen.push(ids[0]!.length);
        if (cache) cache.dispose();
        const logits = logitsFor(ids, ids.map((row) => row[row.length - 1]!), ids.map(() => length));
        const next: KVCache = { length, dispose: () => undefined };
        return withCache ? { logits, cache: next } : { logits };
      },
    };
  }

  test('the same tokens with and without a cache (no cache: the whole sequence each step); attention metrics NaN; no leak', async () => {
    const before = tf.memory().numTensors;
    const runs: { tokens: number[][]; seen: number[]; attn: number[] }[] = [];
    for (const withCache of [true, false]) {
      const seen: number[] = [];
      const tokens: number[][] = [];
      const attn: number[] = [];
      for await (const step of generate(tinyModel(withCache, seen), [[1, 2, 3], [4, 5, 6]], { maxNewTokens: 6, seed: [7, 8] })) {
        tokens.push(step.tokenIds);
        attn.push(...step.metrics.attnEntropy, ...step.metrics.agreement);
        expect(step.metrics.entropy.every(Number.isFinite)).toBe(true);
      }
      runs.push({ tokens, seen, attn });
    }
    expect(runs[0]!.tokens).toEqual(runs[1]!.tokens);
    expect(runs[0]!.tokens.length).toBe(6);
    expect(runs[0]!.seen).toEqual([3, 1, 1, 1, 1, 1]);
    expect(runs[1]!.seen).toEqual([3, 4, 5, 6, 7, 8]);
    expect(runs[1]!.attn.every(Number.isNaN)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a model whose logits are not [B, vocabSize] is refused, and nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const model: LanguageModel = {
      config: { vocabSize: VOCAB, maxPositions: 32 },
      forward: () => ({ logits: tf.zeros([1, VOCAB + 1]) as tf.Tensor2D }),
    };
    await expect(generate(model, [[1]], { maxNewTokens: 2 }).next()).rejects.toMatchObject({ code: 'INVALID_SHAPE' });
    const noConfig = { forward: model.forward } as unknown as LanguageModel;
    await expect(generate(noConfig, [[1]], { maxNewTokens: 2 }).next()).rejects.toMatchObject({ argument: 'model.config' });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('webgpu (Dawn in a child process)', () => {
  test('fused programs without scores = generic on the same adapter: tokens, states, metrics (1e-4), NaN attention, no read, no leak', () => {
    const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'helpers', 'logits-only-webgpu-child.ts')], {
      encoding: 'utf8', timeout: 100_000,
      env: { ...process.env, EGL_PLATFORM: 'surfaceless', ENTROPIX_WEBGPU_SOFTWARE: '1' },
    });
    if (child.status !== 0) throw new Error(`child failed: ${child.stderr.slice(-2000)}`);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    if (out.unavailable) {
      const message = `webgpu logits-only sampling not checked: ${out.unavailable} (install Mesa: apt-get install libegl1 libgles2 libgl1-mesa-dri)`;
      if (process.env.CI === 'true') throw new Error(message);
      console.warn(message);
      return;
    }
    expect(out.strategy).toBe('webgpu');
    expect(out.fused.tokens).toEqual(out.generic.tokens);
    expect(out.fused.states).toEqual(out.generic.states);
    expect(new Set(out.generic.states)).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    for (const part of ['step', 'metrics']) {
      for (const k of METRICS) {
        const g: (number | null)[] = out.generic[part][k];
        const f: (number | null)[] = out.fused[part][k];
        if (k === 'entropy' || k === 'varentropy') {
          expectClose(f.map((x) => x ?? NaN), g.map((x) => x ?? NaN));
        } else {
          expect(f.every((x) => x === null)).toBe(true); // NaN through JSON
          expect(g.every((x) => x === null)).toBe(true);
        }
      }
    }
    expect(out.dispatches).toEqual({ step: 1, metrics: 1 });
    expect(out.reads).toBe(0);
    expect(out.leaked).toBe(0);
  }, 110_000);
});
