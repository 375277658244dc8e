// The Entropix regimes as a table, decided for every row at once.
//
// Every Entropix rule is "a parameter = an affine function of the metrics, clamped", and every
// regime condition is "each metric strictly between two bounds". So the whole decision is two
// small matrices: bounds [R, 6] and parameter weights [7, Q·R], applied with a handful of ops on
// [B, R] tensors — no branch on data, no read-back.
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from './tf';
import { RegimeGate, RegimeName, SamplerConfig } from './config';
import type { Metrics } from './metrics';

export enum SamplerState {
  Flowing = 0,
  Treading = 1,
  Exploring = 2,
  Resampling = 3,
  Adaptive = 4,
  /** No regime applied: plain sampling with the base parameters. */
  Base = 5,
}

const REGIME_STATES: Record<RegimeName, SamplerState> = {
  flowing: SamplerState.Flowing,
  treading: SamplerState.Treading,
  exploring: SamplerState.Exploring,
  resampling: SamplerState.Resampling,
  adaptive: SamplerState.Adaptive,
};
const STATES = 6; // the five regimes in precedence order, then Base

/** Feature columns: a constant 1, then the six metrics. */
const METRIC_ORDER = ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'] as const;
const [ONE, ENT, VENT, ATTN_ENT, ATTN_VENT, AGREE, INTER] = [0, 1, 2, 3, 4, 5, 6];
const FEATURES = 7;

/** Per-state parameter columns. */
const [TEMPERATURE, TOP_K, TOP_P, MIN_P, SAMPLES, CLARIFY] = [0, 1, 2, 3, 4, 5];
const PARAMS = 6;

/** param = clamp(Σ weights[f] · feature[f], lo, hi) */
interface Rule { weights: number[]; lo: number; hi: number }

const constant = (v: number): Rule => ({ weights: affine(v), lo: v, hi: v });
function affine(bias: number, terms: [number, number][] = []): number[] {
  const w = new Array<number>(FEATURES).fill(0);
  w[ONE] = bias;
  for (const [feature, coef] of terms) w[feature] = (w[feature] ?? 0) + coef;
  return w;
}

/** The compiled table for one config: plain numbers, uploaded per call (nothing stays allocated). */
export interface RegimeTable {
  /** [STATES-1, 6] strict lower and upper bounds on the metrics; +Inf lower = switched off. */
  lower: Float32Array;
  upper: Float32Array;
  /** [FEATURES, PARAMS·STATES], column p·STATES + s. */
  weights: Float32Array;
  lo: Float32Array;
  hi: Float32Array;
  /** Whether some reachable state can have topK ≤ 0 (top-k off), which needs the full-vocabulary mass. */
  topKMayBeOff: boolean;
  adaptiveSamples: number;
  clarifies: boolean;
}

