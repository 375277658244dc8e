// The Llama-family decoder (Llama 2/3, SmolLM, TinyLlama, Mistral, Qwen2/3, SmolLM3, Gemma 2/3, Phi-3) and GPT-2, written once over a
// small ops interface: eager tf ops run it for the native model and for training
// (lib/models/llama.ts), GraphBuilder emits it as the converted graph (lib/models/llama-graph.ts).
// Hugging Face conventions throughout (RMSNorm, rotary embeddings in the rotate-half layout,
// grouped-query attention, SwiGLU MLP, tied or separate lm_head, optional q/k/v biases), over the
// fused weights of lib/models/llama-tensors.ts. The relatives' differences are switches: Qwen3's
// per-head q/k norms, SmolLM3's layers without rotary, sliding windows (a second mask), Gemma 2's
// sandwich norms, GeGLU, scaled embeddings, query scale and soft-capping; GPT-2's LayerNorms with
// bias, learned positions (an embedding added, no rotary), plain GELU MLP with biases and per-layer
// attention scale.
// Gemma 3 adds Qwen3's q/k norms and a second rotary (its own base) for the sliding layers. Phi-3 is Llama on fused weights.
//
// What depends on the call's B, T and cache length comes in precomputed (stepInputs in llama.ts),
// so that the graph has no shape arithmetic: `rope` [B, T, hd, hd] is each position's rotation
// as one matrix (x·rope = x·cos + rotate_half(x)·sin), applied to q and k of all heads by one
// batched matmul; `bias` [B, 1, g·T, S] is the additive causal + padding mask, repeated for the
// g = Hq/Hkv query heads that share a kv head.
import type { LlamaLayerWeights, LlamaWeights } from './llama-tensors';
import type { GemmaOptions, Gpt2Options } from './hf-config';

/**
 * The ops the decoder needs, as tf names them. `D` is a size known only at run time (a graph's
 * B, T, S); eager ops know every size, so theirs is number. `M` is a weight matrix (the
 * projections and lm_head): a tensor, or on wasm a matrix the ops keep outside TF.js
 * (lib/wasm/packed-matrices.ts); only matMul and embedColumns take one.
 */
export interface LlamaOps<T, D = number, M = T> {
  /** [N, in] · [in, out], `b` a weight matrix. */
  matMul(a: T, b: M): T;
  /** Batched a·b (or a·bᵀ) over the leading dims. */
  batchMatMul(a: T, b: T, transposeB?: boolean): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  square(x: T): T;
  rsqrt(x: T): T;
  sigmoid(x: T): T;
  tanh(x: T): T;
  /** Over the last axis. */
  softmax(x: T): T;
  /** Mean over the last axis, kept as a size-1 axis. */
  meanLast(x: T): T;
  /** A float32 scalar. */
  scalar(v: number): T;
  /** -1 stands for the one size left over. */
  reshape(x: T, shape: readonly (number | D)[]): T;
  transpose(x: T, perm: readonly number[]): T;
  concat(xs: readonly T[], axis: number): T;
  split(x: T, sizes: readonly number[], axis: number): T[];
  /** Rows of `table` [V, D] at int32 `ids` [B, T] → [B, T, D]. */
  embed(table: T, ids: T): T;
  /** Columns of `table` [D, V] at int32 `ids` [B, T] → [B·T, D] (a tied head's lookup). */
  embedColumns?(table: M, ids: T): T;
  /** The last index along `axis` of a rank-`rank` tensor, that axis dropped. */
  takeLast(x: T, axis: number, rank: number): T;
  /** RMSNorm as one op, x·rsqrt(mean(x², last axis) + eps)·w; absent: the chain of ops above. */
  rmsNorm?(x: T, weight: T, eps: number): T;
  /** silu(gate)·up of [N, 2·I] (gate and up its halves) as one op; absent: split, sigmoid, mul, mul. */
  swiglu?(gateUp: T): T;
  /** softmax(s·scale + bias) as one op; absent: mul, add, softmax. */
  maskedSoftmax?(s: T, scale: number, bias: T): T;
  /**
   * Runs one layer; eager ops free what it made but did not return (tf.tidy), so a prefill holds
   * one layer's intermediates at a time, not all of them. Absent: the layer just runs.
   */
  scope?(layer: () => T[]): T[];
  /**
   * Frees a handed-over cache layer's keys or values once the layer has made its new ones, so
   * that a step holds one cache and a layer, not two caches (the tfjs-wasm heap, which never
   * shrinks, otherwise grows to twice the cache). Absent: the caller frees the old cache after.
   */
  release?(x: T): void;
}

/** The sizes the decoder needs. */
export interface DecoderShape {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  /** Per layer: false where the layer applies no rotary (SmolLM3); absent: every layer does. */
  ropeLayers?: readonly boolean[];
  /** Per layer: true where the layer reads slidingBias (Gemma 2); absent: every layer reads bias. */
  slidingLayers?: readonly boolean[];
  /** Gemma 2's scaled embeddings, attention scale and soft-capping. */
  gemma?: GemmaOptions;
  /** GPT-2's LayerNorms, learned positions, plain MLP and attention scales. */
  gpt2?: Gpt2Options;
}

