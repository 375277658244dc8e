// sampleTokens, the sampling step: temperature → min-p → top-k → top-p → exact draw, with per-row parameters,
// as one fixed sequence of tf ops (no value is read back to the host).
//
// Candidates are each row's k highest logits, sorted (candidates.ts; k = the static cap). Every
// filter keeps a prefix of that list, so all of them work on [B, k] instead of [B, V]. Only top-p
// needs a mass over the whole vocabulary, and only on rows whose top-k is off (fullVocabularyMass).
import type { Tensor, Tensor1D, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { Candidates } from './candidates';
import { gumbelNoise, randomSeed, Seed, validateSeed } from './rng';
import { REAL_THRESHOLD } from './special-values';
import { samplingStrategy } from './backends/strategy';
import { requireDim, requireNumber, requireTensor } from '../core/validate';
import { rowIdColumn } from './row-index';

/** A parameter for all rows (a number) or one per row (a tensor [B], float32 or int32; rank checked at run time). */
export type RowParam = number | Tensor;

export interface SamplingParams {
  /** ≤ 0: argmax. Default 1. */
  temperature?: RowParam;
  /**
   * Keep the topK most likely tokens, and every token tied with the topK-th (Hugging Face's and
   * vLLM's rule); 0: off (default). Values above candidateCap act as candidateCap.
   */
  topK?: RowParam;
  /** Keep the smallest most-likely set whose renormalized mass reaches topP, in (0, 1]; 1: off (default). */
  topP?: RowParam;
  /** Keep tokens with p ≥ minP · max p, in [0, 1]; 0: off (default). */
  minP?: RowParam;
}

export interface SampleOptions {
  /** How many candidates each row keeps for sampling (default 256). See the README on exactness. */
  candidateCap?: number;
}

export const DEFAULT_CANDIDATE_CAP = 256;

/**
 * The kernel's per-row parameters. Numbers are known on the host, which lets the kernel skip a
 * filter that is off for every row; tensors are [B, 1] float32 columns, already cleaned of NaN.
 */
export interface DrawPlan {
  temperature: number | Tensor2D;
  topK: number | Tensor2D; // integral; ≤ 0: off
  topP: number | Tensor2D;
  minP: number | Tensor2D;
  /** [B, 1]: how many of the noise's samples a row draws; it keeps the one with the highest logit. */
  samplesPerRow?: Tensor2D;
  /** False when every row's topK is known to be ≥ 1, so no full-vocabulary mass is needed. */
  topKMayBeOff: boolean;
  /**
   * Entropix's clarifying token: rows with clarify > 0.5 ([B, 1]) emit `id` instead of their draw,
   * unless their lastTokens (int32 [B]) already is `id`.
   */
  clarify?: { clarify: Tensor2D; id: number; lastTokens?: Tensor1D };
}

/** What the kernel needs besides the plan: the logits, their candidates and the noise. */
export interface DrawInputs {
  clean: Tensor2D; // [B, V] sanitized logits (read only for the full-vocabulary mass)
  cand: Candidates; // [B, k]; cand.values[:, 0] is each row's maximum
  rowIds: Tensor2D; // int32 [B, 1]: 0 … B−1
  noise: Tensor3D; // [B, S, k] Gumbel noise
}

const MIN_TEMPERATURE = 1e-6; // below this a temperature acts as argmax's limit, without overflow
const MAX_TEMPERATURE = 1e6; // keeps a masked candidate's t far below every real one
const OFF = 1e30;
// min-p keeps p ≥ minP·p_max; the kernel tests p > minP·(1 − MIN_P_SLACK) so that equality (and
// minP = 1, which keeps the top token) survives rounding.
const MIN_P_SLACK = 1e-6;

/**
 * Draws one token per row from sorted candidates: int32 [B] token ids, −1 for a row with no
 * usable logit. Every filter keeps a prefix of the candidates, applied as 0/1 masks.
 */
export function drawTokens(inputs: DrawInputs, plan: DrawPlan): Tensor1D {
  const tokens = drawCandidates(inputs, plan);
  if (!plan.clarify) return tokens;
  const { clarify, id, lastTokens } = plan.clarify;
  const batch = tokens.shape[0];
  let emit = tf.reshape(tf.greater(clarify, 0.5), [batch]);
  if (lastTokens) emit = tf.logicalAnd(emit, tf.notEqual(lastTokens, id));
  return tf.where(emit, tf.fill([batch], id, 'int32'), tokens) as Tensor1D;
}

function drawCandidates(inputs: DrawInputs, plan: DrawPlan): Tensor1D {
  const { clean, cand, rowIds, noise } = inputs;
  const [batch, k] = cand.values.shape;
  const top = tf.slice(cand.values, [0, 0], [-1, 1]);
  const real = tf.reshape(tf.greater(top, REAL_THRESHOLD), [batch]); // the row has a usable logit
  const invalid = tf.fill([batch], -1, 'int32');
  const pick = (position: Tensor): Tensor1D => { // [B] candidate positions → token ids
    const token = tf.gatherND(cand.indices, tf.concat([rowIds, tf.reshape(tf.cast(position, 'int32'), [batch, 1])], 1));
    return tf.where(real, token, invalid) as Tensor1D;
  };
  if (typeof plan.temperature === 'number' && plan.temperature <= 0) return pick(tf.zeros([batch], 'int32'));

  // Temperature: log-probabilities relative to the top, t ≤ 0. A masked candidate (−1e18) lands
  // below −1e12, where exp(t) is 0: the min-p test below drops it, whatever minP is.
  const { invT, minP } = drawScalars(plan);
  const t = tf.clipByValue(tf.mul(tf.sub(cand.values, top), invT), -OFF, 0);
  const weight = tf.exp(t); // p / p_max

  // min-p (and validity): p / p_max ≥ minP.
  let keep = tf.step(tf.sub(weight, minP));

  // top-k: candidate j survives when its logit is at least the topK-th's (ties with the topK-th are
  // kept, as in Hugging Face's TopKLogitsWarper and vLLM); an off row (topK ≤ 0) keeps all, and
  // topK ≥ k keeps every candidate.
  let kOff: Tensor | null = null;
  if (typeof plan.topK !== 'number') {
    const position = tf.cast(tf.sub(tf.clipByValue(plan.topK, 1, k), 1), 'int32'); // float clip: int32 clip is broken on wasm
    const kth = tf.reshape(tf.gatherND(cand.values, tf.concat([rowIds, position], 1)), [batch, 1]);
    let topKeep = tf.cast(tf.greaterEqual(cand.values, kth), 'float32');
    if (plan.topKMayBeOff) {
      kOff = tf.step(tf.sub(0.5, plan.topK));
      topKeep = tf.maximum(topKeep, kOff);
    }
    keep = tf.mul(keep, topKeep);
  } else if (plan.topK > 0 && plan.topK < k) {
    const kth = tf.slice(cand.values, [0, plan.topK - 1], [-1, 1]);
    keep = tf.mul(keep, tf.cast(tf.greaterEqual(cand.values, kth), 'float32'));
  }

  // top-p: keep j while the kept mass strictly before it is below topP of the kept mass.
  if (typeof plan.topP !== 'number' || plan.topP < 1) {
    const kept = tf.mul(weight, keep);
    let mass: Tensor = tf.sum(kept, 1, true);
    const staticOff = typeof plan.topK === 'number' && plan.topK <= 0;
    if (plan.topKMayBeOff && (staticOff || kOff)) {
      const full = fullVocabularyMass(clean, top, invT, minP);
      mass = kOff ? tf.add(mass, tf.mul(kOff, tf.sub(full, mass))) : full;
    }
    const before = tf.cumsum(kept, 1, true); // positive axis: tf.cumsum(-1) is broken in 4.22
    // (1 + 1e-6): topP = 1 keeps everything despite rounding in the cumulative sum.
    const topP = typeof plan.topP === 'number' ? plan.topP * (1 + 1e-6) : tf.mul(plan.topP, 1 + 1e-6);
    keep = tf.mul(keep, tf.step(tf.sub(tf.mul(topP, mass), before)));
  }

  // The exact draw: argmax over kept candidates of t + Gumbel noise, for each of S samples.
  const score = tf.add(t, tf.log(keep)); // log 0 = −Inf drops a candidate
  const samples = tf.argMax(tf.add(tf.reshape(score, [batch, 1, k]), noise), 2); // [B, S] int32
  let chosen: Tensor;
  const s = noise.shape[1];
  if (s === 1 || !plan.samplesPerRow) {
    chosen = tf.reshape(tf.slice(samples, [0, 0], [-1, 1]), [batch]);
  } else {
    // Best of n: candidates are sorted by logit, so the highest raw log-probability among the
    // samples is the smallest position. Samples past a row's n are pushed out of the minimum.
    const unused = tf.step(tf.sub(tf.range(0.5, s, 1, 'float32'), plan.samplesPerRow)); // [B, S]
    chosen = tf.min(tf.add(tf.cast(samples, 'float32'), tf.mul(unused, k)), 1);
  }
  if (typeof plan.temperature !== 'number') {
    // T ≤ 0 → position 0, the argmax.
    chosen = tf.mul(chosen, tf.reshape(tf.step(plan.temperature), [batch]));
  }
  return pick(chosen);
}

/** 1/T (clamped) and minP with its slack, as numbers or [B, 1] columns. */
export function drawScalars(plan: DrawPlan): { invT: number | Tensor; minP: number | Tensor } {
  const invT = typeof plan.temperature === 'number'
    ? 1 / Math.min(Math.max(plan.temperature, MIN_TEMPERATURE), MAX_TEMPERATURE)
    : tf.reciprocal(tf.clipByValue(plan.temperature, MIN_TEMPERATURE, MAX_TEMPERATURE));
  const minP = typeof plan.minP === 'number' ? plan.minP * (1 - MIN_P_SLACK) : tf.mul(plan.minP, 1 - MIN_P_SLACK);
  return { invT, minP };
}

/**
 * Σ over the whole vocabulary of p/p_max on tokens that pass min-p, with t = (x − max)/T: the mass
 * top-p must reach on a row whose top-k is off. One softmax gives it: p_max = 1 / Σ exp(t).
 */
export function fullVocabularyMass(clean: Tensor2D, top: Tensor, invT: number | Tensor, minP: number | Tensor): Tensor {
  const t = tf.clipByValue(tf.mul(tf.sub(clean, top), invT), -OFF, 0);
  const p = tf.softmax(t);
  const pMax = tf.max(p, 1, true);
  // Tokens below min-p (p < minP·p_max) are dropped from the mass.
  const dropped = tf.sum(tf.mul(p, tf.step(tf.sub(tf.mul(pMax, minP), p))), 1, true);
  return tf.div(tf.sub(1, dropped), pMax);
}

/** Checks one parameter: a number in range, or a Tensor1D [B] of float32/int32. */
function validateParam(
  value: unknown, name: string, batch: number, rule: Parameters<typeof requireNumber>[2],
): number | Tensor1D | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return requireNumber(value, name, rule);
  const t = requireTensor(value, name, [1], ['float32', 'int32']);
  requireDim(t, name, 0, batch, 'the batch size');
  return t as Tensor1D;
}