export function compileRegimes(c: SamplerConfig): RegimeTable {
  const T0 = c.temperature;
  const k0 = c.topK;
  const p0 = c.topP;
  const base: Rule[] = [constant(T0), constant(k0), constant(p0), constant(c.minP), constant(1), constant(0)];
  const withRules = (rules: Partial<Record<number, Rule>>): Rule[] =>
    base.map((rule, param) => rules[param] ?? rule);
  const unbounded = Infinity;

  const rules: Rule[][] = [
    // Flowing: argmax (temperature 0).
    withRules({ [TEMPERATURE]: constant(0) }),
    // Treading: the clarifying token, or a warmer draw.
    withRules({
      [TEMPERATURE]: {
        weights: affine(T0 * c.treadingTemperatureOffset, [[ATTN_ENT, T0 * c.treadingTemperatureAttnEntropyCoef]]),
        lo: -unbounded, hi: c.treadingMaxTemperature,
      },
      [CLARIFY]: constant(c.clarifyingTokenId === null ? 0 : 1),
    }),
    // Exploring: warmer and wider.
    withRules({
      [TEMPERATURE]: {
        weights: affine(T0 * c.exploringTemperatureOffset, [[INTER, T0 * c.exploringTemperatureInteractionCoef]]),
        lo: -unbounded, hi: c.exploringMaxTemperature,
      },
      // ⌊k0 · (1 + a·(1 − agreement))⌋; the floor is taken after selection.
      [TOP_K]: {
        weights: affine(k0 * (1 + c.exploringTopKAgreementCoef), [[AGREE, -k0 * c.exploringTopKAgreementCoef]]),
        lo: c.exploringMinTopK, hi: unbounded,
      },
    }),
    // Resampling: hot, with a tighter nucleus.
    withRules({
      [TEMPERATURE]: {
        weights: affine(T0 * c.resamplingTemperatureOffset, [[ATTN_VENT, T0 * c.resamplingTemperatureAttnVarentropyCoef]]),
        lo: c.resamplingMinTemperature, hi: unbounded,
      },
      [TOP_P]: {
        weights: affine(p0, [[ATTN_ENT, -c.resamplingTopPAttnEntropyCoef]]),
        lo: c.resamplingMinTopP, hi: unbounded,
      },
    }),
    // Adaptive: every parameter follows the uncertainty; best of n samples.
    withRules({
      [TEMPERATURE]: {
        weights: affine(T0, [
          [ENT, T0 * c.adaptiveTemperatureLogitsCoef], [VENT, T0 * c.adaptiveTemperatureLogitsCoef],
          [ATTN_ENT, T0 * c.adaptiveTemperatureAttnCoef], [ATTN_VENT, T0 * c.adaptiveTemperatureAttnCoef],
          [AGREE, -T0 * c.adaptiveTemperatureAgreementCoef],
        ]),
        lo: -unbounded, hi: unbounded,
      },
      [TOP_P]: {
        weights: affine(p0, [[ATTN_VENT, p0 * c.adaptiveTopPAttnVarentropyCoef]]),
        lo: c.adaptiveMinTopP, hi: c.adaptiveMaxTopP,
      },
      // round(x) = ⌊x + 0.5⌋: the 0.5 is in the bias, the floor comes after selection.
      [TOP_K]: {
        weights: affine(k0 + 0.5, [[INTER, k0 * c.adaptiveTopKInteractionCoef], [AGREE, -k0 * c.adaptiveTopKAgreementCoef]]),
        lo: c.adaptiveMinTopK, hi: c.adaptiveMaxTopK,
      },
      [MIN_P]: {
        weights: affine(c.adaptiveMinP, [
          [ENT, -c.adaptiveMinP * c.adaptiveMinPUncertaintyCoef], [VENT, -c.adaptiveMinP * c.adaptiveMinPUncertaintyCoef],
        ]),
        lo: c.adaptiveMinMinP, hi: c.adaptiveMaxMinP,
      },
      [SAMPLES]: constant(c.adaptiveSamples),
    }),
    // Base: plain sampling.
    base,
  ];

  const weights = new Float32Array(FEATURES * PARAMS * STATES);
  const lo = new Float32Array(PARAMS * STATES);
  const hi = new Float32Array(PARAMS * STATES);
  rules.forEach((stateRules, state) => stateRules.forEach((rule, param) => {
    const col = param * STATES + state;
    rule.weights.forEach((w, f) => { weights[f * PARAMS * STATES + col] = w; });
    lo[col] = rule.lo;
    hi[col] = rule.hi;
  }));

  // Conditions (strict): [lower, upper] per metric, in METRIC_ORDER.
  const { lowEntropy, lowVarentropy, mediumEntropy, highEntropy, highVarentropy } = c;
  const conditions: Record<RegimeName, [number, number][]> = {
    flowing: [[-unbounded, lowEntropy], [-unbounded, lowVarentropy]],
    treading: [[mediumEntropy, unbounded], [-unbounded, lowVarentropy]],
    exploring: [[-unbounded, highEntropy], [highVarentropy, unbounded]],
    resampling: [[highEntropy, unbounded], [highVarentropy, unbounded]],
    adaptive: [],
  };
  const lower = new Float32Array((STATES - 1) * 6).fill(-unbounded);
  const upper = new Float32Array((STATES - 1) * 6).fill(unbounded);
  for (const [name, bounds] of Object.entries(conditions) as [RegimeName, [number, number][]][]) {
    const row = REGIME_STATES[name] * 6;
    bounds.forEach(([l, u], m) => { lower[row + m] = l; upper[row + m] = u; });
    applyGate(c.gates[name], lower, upper, row);
    if (!c.enabledRegimes.includes(name)) lower[row] = unbounded; // never true
  }

  // Reachable states whose top-k rule can give ≤ 0 (off). Flowing is argmax and never needs it.
  const reachable = [SamplerState.Treading, SamplerState.Exploring, SamplerState.Resampling, SamplerState.Adaptive]
    .filter((s) => c.enabledRegimes.includes(REGIME_NAMES_BY_STATE[s]!));
  const topKMayBeOff = [...reachable, SamplerState.Base].some((s) => lo[TOP_K * STATES + s]! < 1);
  return {
    lower, upper, weights, lo, hi, topKMayBeOff,
    adaptiveSamples: c.enabledRegimes.includes('adaptive') ? c.adaptiveSamples : 1,
    clarifies: c.clarifyingTokenId !== null && c.enabledRegimes.includes('treading'),
  };
}

