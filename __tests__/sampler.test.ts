import { tf, useBackend, EntropixSampler, SamplerState, DEFAULT_SAMPLER_CONFIG, SamplerConfig, Metrics } from '../lib';
import { compileRegimes, decideRegimes } from '../lib/sampling/regimes';
import { resolveSamplerConfig } from '../lib/sampling/config';
import { bestOfN, referenceDistribution, RefParams } from './helpers/reference';
import { expectFits, histogram } from './helpers/stats';
import { countReads, expectRefused } from './helpers/tensors';
import { expectSameTokens, onBackend } from './helpers/backends';

type MetricValues = Record<keyof Metrics, number>;

/** The regime rules exactly as the README states them, in float64. */
function specDecision(m: MetricValues, c: SamplerConfig = DEFAULT_SAMPLER_CONFIG): { state: SamplerState } & RefParams & { samples: number } {
  const base = { temperature: c.temperature, topK: c.topK, topP: c.topP, minP: c.minP, samples: 1 };
  const { entropy: ent, varentropy: vent, attnEntropy: ae, attnVarentropy: av, agreement: ag, interactionStrength: is } = m;
  const T0 = c.temperature;
  const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
  if (ent < 0.1 && vent < 0.1) return { ...base, state: SamplerState.Flowing, temperature: 0 };
  if (ent > 3 && vent < 0.1) return { ...base, state: SamplerState.Treading, temperature: Math.min(1.5, T0 * (1.3 + 0.2 * ae)) };
  if (ent < 5 && vent > 5) {
    return {
      ...base, state: SamplerState.Exploring, temperature: Math.min(1.5, T0 * (1.2 + 0.3 * is)),
      topK: Math.max(5, Math.floor(c.topK * (1 + 0.5 * (1 - ag)))),
    };
  }
  if (ent > 5 && vent > 5) {
    return {
      ...base, state: SamplerState.Resampling, temperature: Math.max(2, T0 * (2 + 0.5 * av)),
      topP: Math.max(0.5, c.topP - 0.2 * ae),
    };
  }
  return {
    state: SamplerState.Adaptive,
    temperature: T0 * (1 + 0.3 * (ent + vent) + 0.2 * (ae + av) - 0.2 * ag),
    topP: clamp(c.topP * (1 + 0.1 * av), 0.1, 1),
    topK: clamp(Math.round(c.topK * (1 + 0.3 * is - 0.2 * ag)), 1, 100),
    minP: clamp(0.03 * (1 - 0.5 * (ent + vent)), 0.01, 0.5),
    samples: 5,
  };
}

const METRIC_KEYS: (keyof Metrics)[] = ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'];

/** The sampler's metric table [B, 7]: the six metrics, then 1 (0 for a row whose entropy is NaN). */
function metricTable(rows: MetricValues[]): tf.Tensor2D {
  return tf.tensor2d(rows.map((r) => [
    ...METRIC_KEYS.map((k) => (Number.isNaN(r[k]) ? 0 : r[k])), Number.isNaN(r.entropy) ? 0 : 1,
  ]));
}

async function readMetrics(m: Metrics, row: number): Promise<MetricValues> {
  const out = {} as MetricValues;
  for (const k of METRIC_KEYS) out[k] = (await m[k].data())[row]!;
  return out;
}

/** Logits of a row whose softmax is `head` followed by `tailCount` tokens sharing `tailMass`. */
function forkRow(vocab: number, head: number[], tailCount = 0, tailMass = 0, jitter = 0): number[] {
  const row = new Array<number>(vocab).fill(-Infinity);
  head.forEach((p, i) => { row[i] = Math.log(p); });
  for (let i = 0; i < tailCount; i++) row[head.length + i] = Math.log(tailMass / tailCount) + jitter * Math.sin(1 + i * 0.77);
  return row;
}

