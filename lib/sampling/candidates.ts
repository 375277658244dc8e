// The candidate set: each row's k highest logits, sorted by logit descending and ties by token id
// ascending (tf.topk's order on every backend; the order every path shares), with their token ids.
//
// One tf.topk over the vocabulary costs about two softmax passes on wasm. A two-stage search is
// exact and cheaper: split the vocabulary into n contiguous blocks of g tokens (block j holds
// tokens j·g … j·g + g − 1), take each block's maximum, keep the k blocks with the highest maxima
// (ties to the lower block), and run topk over their k·g members. Every one of the k best tokens
// lies in a kept block: were its block B left out, k kept blocks would each hold a better token
// (a higher maximum, or an equal one at a lower id, since a lower block's ids are all lower).
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import type { OpTuning } from './backends/tuning';

/** A type (not an interface), so that it is a TensorContainer for tf.tidy and tf.dispose. */
export type Candidates = {
  values: Tensor2D; // [B, k] sanitized logits, descending
  indices: Tensor2D; // [B, k] int32 token ids
};

const BLOCK = 16;

/** The k = min(cap, V) highest entries of each row of clean [B, V], sorted descending. */
export function topCandidates(clean: Tensor2D, cap: number, tuning: OpTuning): Candidates {
  const [batch, vocab] = clean.shape;
  const k = Math.min(cap, vocab);
  const blocks = vocab / BLOCK;
  // Used on wasm for two or more rows, when the blocks outnumber k several times over. One row's
  // topk is fast enough there that the extra small ops cost more than they save, and GPU
  // backends pay per dispatch (measured: benchmarks/README.md). Both paths give the same result.
  const twoStage = tuning.twoStageCandidates && batch > 1 && Number.isInteger(blocks) && blocks >= 4 * k;
  if (!twoStage) {
    const { values, indices } = tf.topk(clean, k, true);
    return { values, indices };
  }
  const blockMax = tf.max(tf.reshape(clean, [batch, blocks, BLOCK]), 2);
  // [B, k] kept block ids, ascending (topk of the negated ids), so that members come in token id order.
  const kept = tf.neg(tf.topk(tf.neg(tf.cast(tf.topk(blockMax, k, false).indices, 'float32')), k, true).values);
  // Token ids of the kept blocks' members, [B, k·g], ascending: member (i, r) is kept_i·g + r.
  // topk keeps tied values in position order, hence in token id order. Index maths runs in
  // float32 (exact below 2^24) because int32 broadcasting is a slow generic path on wasm; gathers
  // read flat indices (tf.gather copies its whole source on wasm, and its batchDims is broken there).
  const members = tf.reshape(
    tf.add(tf.reshape(tf.mul(kept, BLOCK), [batch, k, 1]), tf.range(0, BLOCK, 1, 'float32')), [batch, k * BLOCK]);
  const best = tf.topk(gatherRows(clean, members) as Tensor2D, k, true);
  const indices = tf.cast(gatherRows(members as Tensor2D, tf.cast(best.indices, 'float32')), 'int32');
  return { values: best.values, indices: indices as Tensor2D };
}

/** out[b, i] = x[b, at[b, i]] for x [B, N] and float32 positions at [B, M]. */
function gatherRows(x: Tensor, at: Tensor): Tensor {
  const [batch, n] = x.shape as [number, number];
  const flat = tf.add(at, tf.tensor2d(Float32Array.from({ length: batch }, (_, b) => b * n), [batch, 1]));
  const index = tf.expandDims(tf.cast(flat, 'int32'), 2); // [B, M, 1]
  return tf.gatherND(tf.reshape(x, [-1]), index);
}
