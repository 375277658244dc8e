// How NaN and ±Inf inputs are treated, in one place.
//
// Scores (logits or attention scores) are clipped into [MASKED, FLOAT32_MAX] before any maths:
// - NaN and −Inf become MASKED: the entry is excluded (its probability is exactly 0) but stays
//   finite, so products such as p·x never meet 0·Inf;
// - +Inf becomes FLOAT32_MAX: the softmax limit, where all mass goes to the +Inf entries;
// - finite values at or below MASKED count as masked too (HF's finfo.min masks, for example).
import { tf } from '../core/tf';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { OpTuning } from './backends/tuning';

/** The value a masked entry is given. Its square still fits in float32. */
export const MASKED = -1e18;
/** Anything above this (in a clipped tensor) is a real entry. */
export const REAL_THRESHOLD = MASKED / 2;
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Clips into [MASKED, FLOAT32_MAX], with NaN → MASKED. On wasm, XNNPACK's clamp already maps NaN
 * to the lower bound (tuning.clampMapsNaN; checked by the tests on every backend they run), which
 * saves two full passes over the vocabulary; other backends keep NaN through a clip, so they
 * replace it explicitly.
 */
export function sanitizeScores<T extends Tensor>(x: T, tuning: OpTuning): T {
  const clipped = tf.clipByValue(x, MASKED, FLOAT32_MAX);
  if (tuning.clampMapsNaN) return clipped;
  return tf.where(tf.isNaN(x), tf.fill(x.shape, MASKED), clipped) as T;
}

/** 1 where x > threshold, else 0 (float32). `step` is a fast unary op where comparisons are not. */
export function above(x: Tensor, threshold: number): Tensor {
  return tf.step(threshold === 0 ? x : tf.sub(x, threshold));
}
