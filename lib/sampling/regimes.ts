// The Entropix regimes as a table, decided for every row at once.
//
// Every Entropix rule is "a parameter = an affine function of the metrics, clamped", and every
// regime condition is "each metric strictly between two bounds". So the whole decision is two
// small matrices applied to the metric table [B, 7] (see metricTable): bounds [R, 7] and parameter
// weights [7, Q·R], with a handful of ops on [B, R] tensors — no branch on data, no read-back.
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import type { RegimeGate, SamplerConfig } from './config';
import { REGIME_NAMES, regimeConditions, regimeState, SamplerState, STATE_NAMES, StateName } from './states';

export { SamplerState } from './states';

const STATES = STATE_NAMES.length; // the five regimes in precedence order, then Base

/**
 * Feature columns, as in the metric table: the six metrics, then the row's "has a usable logit"
 * flag. That flag is 1 on every row the rules matter for, so it doubles as the affine bias term.
 */
const [ENT, VENT, ATTN_ENT, ATTN_VENT, AGREE, INTER, ONE] = [0, 1, 2, 3, 4, 5, 6];
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
  /** [STATES, FEATURES] strict lower and upper bounds on the features; +Inf lower = switched off. */
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

/**
 * The coefficients of every attention term in the parameter rules. Without attention scores the
 * rules keep their constant part only: these are 0 (not just the attention columns' weights:
 * exploring's topK0·(1 + a·(1 − agreement)) would keep topK0·(1 + a)) and the gates are off.
 */
const ATTENTION_COEFS = [
  'treadingTemperatureAttnEntropyCoef', 'exploringTemperatureInteractionCoef', 'exploringTopKAgreementCoef',
  'resamplingTemperatureAttnVarentropyCoef', 'resamplingTopPAttnEntropyCoef', 'adaptiveTemperatureAttnCoef',
  'adaptiveTemperatureAgreementCoef', 'adaptiveTopPAttnVarentropyCoef', 'adaptiveTopKInteractionCoef',
  'adaptiveTopKAgreementCoef',
] as const satisfies readonly (keyof SamplerConfig)[];

/** The table for rows with no attention scores: every attention column has weight 0 and no bound. */
export function compileLogitsOnlyRegimes(c: SamplerConfig): RegimeTable {
  const noAttention = Object.fromEntries(ATTENTION_COEFS.map((k) => [k, 0]));
  return compileRegimes({ ...c, ...noAttention, gates: {} });
}

