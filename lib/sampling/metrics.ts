// Entropix's uncertainty metrics, one value per row, computed on the device.
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { above, REAL_THRESHOLD, sanitizeScores } from './special-values';
import { requireDim, requireTensor } from '../core/validate';
import { rowIdColumn } from './row-index';
import type { Candidates } from './candidates';
import { samplingStrategy } from './backends/strategy';
import type { OpTuning } from './backends/tuning';

/** A type (not an interface) so that `tf.dispose(metrics)` type-checks as a TensorContainer. */
export type Metrics = {
  /** −Σ p log2 p of softmax(logits), bits. NaN for a row with no usable logit. */
  entropy: Tensor1D;
  /** Σ p (log2 p + entropy)², bits². NaN for a row with no usable logit. */
  varentropy: Tensor1D;
  // The four attention metrics are NaN in every row when no attention scores were given.
  /** Mean over heads of each head's attention entropy (bits), over real keys only. */
  attnEntropy: Tensor1D;
  /** Unbiased variance over heads of the per-head attention entropies (0 with one head). */
  attnVarentropy: Tensor1D;
  /** Mean over heads and real keys of |p_h − mean_h p_h|. */
  agreement: Tensor1D;
  /** Mean over heads and real keys of |score|. */
  interactionStrength: Tensor1D;
};

export interface MetricsOptions {
  /** [B, T]: 1 (any value > 0) marks a real key, 0 an empty or padded slot. */
  keyMask?: Tensor;
}

const LN2 = Math.LN2;

/**
 * Validates logits [B, V] and attention scores [B, H, T] or [B, H, Q, T] (last query row used;
 * null or undefined: none, logits only) plus an optional keyMask [B, T], which needs scores;
 * returns the batch size. Shared with the sampler.
 */
export function validateMetricInputs(logits: unknown, attentionScores: unknown, keyMask: unknown): number {
  const x = requireTensor(logits, 'logits', [2], ['float32']);
  const batch = x.shape[0]!;
  if (attentionScores === null || attentionScores === undefined) {
    if (keyMask !== undefined && keyMask !== null) {
      throw new EntropixError('INVALID_ARGUMENT', 'keyMask masks the keys of attentionScores: without scores, pass none', 'keyMask');
    }
    return batch;
  }
  const s = requireTensor(attentionScores, 'attentionScores', [3, 4], ['float32']);
  requireDim(s, 'attentionScores', 0, batch, 'the batch size of logits');
  if (keyMask !== undefined && keyMask !== null) {
    const m = requireTensor(keyMask, 'keyMask', [2], ['float32', 'int32', 'bool']);
    requireDim(m, 'keyMask', 0, batch, 'the batch size of logits');
    requireDim(m, 'keyMask', 1, s.shape[s.rank - 1]!, 'the number of keys in attentionScores');
  }
  return batch;
}

/** Computes all six metrics. The caller owns (and disposes) the returned tensors. */
export function computeMetrics(
  logits: Tensor, // [B, V]: the rank is checked at run time, so a plain Tensor (GraphModel.execute) will do
  attentionScores?: Tensor | null, // none: logits only (the attention metrics are NaN)
  options: MetricsOptions = {},
): Metrics {
  if (typeof options !== 'object' || options === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'options must be an object', 'options');
  }
  validateMetricInputs(logits, attentionScores, options.keyMask);
  const strategy = samplingStrategy();
  return tf.tidy(() => {
    const fused = strategy.computeMetrics?.(logits as Tensor2D, attentionScores ?? null, options.keyMask as Tensor2D | undefined);
    if (fused) return fused;
    const clean = strategy.sanitize(logits as Tensor2D);
    const top = strategy.candidates(clean, 1);
    const rowIds = rowIdColumn(clean.shape[0]);
    return strategy.metricTable(clean, top, rowIds, attentionScores ?? null, options.keyMask as Tensor2D | undefined).metrics;
  });
}

/**
 * The metrics of every row, as the public Metrics and as one [B, 7] table, the sampler's working
 * form: columns entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength
 * (bits, as in Metrics), then 1 for a row with a usable logit and 0 for one without. The table is
 * finite: an empty row's entropies are placeholders (NaN in Metrics). Without attention scores
 * (null) the attention columns are 0 (the logits-only regime table gives them no weight) and the
 * attention metrics NaN.
 *
 * `clean` is sanitized logits [B, V]; `cand` their candidates (column 0: each row's maximum and
 * argmax); `rowIds` is rowIdColumn(B).
 */