export interface DecoderInputs<T, D> {
  ids: T; // int32 [B, T], inside the vocabulary
  /** [B, T, hd, hd]; absent for GPT-2, which has no rotary. */
  rope?: T;
  /** GPT-2: int32 [B, T], each new token's position (real tokens counted), rows of wpe. */
  positions?: T;
  bias: T; // [B, 1, g·T, S]
  /** The same within the sliding window, for the layers slidingLayers marks. */
  slidingBias?: T;
  /** Gemma 3: the rotary of the layers slidingLayers marks (their own base); absent, they use `rope`. */
  ropeSliding?: T;
  /** Keys and values per layer before this call, [B, Hkv, P, hd], or null for none. */
  past: { keys: readonly T[]; values: readonly T[] } | null;
  batch: number | D;
  steps: number | D;
  total: number | D; // S = P + T
}

export interface DecoderOutputs<T> {
  /** [B, V] at the last position; [B·T, V] at every position with `allPositions`. */
  logits: T;
  /** [B, Hq, S]: last layer, last query row, q·k/√hd before mask and softmax. */
  attentionScores: T;
  keys: T[]; // [B, Hkv, S, hd] per layer
  values: T[];
}

/** One forward pass of the decoder. */
export function decoderForward<T, D, M = T>(
  ops: LlamaOps<T, D, M>, shape: DecoderShape, w: LlamaWeights<T, M>, inp: DecoderInputs<T, D>,
  options: { allPositions?: boolean } = {},
): DecoderOutputs<T> {
  const { numHeads: hq, numKvHeads: hkv, headDim: hd, hiddenSize: d, intermediateSize: inter } = shape;
  const groups = hq / hkv;
  const { batch: B, steps: T, total: S } = inp;
  const eps = ops.scalar(shape.rmsNormEps);
  const gemma = shape.gemma;
  const gpt2 = shape.gpt2;
  const scaleValue = (i: number) => (gpt2 ? gpt2.attentionScales[i]! : gemma ? gemma.attentionScale : 1 / Math.sqrt(hd));
  const scale = ops.scalar(gemma ? gemma.attentionScale : 1 / Math.sqrt(hd));
  const scaleOf = (i: number) => (gpt2 ? ops.scalar(scaleValue(i)) : scale);
  // cap·tanh(x / cap): Gemma 2's soft-capping of attention scores and logits.
  const softcap = (x: T, cap: number | null | undefined) => (cap ? ops.mul(ops.tanh(ops.mul(x, ops.scalar(1 / cap))), ops.scalar(cap)) : x);
  // GELU, tanh approximation (gelu_pytorch_tanh): x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³))).
  const geluTanh = (x: T) => ops.mul(ops.mul(x, ops.scalar(0.5)), ops.add(ops.scalar(1), ops.tanh(ops.mul(
    ops.add(x, ops.mul(ops.mul(ops.square(x), x), ops.scalar(0.044715))), ops.scalar(Math.sqrt(2 / Math.PI))))));
  // The fused ops take eps and the scale as float32 (Math.fround), as the graph's Consts hold them,
  // so that the native model and its converted graph agree bit for bit.
  const rmsNorm = (x: T, weight: T) => (ops.rmsNorm ? ops.rmsNorm(x, weight, Math.fround(shape.rmsNormEps))
    : ops.mul(ops.mul(x, ops.rsqrt(ops.add(ops.meanLast(ops.square(x)), eps))), weight));
  // GPT-2's nn.LayerNorm: (x − mean) / √(var + eps) · w + b, the variance biased (over D, not D − 1).
  const layerNorm = (x: T, weight: T, bias: T) => {
    const centred = ops.sub(x, ops.meanLast(x));
    return ops.add(ops.mul(ops.mul(centred, ops.rsqrt(ops.add(ops.meanLast(ops.square(centred)), eps))), weight), bias);
  };
  const norm = (x: T, weight: T, bias: T | undefined) => (gpt2 ? layerNorm(x, weight, bias!) : rmsNorm(x, weight));
  const linear = (x: T, weight: M, bias?: T) => {
    const y = ops.matMul(x, weight);
    return bias ? ops.add(y, bias) : y;
  };

  // The residual stream is kept flat, [B·T, D]: projections need no reshapes; attention views
  // it as heads.
  if (!w.embed && !ops.embedColumns) throw new Error('decoderForward: no embedding and no embedColumns op');
  let h = ops.reshape(w.embed ? ops.embed(w.embed, inp.ids) : ops.embedColumns!(w.lmHead, inp.ids), [-1, d]);
  if (gemma) h = ops.mul(h, ops.scalar(gemma.embedScale));
  if (w.positionEmbed) {
    if (!inp.positions) throw new Error('decoderForward: learned positions need inp.positions');
    h = ops.add(h, ops.reshape(ops.embed(w.positionEmbed, inp.positions), [-1, d]));
  }
  const keys: T[] = [];
  const values: T[] = [];
  let scores: T | null = null;
  // One layer: what it returns is all that outlives it (the residual, its cache, the scores).
  const layerStep = (layer: LlamaLayerWeights<T, M>, i: number): T[] => {
    const x = norm(h, layer.inputNorm, layer.inputNormBias);
    const qkv = ops.reshape(linear(x, layer.qkv, layer.qkvBias), [B, T, hq + 2 * hkv, hd]);
    const [qkRaw, vNew] = ops.split(qkv, [hq + hkv, hkv], 2) as [T, T];
    // Qwen3 normalises each q and k head ([Hq + Hkv, hd] weights broadcast over B, T).
    const qk = layer.qkNorm ? rmsNorm(qkRaw, layer.qkNorm) : qkRaw;
    // Rotary on q and k of every head at once: [B, T, H, hd] · [B, T, hd, hd].
    const useRope = !gpt2 && (shape.ropeLayers?.[i] ?? true);
    const rope = shape.slidingLayers?.[i] && inp.ropeSliding ? inp.ropeSliding : inp.rope;
    if (useRope && !rope) throw new Error('decoderForward: rotary layers need inp.rope');
    const rotated = ops.transpose(useRope ? ops.batchMatMul(qk, rope!) : qk, [0, 2, 1, 3]); // [B, Hq + Hkv, T, hd]
    const [q, kNew] = ops.split(rotated, [hq, hkv], 1) as [T, T];
    const vHeads = ops.transpose(vNew, [0, 2, 1, 3]);
    const k = inp.past ? ops.concat([inp.past.keys[i]!, kNew], 2) : kNew;
    const v = inp.past ? ops.concat([inp.past.values[i]!, vHeads], 2) : vHeads;
    if (inp.past && ops.release) {
      ops.release(inp.past.keys[i]!);
      ops.release(inp.past.values[i]!);
    }
    keys.push(k);
    values.push(v);
    // Grouped-query attention without copying the cache: the g query heads of a kv head are
    // stacked along the query axis, [B, Hkv, g·T, hd] (query head j reads kv head ⌊j / g⌋).
    const qGrouped = groups > 1 ? ops.reshape(q, [B, hkv, -1, hd]) : q;
    const raw = ops.batchMatMul(qGrouped, k, true); // [B, Hkv, g·T, S]
    const bias = shape.slidingLayers?.[i] ? inp.slidingBias! : inp.bias;
    const fusedSoftmax = ops.maskedSoftmax && !gemma?.attentionSoftcap;
    const last = i === w.layers.length - 1;
    const s = fusedSoftmax && !last ? null : softcap(ops.mul(raw, scaleOf(i)), gemma?.attentionSoftcap);
    if (last) {
      const perHead = groups > 1 ? ops.reshape(s!, [B, hq, T, S]) : s!;
      scores = ops.takeLast(perHead, 2, 4); // [B, Hq, S]
    }
    const probs = fusedSoftmax ? ops.maskedSoftmax!(raw, Math.fround(scaleValue(i)), bias) : ops.softmax(ops.add(s!, bias));
    const attn = ops.batchMatMul(probs, v); // [B, Hkv, g·T, hd]
    const perHead = groups > 1 ? ops.reshape(attn, [B, hq, T, hd]) : attn;
    const merged = ops.reshape(ops.transpose(perHead, [0, 2, 1, 3]), [-1, hq * hd]);
    const attnOut = linear(merged, layer.o, layer.oBias);
    h = ops.add(h, layer.attnOutNorm ? rmsNorm(attnOut, layer.attnOutNorm) : attnOut);
    const y = norm(h, layer.postNorm, layer.postNormBias);
    let mlpOut: T;
    if (gpt2) { // c_fc → gelu_new → c_proj
      mlpOut = linear(geluTanh(linear(y, layer.gateUp, layer.gateUpBias)), layer.down, layer.downBias);
    } else if (!gemma && ops.swiglu) {
      mlpOut = ops.matMul(ops.swiglu(ops.matMul(y, layer.gateUp)), layer.down);
    } else {
      const [gate, up] = ops.split(ops.matMul(y, layer.gateUp), [inter, inter], 1) as [T, T];
      const act = gemma ? geluTanh(gate) : ops.mul(gate, ops.sigmoid(gate));
      mlpOut = ops.matMul(ops.mul(act, up), layer.down);
    }
    h = ops.add(h, layer.mlpOutNorm ? rmsNorm(mlpOut, layer.mlpOutNorm) : mlpOut);
    return [h, k, v, ...(scores ? [scores] : [])];
  };
  w.layers.forEach((layer, i) => (ops.scope ? ops.scope(() => layerStep(layer, i)) : layerStep(layer, i)));
  const last = options.allPositions ? h : ops.takeLast(ops.reshape(h, [B, T, d]), 1, 3);
  const logits = softcap(ops.matMul(norm(last, w.finalNorm, w.finalNormBias), w.lmHead), gemma?.finalSoftcap);
  return { logits, attentionScores: scores!, keys, values };
}