export function compileRegimes(c: SamplerConfig): RegimeTable {
  const T0 = c.temperature;
  const k0 = c.topK;
  const p0 = c.topP;
  const base: Rule[] = [constant(T0), constant(k0), constant(p0), constant(c.minP), constant(1), constant(0)];
  const withRules = (rules: Partial<Record<number, Rule>>): Rule[] =>
    base.map((rule, param) => rules[param] ?? rule);
  const unbounded = Infinity;

  const rules: Record<StateName, Rule[]> = {
    // Argmax (temperature 0).
    flowing: withRules({ [TEMPERATURE]: constant(0) }),
    // The clarifying token, or a warmer draw.
    treading: withRules({
      [TEMPERATURE]: {
        weights: affine(T0 * c.treadingTemperatureOffset, [[ATTN_ENT, T0 * c.treadingTemperatureAttnEntropyCoef]]),
        lo: -unbounded, hi: c.treadingMaxTemperature,
      },
      [CLARIFY]: constant(c.clarifyingTokenId === null ? 0 : 1),
    }),
    // Warmer and wider.
    exploring: withRules({
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
    // Hot, with a tighter nucleus.
    resampling: withRules({
      [TEMPERATURE]: {
        weights: affine(T0 * c.resamplingTemperatureOffset, [[ATTN_VENT, T0 * c.resamplingTemperatureAttnVarentropyCoef]]),
        lo: c.resamplingMinTemperature, hi: unbounded,
      },
      [TOP_P]: {
        weights: affine(p0, [[ATTN_ENT, -c.resamplingTopPAttnEntropyCoef]]),
        lo: c.resamplingMinTopP, hi: unbounded,
      },
    }),
    // Every parameter follows the uncertainty; best of n samples.
    adaptive: withRules({
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
    // Plain sampling.
    base,
  };

  const weights = new Float32Array(FEATURES * PARAMS * STATES);
  const lo = new Float32Array(PARAMS * STATES);
  const hi = new Float32Array(PARAMS * STATES);
  STATE_NAMES.forEach((name, state) => rules[name].forEach((rule, param) => {
    const col = param * STATES + state;
    rule.weights.forEach((w, f) => { weights[f * PARAMS * STATES + col] = w; });
    lo[col] = rule.lo;
    hi[col] = rule.hi;
  }));

  // Conditions (strict bounds on entropy and varentropy, states.ts). Base has no bounds, so it
  // always holds; every regime needs a usable logit (the flag column).
  const conditions = regimeConditions(c);
  const lower = new Float32Array(STATES * FEATURES).fill(-unbounded);
  const upper = new Float32Array(STATES * FEATURES).fill(unbounded);
  for (const name of REGIME_NAMES) {
    const row = regimeState(name) * FEATURES;
    [lower[row + ENT], upper[row + ENT]] = conditions[name].entropy;
    [lower[row + VENT], upper[row + VENT]] = conditions[name].varentropy;
    lower[row + ONE] = 0.5;
    applyGate(c.gates[name], lower, upper, row);
    if (!c.enabledRegimes.includes(name)) lower[row] = unbounded; // never true
  }

  // Reachable states whose top-k rule can give ≤ 0 (off). Flowing is argmax and never needs it.
  const reachable = (['treading', 'exploring', 'resampling', 'adaptive'] as const)
    .filter((name) => c.enabledRegimes.includes(name)).map(regimeState);
  const topKMayBeOff = [...reachable, SamplerState.Base].some((s) => lo[TOP_K * STATES + s]! < 1);
  return {
    lower, upper, weights, lo, hi, topKMayBeOff,
    adaptiveSamples: c.enabledRegimes.includes('adaptive') ? c.adaptiveSamples : 1,
    clarifies: c.clarifyingTokenId !== null && c.enabledRegimes.includes('treading'),
  };
}

function applyGate(gate: RegimeGate | undefined, lower: Float32Array, upper: Float32Array, row: number): void {
  if (!gate) return;
  const pairs: [number, number | undefined, number | undefined][] = [
    [ATTN_ENT, gate.minAttnEntropy, gate.maxAttnEntropy],
    [ATTN_VENT, gate.minAttnVarentropy, gate.maxAttnVarentropy],
    [AGREE, gate.minAgreement, gate.maxAgreement],
    [INTER, gate.minInteraction, gate.maxInteraction],
  ];
  for (const [m, min, max] of pairs) {
    if (min !== undefined) lower[row + m] = Math.max(lower[row + m]!, min);
    if (max !== undefined) upper[row + m] = Math.min(upper[row + m]!, max);
  }
}

/** Every row's state (int32 [B]) and its parameters as [B, 1] columns. */
export type RegimeDecision = {
  states: Tensor1D;
  temperature: Tensor2D; // ≤ 0 → argmax
  topK: Tensor2D; // integral
  topP: Tensor2D;
  minP: Tensor2D;
  samples: Tensor2D; // best of this many draws
  clarify: Tensor2D; // 1 where the clarifying token may be emitted
};

/** Decides every row's state and parameters from the metric table [B, 7]. Call inside a tidy. */
export function decideRegimes(table: RegimeTable, metrics: Tensor2D): RegimeDecision {
  const batch = metrics.shape[0];
  // ±Inf (an overflowing interaction strength) would meet a 0 weight in the matMul below.
  const m = tf.clipByValue(metrics, -1e30, 1e30);

  // The first state whose bounds hold wins: weight by precedence, take the argmax (Base always holds).
  const m3 = tf.reshape(m, [batch, 1, FEATURES]);
  const holds = tf.all(tf.logicalAnd(
    tf.greater(m3, tf.tensor2d(table.lower, [STATES, FEATURES])),
    tf.less(m3, tf.tensor2d(table.upper, [STATES, FEATURES])),
  ), 2); // [B, STATES]
  const precedence = tf.tensor1d(Array.from({ length: STATES }, (_, s) => STATES - s));
  const states = tf.argMax(tf.mul(tf.cast(holds, 'float32'), precedence), 1) as Tensor1D;

  // All states' parameters for every row, then each row's own.
  const all = tf.minimum(
    tf.maximum(tf.matMul(m, tf.tensor2d(table.weights, [FEATURES, PARAMS * STATES])), tf.tensor1d(table.lo)),
    tf.tensor1d(table.hi),
  );
  const picked = tf.sum(
    tf.mul(tf.reshape(all, [batch, PARAMS, STATES]), tf.reshape(tf.oneHot(states, STATES), [batch, 1, STATES])),
    2,
  ); // [B, PARAMS]
  const [temperature, topK, topP, minP, samples, clarify] = tf.split(picked, PARAMS, 1) as Tensor2D[];
  return {
    states,
    temperature: temperature!,
    topK: tf.floor(topK!) as Tensor2D,
    topP: topP!,
    minP: minP!,
    samples: samples!,
    clarify: clarify!,
  };
}