export function metricTable(
  clean: Tensor2D, cand: Candidates, rowIds: Tensor2D,
  attentionScores: Tensor | null, keyMask: Tensor2D | undefined, tuning: OpTuning,
): { table: Tensor2D; metrics: Metrics } {
  const top = tf.slice(cand.values, [0, 0], [-1, 1]) as Tensor2D;
  const topIndex = tf.slice(cand.indices, [0, 0], [-1, 1]) as Tensor2D;
  const logit = logitColumns(clean, top, topIndex, rowIds, tuning);
  const attention = attentionScores
    ? attentionColumns(attentionScores, keyMask, tuning)
    : new Array<Tensor>(4).fill(tf.zerosLike(logit.entropy));
  const columns = [logit.entropy, logit.varentropy, ...attention];
  const table = tf.concat([...columns, logit.real], 1) as Tensor2D;
  // The caller's copies: [B] each, NaN entropies for a row with no usable logit.
  const nanIfEmpty = tf.div(logit.real, logit.real);
  const [entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength] = columns.map(
    (c, i) => (i < 2 ? tf.reshape(tf.mul(c, nanIfEmpty), [-1])
      : attentionScores ? tf.reshape(c, [-1]) : tf.fill([clean.shape[0]], NaN)) as Tensor1D);
  return {
    table,
    metrics: {
      entropy: entropy!, varentropy: varentropy!, attnEntropy: attnEntropy!, attnVarentropy: attnVarentropy!,
      agreement: agreement!, interactionStrength: interactionStrength!,
    },
  };
}

// Row reductions. With tuning.poolReductions (wasm) a row of N is folded into R × (N/R), pooled
// over R, and the short remainder reduced; otherwise the plain one-kernel reduction is used.

/** Σ of each row of x [R0, N] → [R0, 1]. */
function sumRows(x: Tensor2D, tuning: OpTuning): Tensor {
  const [rows, n] = x.shape;
  const r = foldFactor(n, tuning);
  if (r === 1) return tf.sum(x, 1, true);
  const pooled = tf.avgPool(tf.reshape(x, [rows, r, 1, n / r]) as Tensor4D, [r, 1], [r, 1], 'valid');
  return tf.mul(tf.sum(tf.reshape(pooled, [rows, n / r]), 1, true), r);
}

/** max of each row of x [R0, N] → [R0, 1]. */
function maxRows(x: Tensor2D, tuning: OpTuning): Tensor {
  const [rows, n] = x.shape;
  const r = foldFactor(n, tuning);
  if (r === 1) return tf.max(x, 1, true);
  const pooled = tf.maxPool(tf.reshape(x, [rows, r, 1, n / r]) as Tensor4D, [r, 1], [r, 1], 'valid');
  return tf.max(tf.reshape(pooled, [rows, n / r]), 1, true);
}

/** Mean over the middle axis of x [B, R, C] → [B, C] (by average pooling on wasm). */
function meanMiddle(x: Tensor, tuning: OpTuning): Tensor2D {
  const [batch, r, c] = x.shape as [number, number, number];
  if (!tuning.poolReductions) return tf.mean(x, 1) as Tensor2D;
  return tf.reshape(tf.avgPool(tf.reshape(x, [batch, r, 1, c]) as Tensor4D, [r, 1], [r, 1], 'valid'), [batch, c]);
}

/**
 * How many rows R to fold a row of n into: pooling is fastest with tall windows over a short
 * remainder, so the remainder n/R is the smallest divisor of n from 16 up (then from 15 down).
 * 1 (a plain reduction) without tuning.poolReductions, or when n is small or has no such divisor.
 */
export function foldFactor(n: number, tuning: OpTuning): number {
  if (n < 1024 || !tuning.poolReductions) return 1;
  for (let m = 16; m <= 64; m++) if (n % m === 0) return n / m;
  for (let m = 15; m >= 2; m--) if (n % m === 0) return n / m;
  return 1;
}

/**
 * Entropy and varentropy (bits, bits² columns [B, 1]) from one softmax. With d = x − max and
 * p = softmax(x): H = log Σ e^d − E_p[d] = −log p_max − E_p[d] and Var = E_p[d²] − E_p[d]² (nats,
 * then ÷ ln 2, ÷ ln² 2). p_max is read at the argmax (a gather, not a second vocabulary pass).
 */
function logitColumns(
  clean: Tensor2D, top: Tensor2D, topIndex: Tensor2D, rowIds: Tensor2D, tuning: OpTuning,
): { entropy: Tensor; varentropy: Tensor; real: Tensor } {
  const batch = clean.shape[0];
  const p = tf.softmax(clean);
  const d = tf.sub(clean, top);
  const pd = tf.mul(p, d);
  const meanD = sumRows(pd as Tensor2D, tuning);
  const meanD2 = sumRows(tf.mul(pd, d) as Tensor2D, tuning);
  const pMax = tf.gatherND(p, tf.concat([rowIds, topIndex], 1)); // [B]
  const entropy = tf.mul(tf.add(tf.reshape(tf.log(pMax), [batch, 1]), meanD), -1 / LN2); // bits
  const varentropy = tf.mul(tf.relu(tf.sub(meanD2, tf.square(meanD))), 1 / (LN2 * LN2)); // relu: rounding
  // A row with no usable logit (all NaN/−Inf) has no distribution.
  const real = above(top, REAL_THRESHOLD);
  return { entropy, varentropy, real };
}

