// The keys the last query row attended to: the attention mask, less the keys the last layer's
// sliding window (Mistral's and Phi-3's; Gemma 2's and 3's when the last layer slides) hides from the newest position.
// The attention metrics read this as their keyMask, so they count only keys the softmax saw.
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';

/** A model's attention window: slidingWindow applies to every layer, or to those slidingLayers marks. */
export interface AttentionWindow {
  readonly slidingWindow?: number | null;
  readonly slidingLayers?: readonly boolean[];
}

/**
 * `mask` [B, S] (1 = real key) with the keys before S − window set to 0, the window being the last
 * layer's; `mask` itself when that layer has none or S ≤ window. Call inside a tidy.
 */
export function attendedKeys(mask: Tensor2D, model: AttentionWindow): Tensor2D {
  const last = model.slidingLayers ? model.slidingLayers[model.slidingLayers.length - 1] : true;
  const window = last ? model.slidingWindow : null;
  const [batch, total] = mask.shape;
  if (window == null || total <= window) return mask;
  return tf.concat([tf.zeros([batch, total - window], mask.dtype), tf.slice(mask, [0, total - window], [-1, window])], 1) as Tensor2D;
}