describe('regime table (decideRegimes) against the README formulas', () => {
  beforeAll(() => useBackend('cpu'));
  const rows: MetricValues[] = [
    { entropy: 0.05, varentropy: 0.02, attnEntropy: 1.1, attnVarentropy: 0.3, agreement: 0.2, interactionStrength: 0.7 },
    { entropy: 3.5, varentropy: 0.05, attnEntropy: 2.3, attnVarentropy: 0.4, agreement: 0.1, interactionStrength: 1.2 },
    { entropy: 3.5, varentropy: 0.05, attnEntropy: 0.3, attnVarentropy: 0.4, agreement: 0.1, interactionStrength: 1.2 },
    { entropy: 2.2, varentropy: 7.5, attnEntropy: 2.0, attnVarentropy: 0.9, agreement: 0.37, interactionStrength: 0.55 },
    { entropy: 6.1, varentropy: 8.0, attnEntropy: 3.1, attnVarentropy: 1.7, agreement: 0.3, interactionStrength: 2.1 },
    { entropy: 6.1, varentropy: 8.0, attnEntropy: 0.4, attnVarentropy: 0.2, agreement: 0.3, interactionStrength: 2.1 },
    { entropy: 1.7, varentropy: 1.3, attnEntropy: 2.6, attnVarentropy: 0.8, agreement: 0.45, interactionStrength: 0.9 },
    { entropy: 0.02, varentropy: 0.3, attnEntropy: 0.1, attnVarentropy: 0.0, agreement: 0.05, interactionStrength: 3.3 },
  ];

  test('every row gets its own state and parameters', async () => {
    const before = tf.memory().numTensors;
    const table = compileRegimes(resolveSamplerConfig({}));
    const m = metricTable(rows);
    const d = tf.tidy(() => decideRegimes(table, m));
    const [states, T, k, p, mp, samples] = await Promise.all(
      [d.states, d.temperature, d.topK, d.topP, d.minP, d.samples].map((t) => t.data()));
    rows.forEach((row, i) => {
      const want = specDecision(row);
      expect([i, states[i]]).toEqual([i, want.state]);
      expect(T[i]).toBeCloseTo(want.temperature, 5);
      expect(k[i]).toBe(want.topK);
      expect(p[i]).toBeCloseTo(want.topP, 5);
      expect(mp[i]).toBeCloseTo(want.minP, 5);
      expect(samples[i]).toBe(want.samples);
    });
    expect(new Set(Array.from(states))).toEqual(new Set([0, 1, 2, 3, 4]));
    tf.dispose([d, m]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('switched-off regimes fall through; NaN metrics end in Base; gates apply', async () => {
    const flowing = rows[0]!;
    const nan = { ...rows[6]!, entropy: NaN };
    const cases: [Partial<SamplerConfig>, MetricValues, SamplerState][] = [
      [{ enabledRegimes: ['treading', 'exploring', 'resampling', 'adaptive'] }, flowing, SamplerState.Adaptive],
      [{ enabledRegimes: ['treading'] }, flowing, SamplerState.Base],
      [{ enabledRegimes: [] }, rows[4]!, SamplerState.Base],
      [{}, nan, SamplerState.Base],
      [{ gates: { flowing: { maxAttnEntropy: 1.0 } } }, flowing, SamplerState.Adaptive],
      [{ gates: { flowing: { maxAttnEntropy: 1.2 } } }, flowing, SamplerState.Flowing],
      [{ gates: { resampling: { minAgreement: 0.5 } } }, rows[4]!, SamplerState.Adaptive],
    ];
    for (const [config, row, state] of cases) {
      const m = metricTable([row]);
      const d = decideRegimes(compileRegimes(resolveSamplerConfig(config)), m);
      expect([config, (await d.states.data())[0]]).toEqual([config, state]);
      if (state === SamplerState.Base) {
        expect((await d.temperature.data())[0]).toBeCloseTo(DEFAULT_SAMPLER_CONFIG.temperature, 6);
        expect((await d.topK.data())[0]).toBe(DEFAULT_SAMPLER_CONFIG.topK);
      }
      tf.dispose([d, m]);
    }
  });
});

const V = 2001;
const attention = (rows: number, seed = 5) =>
  tf.tidy(() => tf.tile(tf.randomNormal([1, 4, 24], 0, 1.5, 'float32', seed), [rows, 1, 1]));

// Statistical checks of the whole step: the sampler's own metrics → the README's formulas →
// the exact distribution (best of 5 for adaptive), against many identical rows. They run on wasm;
// the cpu backend must then draw the same tokens (same seeds) on fewer rows.
const DRAWS = 2000;
const CPU_ROWS = 200;
const STAT_CASES: [string, number[], SamplerState][] = [
  ['exploring', forkRow(V, [0.9], 2000, 0.1, 0.3), SamplerState.Exploring],
  ['resampling', forkRow(V, [0.3], 2000, 0.7, 0.5), SamplerState.Resampling],
  ['adaptive (best of 5)', forkRow(V, [0.3, 0.2, 0.15, 0.1], 40, 0.25, 0.6), SamplerState.Adaptive],
];

/** The sampler's step on `rows` copies of one row: tokens, states and row 0's metrics. */
async function sampleRows(row: number[], rows: number): Promise<{ tokens: Int32Array; states: Int32Array; metrics: MetricValues }> {
  const x = tf.tidy(() => tf.tile(tf.tensor2d([row]), [rows, 1]) as tf.Tensor2D);
  const att = attention(rows);
  const r = new EntropixSampler().sample(x, att, { seed: 2024 });
  try {
    return {
      tokens: await r.tokens.data() as Int32Array, states: await r.states.data() as Int32Array,
      metrics: await readMetrics(r.metrics, 0),
    };
  } finally {
    tf.dispose([x, att, r]);
  }
}

describe('EntropixSampler draws follow the regime formulas exactly (wasm)', () => {
  beforeAll(() => useBackend('wasm'));
  test.each(STAT_CASES)('%s', async (_, row, state) => {
    const r = await sampleRows(row, DRAWS);
    expect(r.states.every((s) => s === state)).toBe(true);
    const want = specDecision(r.metrics);
    let dist = referenceDistribution(row, want);
    if (want.samples > 1) dist = bestOfN(dist, row, want.samples);
    expectFits(histogram(r.tokens, V), dist);
  });
});

describe(`EntropixSampler on cpu draws what wasm draws (${CPU_ROWS} rows per case)`, () => {
  test.each(STAT_CASES)('%s', async (_, row, state) => {
    const wasm = await onBackend('wasm', () => sampleRows(row, CPU_ROWS));
    const cpu = await onBackend('cpu', () => sampleRows(row, CPU_ROWS));
    expect(cpu.states.every((s) => s === state)).toBe(true);
    for (const k of METRIC_KEYS) expect(Math.abs(cpu.metrics[k] - wasm.metrics[k])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(wasm.metrics[k])));
    expectSameTokens(cpu.tokens, wasm.tokens);
  });
});

describe.each(['cpu', 'wasm'] as const)('EntropixSampler on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('each regime is reached by a constructed row, all in one batch, each with its token rule', async () => {
    const rows = [
      forkRow(V, [0.99999999, 1e-8]), // flowing
      forkRow(V, new Array(16).fill(1 / 16)), // treading: 4 bits, no varentropy
      forkRow(V, [0.9], 2000, 0.1), // exploring: ent ≈ 1.6, vent ≈ 18
      forkRow(V, [0.3], 2000, 0.7), // resampling: ent ≈ 8.6, vent ≈ 20
      forkRow(V, [0.5, 0.25, 0.25]), // adaptive: ent 1.5, vent 0.25
    ];
    const sampler = new EntropixSampler({ clarifyingTokenId: 7 });
    const x = tf.tensor2d(rows);
    const att = attention(5);
    const r = sampler.sample(x, att, { seed: 1 });
    expect(Array.from(await r.states.data())).toEqual([0, 1, 2, 3, 4]);
    const tokens = Array.from(await r.tokens.data());
    expect(tokens[0]).toBe(0);
    expect(tokens[1]).toBe(7); // the clarifying token
    expect(tokens[2]).toBeLessThan(V);
    expect(tokens[4]).toBeLessThan(3);
    const ent = await r.metrics.entropy.data();
    expect(ent[1]).toBeCloseTo(4, 4);
    // Treading again right after the clarifying token: sample instead (within the 16 tokens).
    // 40 draws of that row at once (row i uses stream i of the seed).
    const draws = 40;
    const treading = tf.tidy(() => tf.tile(tf.slice(x, [1, 0], [1, -1]), [draws, 1]) as tf.Tensor2D);
    const treadingAtt = tf.tidy(() => tf.tile(tf.slice(att, [1, 0, 0], [1, -1, -1]), [draws, 1, 1]));
    const last = tf.fill([draws], 7, 'int32') as tf.Tensor1D;
    const again = sampler.sample(treading, treadingAtt, { seed: 3, lastTokens: last });
    expect(Array.from(await again.states.data()).every((s) => s === SamplerState.Treading)).toBe(true);
    const drawn = Array.from(await again.tokens.data());
    expect(drawn.every((t) => t < 16)).toBe(true);
    expect(new Set(drawn).size).toBeGreaterThan(5);
    tf.dispose([treading, treadingAtt, again]);
    tf.dispose([x, att, last, r]);
  });

  test('rows match their single-row runs with per-row seeds (tokens exactly, metrics 1e-4)', async () => {
    const x = tf.tidy(() => tf.mul(tf.randomNormal([4, 300], 0, 1, 'float32', 9), tf.tensor2d([[0.3], [1], [3], [8]])) as tf.Tensor2D);
    const att = tf.randomNormal([4, 4, 10], 0, 2, 'float32', 10);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]]);
    const sampler = new EntropixSampler();
    const seeds = [3, 1, 4, 1];
    const all = sampler.sample(x, att, { seed: seeds, keyMask: mask });
    const tokens = await all.tokens.data();
    for (let i = 0; i < 4; i++) {
      const one = tf.tidy(() => sampler.sample(
        tf.slice(x, [i, 0], [1, -1]) as tf.Tensor2D, tf.slice(att, [i, 0, 0], [1, -1, -1]),
        { seed: [seeds[i]!], keyMask: tf.slice(mask, [i, 0], [1, -1]) as tf.Tensor2D },
      ));
      expect((await one.tokens.data())[0]).toBe(tokens[i]);
      const a = await readMetrics(all.metrics, i);
      const b = await readMetrics(one.metrics, 0);
      for (const k of METRIC_KEYS) expect(Math.abs(a[k] - b[k])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b[k])));
      tf.dispose(one);
    }
    // Same seed, same tokens; another seed, (almost surely) other tokens somewhere.
    const again = sampler.sample(x, att, { seed: seeds, keyMask: mask });
    expect(Array.from(await again.tokens.data())).toEqual(Array.from(tokens));
    tf.dispose([x, att, mask, all, again]);
  });

  test('no read-back on wasm, each input tensor read once on cpu (the host step); nothing leaked, only the results left', () => {
    const x = tf.randomNormal([3, 500]) as tf.Tensor2D;
    const att = tf.randomNormal([3, 2, 1, 9]);
    const last = tf.tensor1d([1, 2, 3], 'int32');
    const sampler = new EntropixSampler({ clarifyingTokenId: 3 });
    const before = tf.memory().numTensors;
    let r: ReturnType<EntropixSampler['sample']> | undefined;
    expect(countReads(() => { r = sampler.sample(x, att, { lastTokens: last, seed: 1 }); })).toBe(backend === 'cpu' ? 3 : 0);
    expect(tf.memory().numTensors).toBe(before + 8);
    expect(r!.tokens.dtype).toBe('int32');
    expect(r!.states.dtype).toBe('int32');
    tf.dispose(r);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, att, last]);
  });

  test('a row of NaN logits gets token −1, state Base and NaN entropy; other rows are unaffected', async () => {
    const x = tf.tensor2d([[NaN, NaN, NaN], [5, 0, 0]]);
    const att = tf.zeros([2, 1, 3]);
    const r = new EntropixSampler().sample(x, att, { seed: 0 });
    expect(Array.from(await r.tokens.data())).toEqual([-1, 0]);
    expect(Array.from(await r.states.data())[0]).toBe(SamplerState.Base);
    expect(Number.isNaN((await r.metrics.entropy.data())[0])).toBe(true);
    tf.dispose([x, att, r]);
  });

  describe('bad input is refused with a typed error and no leak', () => {
    test('tensors', () => {
      const s = new EntropixSampler();
      const x = tf.zeros([2, 10]) as tf.Tensor2D;
      const att = tf.zeros([2, 3, 5]);
      const att1 = tf.zeros([1, 3, 5]);
      const last3 = tf.zeros([3], 'int32') as tf.Tensor1D;
      const lastF = tf.zeros([2]) as tf.Tensor1D;
      const mask = tf.ones([2, 4]) as tf.Tensor2D;
      const rank2 = tf.zeros([2, 5]);
      expectRefused(() => s.sample(x, att1), 'INVALID_SHAPE', 'attentionScores');
      expectRefused(() => s.sample(x, rank2), 'INVALID_SHAPE', 'attentionScores');
      expectRefused(() => s.sample(x, att, { lastTokens: last3 }), 'INVALID_SHAPE', 'options.lastTokens');
      expectRefused(() => s.sample(x, att, { lastTokens: lastF }), 'INVALID_DTYPE', 'options.lastTokens');
      expectRefused(() => s.sample(x, att, { keyMask: mask }), 'INVALID_SHAPE', 'keyMask');
      expectRefused(() => s.sample(x, att, { seed: [1] }), 'INVALID_ARGUMENT', 'options.seed');
      tf.dispose([x, att, att1, last3, lastF, mask, rank2]);
    });

    test('config', () => {
      const bad: [object, string][] = [
        [{ topp: 0.9 }, 'config.topp'],
        [{ topP: 0 }, 'config.topP'],
        [{ topK: 2.5 }, 'config.topK'],
        [{ temperature: NaN }, 'config.temperature'],
        [{ lowEntropy: '0.1' }, 'config.lowEntropy'],
        [{ candidateCap: 0 }, 'config.candidateCap'],
        [{ clarifyingTokenId: -1 }, 'config.clarifyingTokenId'],
        [{ adaptiveSamples: 0 }, 'config.adaptiveSamples'],
        [{ enabledRegimes: ['flowing', 'dancing'] }, 'config.enabledRegimes'],
        [{ gates: { flowing: { maxAttnEntropy: 'x' } } }, 'config.gates.flowing.maxAttnEntropy'],
        [{ gates: { flowing: { maxEntropy: 1 } } }, 'config.gates.flowing.maxEntropy'],
        [{ gates: { base: {} } }, 'config.gates.base'],
      ];
      for (const [config, argument] of bad) {
        expectRefused(() => new EntropixSampler(config as Partial<SamplerConfig>), 'INVALID_ARGUMENT', argument);
      }
    });
  });
});