const REGIME_NAMES_BY_STATE: Partial<Record<SamplerState, RegimeName>> = Object.fromEntries(
  Object.entries(REGIME_STATES).map(([name, state]) => [state, name as RegimeName]),
);

function applyGate(gate: RegimeGate | undefined, lower: Float32Array, upper: Float32Array, row: number): void {
  if (!gate) return;
  const pairs: [number, number | undefined, number | undefined][] = [
    [ATTN_ENT - 1, gate.minAttnEntropy, gate.maxAttnEntropy],
    [ATTN_VENT - 1, gate.minAttnVarentropy, gate.maxAttnVarentropy],
    [AGREE - 1, gate.minAgreement, gate.maxAgreement],
    [INTER - 1, gate.minInteraction, gate.maxInteraction],
  ];
  for (const [m, min, max] of pairs) {
    if (min !== undefined) lower[row + m] = Math.max(lower[row + m]!, min);
    if (max !== undefined) upper[row + m] = Math.min(upper[row + m]!, max);
  }
}

export type RegimeDecision = {
  states: Tensor1D; // int32 [B]
  temperature: Tensor1D; // ≤ 0 → argmax
  topK: Tensor1D; // integral
  topP: Tensor1D;
  minP: Tensor1D;
  samples: Tensor1D; // best of this many draws
  clarify: Tensor1D; // 1 where the clarifying token may be emitted
};

/** Decides every row's state and parameters. Call inside a tidy. */
export function decideRegimes(table: RegimeTable, metrics: Metrics): RegimeDecision {
  const batch = metrics.entropy.shape[0];
  const m = tf.stack(METRIC_ORDER.map((name) => metrics[name]), 1) as Tensor2D; // [B, 6]

  // Which regimes' conditions hold. Comparisons are false on NaN, so a row with a NaN metric
  // satisfies none and ends in Base.
  const m3 = tf.reshape(m, [batch, 1, 6]);
  const holds = tf.all(tf.logicalAnd(
    tf.greater(m3, tf.tensor2d(table.lower, [STATES - 1, 6])),
    tf.less(m3, tf.tensor2d(table.upper, [STATES - 1, 6])),
  ), 2); // [B, STATES-1]
  // The first regime that holds wins: weight by precedence and take the argmax (Base always holds).
  const precedence = tf.tensor1d(Array.from({ length: STATES }, (_, s) => STATES - s));
  const eligible = tf.concat([tf.cast(holds, 'float32'), tf.ones([batch, 1])], 1);
  const states = tf.argMax(tf.mul(eligible, precedence), 1) as Tensor1D;

  // All states' parameters for every row, then pick each row's own. Non-finite metrics are made
  // finite first (NaN → 0, ±Inf → ±1e30) so that a 0 weight never meets them.
  const finite = tf.where(tf.isNaN(m), tf.zerosLike(m), tf.clipByValue(m, -1e30, 1e30));
  const features = tf.concat([tf.ones([batch, 1]), finite], 1);
  const all = tf.minimum(
    tf.maximum(tf.matMul(features, tf.tensor2d(table.weights, [FEATURES, PARAMS * STATES])), tf.tensor1d(table.lo)),
    tf.tensor1d(table.hi),
  );
  const picked = tf.sum(
    tf.mul(tf.reshape(all, [batch, PARAMS, STATES]), tf.reshape(tf.oneHot(states, STATES), [batch, 1, STATES])),
    2,
  ); // [B, PARAMS]
  const [temperature, topK, topP, minP, samples, clarify] = tf.unstack(picked, 1) as Tensor1D[];
  return {
    states,
    temperature: temperature!,
    topK: tf.floor(topK!) as Tensor1D,
    topP: topP!,
    minP: minP!,
    samples: samples!,
    clarify: clarify!,
  };
}

