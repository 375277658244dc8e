// Cutting, joining and permuting tensors on tfjs-wasm's heap as block copies, with no kernel:
// the decoder's splits of q/k/v and of the rotated heads, its KV cache appends, and its head
// transposes. Why: each of these tf ops costs ~8 µs and a few KB of garbage in tfjs-core's
// bookkeeping (a decode step made ~270 of them, most of its JS allocations; the garbage is what
// grows V8's young generation, part of the peak RSS), and tfjs-wasm's slice kernel (under
// stridedSlice) first reads its whole input back into JS (a prompt's SwiGLU halves: 47 MB). Elsewhere (another backend, another dtype,
// a tensor the heap does not hold, a permutation that moves the last axis) each is the tf op.
// Not differentiable: the inference ops and the graph executor use them, training keeps tf ops.
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { splitAlong } from '../core/split';
import { wasmHeap } from './heap';

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** `x` cut along `axis` (≥ 0) into parts of the given sizes (which sum to its size there). */
export function splitOnHeap(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const heap = wasmHeap();
  const dim = x.shape[axis];
  if (!heap || x.dtype !== 'float32' || dim === undefined || sizes.reduce((a, b) => a + b, 0) !== dim
    || sizes.some((n) => !Number.isInteger(n) || n < 0) || !heap.view(x)) {
    return splitAlong(x, sizes, axis);
  }
  const outer = product(x.shape.slice(0, axis));
  const inner = product(x.shape.slice(axis + 1));
  const outs = sizes.map((n) => heap.makeOutput(x.shape.map((d, i) => (i === axis ? n : d)), 'float32'));
  const src = heap.view(x)!;
  let at = 0;
  sizes.forEach((n, p) => {
    const dst = heap.view(outs[p]!)!;
    const block = n * inner;
    for (let o = 0; o < outer; o++) dst.set(src.subarray(o * dim * inner + at, o * dim * inner + at + block), o * block);
    at += block;
  });
  return outs.map((t) => tf.engine().makeTensorFromTensorInfo(t));
}

/** tf.concat(xs, axis) (axis ≥ 0). */
export function concatOnHeap(xs: readonly Tensor[], axis: number): Tensor {
  const heap = wasmHeap();
  const first = xs[0];
  const fits = heap !== null && first !== undefined && axis >= 0 && axis < first.rank && xs.every((x) => x.dtype === 'float32'
    && x.rank === first.rank && x.shape.every((d, i) => i === axis || d === first.shape[i]) && heap.view(x) !== null);
  if (!fits) return tf.concat(xs as Tensor[], axis);
  const outer = product(first.shape.slice(0, axis));
  const inner = product(first.shape.slice(axis + 1));
  const total = xs.reduce((a, x) => a + x.shape[axis]!, 0);
  const out = heap.makeOutput(first.shape.map((d, i) => (i === axis ? total : d)), 'float32');
  const dst = heap.view(out)!;
  let at = 0;
  for (const x of xs) {
    const block = x.shape[axis]! * inner;
    const src = heap.view(x)!;
    for (let o = 0; o < outer; o++) dst.set(src.subarray(o * block, (o + 1) * block), o * total * inner + at);
    at += block;
  }
  return tf.engine().makeTensorFromTensorInfo(out);
}

/** tf.transpose(x, perm) for a perm that keeps the last axis last (rows of it move whole). */
export function transposeOnHeap(x: Tensor, perm: readonly number[]): Tensor {
  const heap = wasmHeap();
  const rank = x.rank;
  const valid = perm.length === rank && rank >= 2 && perm[rank - 1] === rank - 1 && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!heap || x.dtype !== 'float32' || !valid || !heap.view(x)) return tf.transpose(x, perm as number[]);
  const shape = perm.map((p) => x.shape[p]!);
  const run = x.shape[rank - 1]!;
  // Strides of x (in elements) for each output axis but the last.
  const strides = new Array<number>(rank).fill(0);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= x.shape[i]!;
  }
  const by = perm.slice(0, -1).map((p) => strides[p]!);
  const lead = shape.slice(0, -1);
  const out = heap.makeOutput(shape, 'float32');
  const [src, dst] = [heap.view(x)!, heap.view(out)!];
  const index = new Array<number>(lead.length).fill(0);
  for (let r = 0, count = product(lead); r < count; r++) {
    let from = 0;
    for (let i = 0; i < lead.length; i++) from += index[i]! * by[i]!;
    dst.set(src.subarray(from, from + run), r * run);
    for (let i = lead.length - 1; i >= 0; i--) { // the next output row: an odometer over the leading axes
      if (++index[i]! < lead[i]!) break;
      index[i] = 0;
    }
  }
  return tf.engine().makeTensorFromTensorInfo(out);
}