/**
 * Attention columns, four [B, 1] tensors (attnEntropy in bits, attnVarentropy in bits², agreement,
 * interactionStrength), over the last query row, excluding keys masked by keyMask or scored
 * NaN/−Inf. A head with no real key has entropy 0; a row with none has every metric 0.
 */
function attentionColumns(attentionScores: Tensor, keyMask: Tensor2D | undefined, tuning: OpTuning): Tensor[] {
  const [batch, heads] = attentionScores.shape as [number, number];
  const keys = attentionScores.shape[attentionScores.rank - 1]!;
  const { clean, p } = attentionSoftmax(attentionScores, keyMask, tuning);
  const headMax = maxRows(clean, tuning); // [BH, 1]
  const realHead = above(headMax, REAL_THRESHOLD);
  // H_h = log Σ e^s − E_p[s] = max − log p_max − E_p[s].
  const headBits = tf.reshape(tf.mul(
    tf.sub(tf.sub(headMax, tf.log(maxRows(p, tuning))), sumRows(tf.mul(p, clean) as Tensor2D, tuning)),
    tf.mul(realHead, 1 / LN2),
  ), [batch, heads]);
  const attnEntropy = tf.mean(headBits, 1, true);
  const attnVarentropy = heads > 1
    ? tf.mul(tf.sum(tf.square(tf.sub(headBits, attnEntropy)), 1, true), 1 / (heads - 1))
    : tf.zerosLike(attnEntropy);

  // mean_h p, with a head that has no real key counting as p = 0 (its softmax is uniform, 1/T).
  const realKey = above(clean, REAL_THRESHOLD); // [BH, T]
  const emptyHeads = tf.sub(heads, tf.sum(tf.reshape(realHead, [batch, heads]), 1, true)); // [B, 1]
  const meanP = tf.sub(meanMiddle(tf.reshape(p, [batch, heads, keys]), tuning), tf.mul(emptyHeads, 1 / (heads * keys)));
  // |p_h − mean_h p| on real pairs only: an excluded pair adds nothing.
  const spread = tf.mul(tf.abs(tf.sub(tf.reshape(p, [batch, heads, keys]), tf.reshape(meanP, [batch, 1, keys]))),
    tf.reshape(realKey, [batch, heads, keys]));
  const strength = tf.abs(tf.mul(clean, realKey));
  // Means over real (head, key) pairs; a row with none reads 0. `total` is the sum over heads and
  // keys divided by H (the pooling's mean): the factor cancels in the ratios.
  const total = (x: Tensor) => sumRows(meanMiddle(tf.reshape(x, [batch, heads, keys]), tuning), tuning);
  const pairs = tf.maximum(total(realKey), 1 / heads);
  return [attnEntropy, attnVarentropy, tf.div(total(spread), pairs), tf.div(total(strength), pairs)];
}

/**
 * The last query row's scores as [B·H, T], with keys masked by keyMask or scored NaN/−Inf set to
 * MASKED (clean), and their softmax over each head (p). Shared with the fused paths.
 */
export function attentionSoftmax(
  attentionScores: Tensor, keyMask: Tensor2D | undefined, tuning: OpTuning,
): { clean: Tensor2D; p: Tensor2D } {
  const [batch, heads] = attentionScores.shape as [number, number];
  const keys = attentionScores.shape[attentionScores.rank - 1]!;
  // One row per (batch, head): 2-D ops are the fast path on wasm.
  let scores: Tensor = attentionScores.rank === 4
    ? tf.slice(attentionScores, [0, 0, attentionScores.shape[2]! - 1, 0], [-1, -1, 1, -1])
    : attentionScores;
  if (keyMask) {
    // A masked key's score becomes NaN (even a ±Inf one: Inf·0), which the clip below makes MASKED.
    const real = above(tf.cast(keyMask, 'float32'), 0);
    scores = tf.mul(tf.reshape(scores, [batch, heads, keys]), tf.reshape(tf.div(real, real), [batch, 1, keys]));
  }
  const clean = sanitizeScores(tf.reshape(scores, [batch * heads, keys]), tuning) as Tensor2D;
  const p = tf.softmax(clean) as Tensor2D; // uniform on a head with no real key: excluded by the metrics
  return { clean, p };
}
