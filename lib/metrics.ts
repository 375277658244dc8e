// Entropix's uncertainty metrics, one value per row, computed on the device.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from './tf';
import { EntropixError } from './errors';
import { above, REAL_THRESHOLD, sanitizeScores } from './special-values';
import { requireDim, requireTensor } from './validate';

/** A type (not an interface) so that `tf.dispose(metrics)` type-checks as a TensorContainer. */
export type Metrics = {
  /** −Σ p log2 p of softmax(logits), bits. NaN for a row with no usable logit. */
  entropy: Tensor1D;
  /** Σ p (log2 p + entropy)², bits². NaN for a row with no usable logit. */
  varentropy: Tensor1D;
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
  keyMask?: Tensor2D;
}

const LN2 = Math.LN2;

/**
 * Validates logits [B, V] and attention scores [B, H, T] or [B, H, Q, T] (last query row used)
 * plus an optional keyMask [B, T]; returns the batch size. Shared with the sampler.
 */
export function validateMetricInputs(logits: unknown, attentionScores: unknown, keyMask: unknown): number {
  const x = requireTensor(logits, 'logits', [2], ['float32']);
  const batch = x.shape[0]!;
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
  logits: Tensor2D,
  attentionScores: Tensor,
  options: MetricsOptions = {},
): Metrics {
  if (typeof options !== 'object' || options === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'options must be an object', 'options');
  }
  validateMetricInputs(logits, attentionScores, options.keyMask);
  return tf.tidy(() => {
    const clean = sanitizeScores(logits);
    return {
      ...logitMetrics(clean, tf.max(clean, 1, true) as Tensor2D),
      ...attentionMetrics(attentionScores, options.keyMask),
    };
  });
}

/**
 * Entropy and varentropy from one softmax. With d = x − max and p = softmax(d):
 * H = log Σ e^d − E_p[d] = −log p_max − E_p[d] and Var = E_p[d²] − E_p[d]² (nats, then bits).
 * `clean` is sanitized logits [B, V]; `rowMax` their row maxima [B, 1].
 */
export function logitMetrics(clean: Tensor2D, rowMax: Tensor2D): Pick<Metrics, 'entropy' | 'varentropy'> {
  const d = tf.sub(clean, rowMax);
  const p = tf.softmax(d);
  const pd = tf.mul(p, d);
  const meanD = tf.sum(pd, 1);
  const meanD2 = tf.sum(tf.mul(pd, d), 1);
  const pMax = tf.max(p, 1);
  const nats = tf.sub(tf.neg(tf.log(pMax)), meanD);
  const nats2 = tf.relu(tf.sub(meanD2, tf.square(meanD))); // rounding can dip below 0
  // A row with no usable logit (all NaN/−Inf) has no distribution: NaN, not log2(V).
  const real = above(tf.reshape(rowMax, [-1]), REAL_THRESHOLD);
  const nanIfEmpty = tf.div(real, real);
  return {
    entropy: tf.mul(nats, tf.mul(nanIfEmpty, 1 / LN2)) as Tensor1D,
    varentropy: tf.mul(nats2, tf.mul(nanIfEmpty, 1 / (LN2 * LN2))) as Tensor1D,
  };
}

/**
 * Attention metrics over the last query row, excluding keys masked by keyMask or scored
 * NaN/−Inf. A head with no real key has entropy 0; a row with none has every metric 0.
 */
export function attentionMetrics(
  attentionScores: Tensor,
  keyMask: Tensor2D | undefined,
): Omit<Metrics, 'entropy' | 'varentropy'> {
  const [batch, heads] = attentionScores.shape as [number, number];
  const keys = attentionScores.shape[attentionScores.rank - 1]!;
  let scores = attentionScores.rank === 4
    ? tf.reshape(
      tf.slice(attentionScores, [0, 0, attentionScores.shape[2]! - 1, 0], [-1, -1, 1, -1]),
      [batch, heads, keys])
    : attentionScores;
  if (keyMask) {
    // A masked key's score becomes NaN (even a ±Inf one: Inf·0), which the clip below makes MASKED.
    const real = above(tf.cast(keyMask, 'float32'), 0);
    const nanIfMasked = tf.reshape(tf.div(real, real), [batch, 1, keys]);
    scores = tf.mul(scores, nanIfMasked);
  }
  const clean = sanitizeScores(scores);
  const realKey = above(clean, REAL_THRESHOLD); // [B, H, T]
  const headMax = tf.max(clean, 2, true);
  const realHead = above(headMax, REAL_THRESHOLD); // [B, H, 1]
  const d = tf.sub(clean, headMax);
  const pAll = tf.softmax(d); // uniform on a head with no real key; zeroed below
  const headNats = tf.mul(
    tf.sub(tf.neg(tf.log(tf.max(pAll, 2, true))), tf.sum(tf.mul(pAll, d), 2, true)),
    realHead,
  );
  const headBits = tf.reshape(tf.mul(headNats, 1 / LN2), [batch, heads]);
  const attnEntropy = tf.mean(headBits, 1);
  const attnVarentropy = heads > 1
    ? tf.div(tf.sum(tf.square(tf.sub(headBits, tf.reshape(attnEntropy, [batch, 1]))), 1), heads - 1)
    : tf.zeros([batch]);
  const p = tf.mul(pAll, realHead);
  // |p_h − mean_h p| on real pairs only: an excluded pair adds nothing (its p_h is 0, the mean's is not).
  const spread = tf.mul(tf.abs(tf.sub(p, tf.mean(p, 1, true))), realKey);
  // Means over real (head, key) pairs; a row with none divides by 1 and reads 0.
  const realPairs = tf.maximum(tf.sum(realKey, [1, 2]), 1);
  const agreement = tf.div(tf.sum(spread, [1, 2]), realPairs);
  const interactionStrength = tf.div(tf.sum(tf.abs(tf.mul(clean, realKey)), [1, 2]), realPairs);
  return {
    attnEntropy: attnEntropy as Tensor1D,
    attnVarentropy: attnVarentropy as Tensor1D,
    agreement: agreement as Tensor1D,
    interactionStrength: interactionStrength as Tensor1D,
  };
}
