// Three chains of the decoder as one op each on tfjs-wasm: RMSNorm (Square, Mean, Add, Rsqrt, Mul,
// Mul), SwiGLU (the gate/up split, Sigmoid, Mul, Mul) and the attention's masked softmax (Mul by
// the scale, Add of the bias, Softmax). Why: a decode step is bound by the weights it streams, and
// what it spends beyond them is per-op overhead (~5–10 µs an op in tfjs-core, ~38 ops a layer);
// these chains are 15 of them. Each reads its inputs and writes its output on the heap in place,
// in JS (the tensors are small at decode), and rounds once at the end. Elsewhere (other backends,
// shapes these loops do not take, large tensors better left to XNNPACK's vector kernels) each is
// the same chain of tf ops. The native model's inference ops call them (lib/models/llama.ts) and
// the graph executor fuses the same chains of a converted graph (lib/graphdef/fusion.ts).
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { splitOnHeap } from './layout';
import { wasmHeap } from './heap';

/** Beyond this many elements the JS loops lose to tfjs-wasm's vector kernels (a prompt's SwiGLU, say). */
const MAX_ELEMENTS = 1 << 16;

/** x · rsqrt(mean(x², last axis) + eps) · w, for w of the last axis' size (broadcast over the rest). */
export function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const heap = wasmHeap();
  const d = x.shape[x.rank - 1]!;
  if (!heap || x.dtype !== 'float32' || w.dtype !== 'float32' || w.rank !== 1 || w.shape[0] !== d || x.size > MAX_ELEMENTS
    || !heap.view(x) || !heap.view(w)) {
    return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), tf.scalar(eps)))), w));
  }
  const out = heap.makeOutput(x.shape.slice(), 'float32');
  const [xv, wv, ov] = [heap.view(x)!, heap.view(w)!, heap.view(out)!];
  for (let at = 0; at < x.size; at += d) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += xv[at + i]! * xv[at + i]!;
    const r = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) ov[at + i] = xv[at + i]! * r * wv[i]!;
  }
  return tf.engine().makeTensorFromTensorInfo(out);
}

/** [..., 2·I] → [..., I]: silu(gate) · up, gate and up the two halves of the last axis. */
export function swiglu(gateUp: Tensor): Tensor {
  const heap = wasmHeap();
  const two = gateUp.shape[gateUp.rank - 1]!;
  if (!heap || gateUp.dtype !== 'float32' || two % 2 !== 0 || gateUp.size > MAX_ELEMENTS || !heap.view(gateUp)) {
    return tf.tidy(() => {
      // Halves by block copies: tfjs-wasm's slice kernel reads its whole input back first.
      const [gate, up] = splitOnHeap(gateUp, [two / 2, two / 2], gateUp.rank - 1) as [Tensor, Tensor];
      return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    });
  }
  const inter = two / 2;
  const out = heap.makeOutput([...gateUp.shape.slice(0, -1), inter], 'float32');
  const [xv, ov] = [heap.view(gateUp)!, heap.view(out)!];
  for (let row = 0, o = 0; row < gateUp.size; row += two) {
    for (let i = 0; i < inter; i++, o++) {
      const g = xv[row + i]!;
      ov[o] = (g / (1 + Math.exp(-g))) * xv[row + inter + i]!;
    }
  }
  return tf.engine().makeTensorFromTensorInfo(out);
}

/**
 * softmax(s · scale + bias) over the last axis, `bias` broadcast to `s` along axes where its size
 * is 1 (the decoder's [B, 1, g·T, S] mask over [B, Hkv, g·T, S] scores).
 */
export function maskedSoftmax(s: Tensor, scale: number, bias: Tensor): Tensor {
  const heap = wasmHeap();
  const n = s.shape[s.rank - 1]!;
  const broadcastable = bias.rank === s.rank && bias.shape.every((b, i) => b === s.shape[i] || (b === 1 && i < s.rank - 1));
  if (!heap || s.dtype !== 'float32' || bias.dtype !== 'float32' || !broadcastable || n === 0 || s.size > MAX_ELEMENTS
    || !heap.view(s) || !heap.view(bias)) {
    return tf.tidy(() => tf.softmax(tf.add(tf.mul(s, tf.scalar(scale)), bias)));
  }
  const out = heap.makeOutput(s.shape.slice(), 'float32');
  const [sv, bv, ov] = [heap.view(s)!, heap.view(bias)!, heap.view(out)!];
  // Row-major strides of s and of bias (0 where bias broadcasts) over the leading axes.
  const lead = s.rank - 1;
  const sStride = new Array<number>(lead);
  const bStride = new Array<number>(lead);
  for (let i = lead - 1, ss = n, bs = n; i >= 0; i--) {
    sStride[i] = ss;
    bStride[i] = bias.shape[i] === 1 ? 0 : bs;
    ss *= s.shape[i]!;
    bs *= bias.shape[i]!;
  }
  for (let row = 0; row < s.size; row += n) {
    let b = 0;
    for (let i = 0, r = row; i < lead; i++) {
      b += Math.floor(r / sStride[i]!) * bStride[i]!;
      r %= sStride[i]!;
    }
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      const v = sv[row + j]! * scale + bv[b + j]!;
      ov[row + j] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(ov[row + j]! - max);
      ov[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < n; j++) ov[row + j] = ov[row + j]! / sum;
  }
  return tf.engine().makeTensorFromTensorInfo(out);
}
