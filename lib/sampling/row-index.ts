import type { Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';

/** int32 [B, 1]: 0 … B−1, the row half of a gatherND index (tf.gather with batchDims is broken on wasm). */
export function rowIdColumn(batch: number): Tensor2D {
  return tf.tensor2d(Int32Array.from({ length: batch }, (_, b) => b), [batch, 1], 'int32') as Tensor2D;
}
