// The keys the last query row attended to: the attention mask, less the keys a sliding window
// (Mistral's) hides from the newest position. The attention metrics read this as their keyMask,
// so they count only keys the model's softmax saw.
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';

/**
 * `mask` [B, S] (1 = real key) with the keys before S − window set to 0; `mask` itself without a
 * window or when S ≤ window. Call inside a tidy.
 */
export function attendedKeys(mask: Tensor2D, window: number | null | undefined): Tensor2D {
  const [batch, total] = mask.shape;
  if (window == null || total <= window) return mask;
  return tf.concat([tf.zeros([batch, total - window], mask.dtype), tf.slice(mask, [0, total - window], [-1, window])], 1) as Tensor2D;
}