export interface ValidatedParams {
  temperature: number | Tensor1D;
  topK: number | Tensor1D;
  topP: number | Tensor1D;
  minP: number | Tensor1D;
}

/** Validates SamplingParams against the batch size and fills in the defaults. Allocates nothing. */
export function validateSamplingParams(params: unknown, batch: number, name = 'params'): ValidatedParams {
  if (params === undefined || params === null) params = {};
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be an object`, name);
  }
  const p = params as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (!['temperature', 'topK', 'topP', 'minP'].includes(key)) {
      throw new EntropixError('INVALID_ARGUMENT', `${name}.${key} is not a sampling parameter`, `${name}.${key}`);
    }
  }
  return {
    temperature: validateParam(p.temperature, `${name}.temperature`, batch, {}) ?? 1,
    topK: validateParam(p.topK, `${name}.topK`, batch, { min: 0, integer: true }) ?? 0,
    topP: validateParam(p.topP, `${name}.topP`, batch, { min: 0, minExclusive: true, max: 1 }) ?? 1,
    minP: validateParam(p.minP, `${name}.minP`, batch, { min: 0, max: 1 }) ?? 0,
  };
}

/**
 * Turns validated parameters into a DrawPlan, inside a tidy. Tensor parameters are cleaned on the
 * device, never read: NaN temperature → argmax, NaN/negative topK → off, NaN topP → off, topP ≤ 0
 * → argmax, NaN/negative minP → off, minP > 1 → 1; topK is floored.
 */
export function planFromParams(p: ValidatedParams): DrawPlan {
  const column = (x: Tensor1D, nanTo: number): Tensor2D => {
    const f = tf.reshape(tf.cast(x, 'float32'), [-1, 1]);
    return tf.where(tf.isNaN(f), tf.fill(f.shape as [number, number], nanTo), f) as Tensor2D;
  };
  return {
    temperature: typeof p.temperature === 'number' ? p.temperature : column(p.temperature, 0),
    topK: typeof p.topK === 'number' ? p.topK : tf.floor(column(p.topK, 0)) as Tensor2D,
    topP: typeof p.topP === 'number' ? p.topP : tf.clipByValue(column(p.topP, 1), 1e-7, 1) as Tensor2D,
    minP: typeof p.minP === 'number' ? p.minP : tf.clipByValue(column(p.minP, 0), 0, 1) as Tensor2D,
    topKMayBeOff: typeof p.topK !== 'number' || p.topK <= 0,
  };
}

export function validateCandidateCap(cap: unknown, name = 'candidateCap'): number {
  if (cap === undefined) return DEFAULT_CANDIDATE_CAP;
  return requireNumber(cap, name, { min: 1, integer: true });
}

/**
 * Samples one token per row of logits [B, V] (float32) with per-row temperature, min-p, top-k and
 * top-p, drawing exactly from what remains. Same seed and inputs → same tokens; seed omitted: a
 * random one. The caller owns the returned int32 [B] tensor; −1 marks a row with no usable logit
 * (all NaN/−Inf). logits may be any Tensor: its rank is checked at run time.
 */
export function sampleTokens(
  logits: Tensor, params: SamplingParams, seed?: Seed, options: SampleOptions = {},
): Tensor1D {
  const x = requireTensor(logits, 'logits', [2], ['float32']);
  const [batch, vocab] = x.shape as [number, number];
  const validated = validateSamplingParams(params, batch);
  const rowSeed = validateSeed(seed ?? randomSeed(), batch);
  const cap = validateCandidateCap(options?.candidateCap, 'options.candidateCap');
  const k = Math.min(cap, vocab);
  const strategy = samplingStrategy();
  return tf.tidy(() => {
    const fused = strategy.sampleTokens?.(x as Tensor2D, validated, rowSeed, k);
    if (fused) return fused;
    const clean = strategy.sanitize(x as Tensor2D);
    const cand = strategy.candidates(clean, k);
    return strategy.drawTokens({
      clean, cand,
      rowIds: rowIdColumn(batch),
      noise: tf.tensor3d(gumbelNoise(rowSeed, batch, 1, k), [batch, 1, k]),
    }, planFromParams(validated));
  });
}
