// The Llama-family decoder (Llama 2/3, SmolLM, TinyLlama, Mistral, Qwen2) with tf ops: the native
// reference the converted graph is tested against. Hugging Face conventions throughout (RMSNorm, rotary embeddings in the rotate-half layout, grouped-query attention,
// SwiGLU MLP, tied or separate lm_head, optional q/k/v biases: Qwen2), except that projection
// weights are held transposed, [in, out]: on wasm x·W runs 5–10× faster than x·Wᵀ (measured in
// benchmarks/README.md), so loaders transpose once instead of every step.
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { requireTensor } from '../core/validate';
import type { ModelConfig } from './hf-config';

/** The shape parameters the maths needs (a subset of ModelConfig). */
export type LlamaShape = Pick<ModelConfig,
  'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize'
  | 'maxPositions' | 'ropeTheta' | 'rmsNormEps'> & {
  /** Llama 3.1's frequency-dependent RoPE scaling, or null. */
  ropeScaling?: RopeScaling | null;
};

/**
 * The shape a model validates against: the config, with Mistral's sliding window as the limit on
 * sequence length (longer sequences are refused rather than computed without the window).
 */
export function forwardShape(config: ModelConfig): LlamaShape {
  return { ...config, maxPositions: Math.min(config.maxPositions, config.slidingWindow ?? Infinity) };
}

export interface RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/**
 * RoPE inverse frequencies theta^(−2i/hd), i < hd/2, with Llama 3.1's scaling when given: long
 * wavelengths are divided by `factor`, short ones kept, and the band between blended smoothly.
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling?: RopeScaling | null): Float32Array {
  return Float32Array.from({ length: headDim / 2 }, (_, i) => {
    const freq = 1 / theta ** ((2 * i) / headDim);
    if (!scaling) return freq;
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const wavelength = (2 * Math.PI) / freq;
    if (wavelength < originalMaxPositions / highFreqFactor) return freq;
    if (wavelength > originalMaxPositions / lowFreqFactor) return freq / factor;
    const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (freq / factor) + smooth * freq;
  });
}

export interface LlamaLayerWeights {
  inputNorm: Tensor1D; // [D]
  q: Tensor2D; // [D, Hq·hd]
  k: Tensor2D; // [D, Hkv·hd]
  v: Tensor2D; // [D, Hkv·hd]
  o: Tensor2D; // [Hq·hd, D]
  oBias?: Tensor1D; // llama's attention_bias
  qBias?: Tensor1D;
  kBias?: Tensor1D;
  vBias?: Tensor1D;
  postNorm: Tensor1D; // [D]
  gate: Tensor2D; // [D, I]
  up: Tensor2D; // [D, I]
  down: Tensor2D; // [I, D]
}

export interface LlamaWeights {
  embed: Tensor2D; // [V, D]
  layers: LlamaLayerWeights[];
  finalNorm: Tensor1D; // [D]
  lmHead: Tensor2D; // [D, V]; the embedding's transpose when tied
}

/** Keys and values per layer, [B, Hkv, S, hd], for the S positions seen so far. */
export class LlamaCache {
  constructor(
    readonly owner: object,
    readonly keys: Tensor4D[],
    readonly values: Tensor4D[],
  ) {}
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }
  get batch(): number {
    return this.keys[0]?.shape[0] ?? 0;
  }
  dispose(): void {
    tf.dispose([...this.keys, ...this.values]);
  }
}

export interface LlamaOutput {
  logits: Tensor2D; // [B, V] at the last input position
  attentionScores: Tensor3D; // [B, Hq, S]: last layer, last query row, q·k/√hd before mask and softmax
  cache: LlamaCache;
}

/**
 * Rotary angles for positions [B, T] (float32): cos and sin [B, 1, T, hd], each half repeated
 * (the rotate-half layout: dimension i pairs with i + hd/2 and both use frequency i).
 */
export function rotaryAngles(
  positions: Tensor2D, headDim: number, theta: number, scaling?: RopeScaling | null,
): { cos: Tensor4D; sin: Tensor4D } {
  const invFreq = tf.tensor1d(ropeInverseFrequencies(headDim, theta, scaling));
  const angles = tf.mul(tf.expandDims(positions, 2), invFreq); // [B, T, hd/2]
  const full = tf.concat([angles, angles], 2); // [B, T, hd]
  const [b, t] = positions.shape;
  return {
    cos: tf.reshape(tf.cos(full), [b, 1, t, headDim]) as Tensor4D,
    sin: tf.reshape(tf.sin(full), [b, 1, t, headDim]) as Tensor4D,
  };
}

/** x·cos + rotate_half(x)·sin, with rotate_half([x1, x2]) = [−x2, x1] on the last axis. */
export function applyRotary(x: Tensor4D, cos: Tensor4D, sin: Tensor4D): Tensor4D {
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  const rotated = tf.concat([tf.neg(x2!), x1!], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as Tensor4D;
}

export function rmsNorm(x: Tensor, weight: Tensor1D, eps: number): Tensor {
  const scale = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps));
  return tf.mul(tf.mul(x, scale), weight);
}

/** x [N, in] · W with W [in, out] (+ bias). */
function linear(x: Tensor, w: Tensor2D, bias?: Tensor1D): Tensor {
  const y = tf.matMul(x as Tensor2D, w);
  return bias ? tf.add(y, bias) : y;
}

/** Projection weights (and lm_head), which models hold as [in, out], not Hugging Face's [out, in]. */
export function isProjectionWeight(name: string): boolean {
  return /(_proj\.weight|^lm_head\.weight)$/.test(name);
}

export interface StepInputs {
  /** inputIds clamped into [0, V): an out-of-range id reads a real row instead of garbage. */
  ids: Tensor2D;
  /** [B, 1]: 1 where every id of the row is in [0, V), NaN where one is not (see nanIfBadIds). */
  idsOk: Tensor2D;
  positions: Tensor2D; // [B, T] float32: the position of each new token
  cos: Tensor4D; // [B, 1, T, hd]
  sin: Tensor4D; // [B, 1, T, hd]
  bias: Tensor4D; // [B, 1, T, S] additive attention mask: 0 visible, −1e9 hidden
}

/**
 * The per-call inputs whose shapes depend on B, T and the cache length, computed outside the
 * model so the native forward and the converted graph share one definition: rotary cos/sin for
 * the new tokens and the additive causal + padding mask. `past` is the cache length; the mask is
 * [B, past + T] (1 = real token) or null for all real. Positions count real tokens only
 * (HF: cumsum(mask) − 1), so a left-padded row computes what it computes alone.
 * Call inside a tidy except for the returned tensors.
 */
export function stepInputs(
  shape: Pick<LlamaShape, 'headDim' | 'ropeTheta' | 'ropeScaling' | 'vocabSize'>, past: number,
  inputIds: Tensor2D, attentionMask: Tensor2D | null,
): StepInputs {
  const [batch, steps] = inputIds.shape;
  // Ids are checked on the device (a host check would be a read per step): a row with an id
  // outside the vocabulary gets NaN logits, which the sampler turns into token −1.
  const idsF = tf.cast(inputIds, 'float32');
  const inRange = tf.min(tf.mul(tf.step(tf.add(idsF, 0.5)), tf.step(tf.sub(shape.vocabSize - 0.5, idsF))), 1, true);
  const idsOk = tf.div(inRange, inRange) as Tensor2D;
  const ids = tf.cast(tf.clipByValue(idsF, 0, shape.vocabSize - 1), 'int32') as Tensor2D; // int32 clip is a no-op on wasm
  const total = past + steps;
  const mask = attentionMask ? tf.cast(attentionMask, 'float32') : tf.ones([batch, total]);
  const positionsAll = tf.relu(tf.sub(tf.cumsum(mask, 1), 1)) as Tensor2D; // [B, S]
  const positions = tf.slice(positionsAll, [0, past], [-1, steps]) as Tensor2D;
  const { cos, sin } = rotaryAngles(positions, shape.headDim, shape.ropeTheta, shape.ropeScaling);
  // A key is visible when it is real and not in the future.
  const queryAt = tf.reshape(tf.range(past, total, 1, 'float32'), [1, 1, steps, 1]);
  const keyAt = tf.reshape(tf.range(0, total, 1, 'float32'), [1, 1, 1, total]);
  const causal = tf.step(tf.add(tf.sub(queryAt, keyAt), 0.5)); // key ≤ query
  const visible = tf.mul(causal, tf.reshape(mask, [batch, 1, 1, total]));
  const bias = tf.mul(tf.sub(1, visible), -1e9) as Tensor4D;
  return { ids, idsOk, positions, cos, sin, bias };
}

/**
 * One forward pass. inputIds int32 [B, T]; cache from an earlier call (or null); attentionMask
 * [B, S] with S = cache length + T, 1 for a real token (left padding: 0s first). Positions count
 * real tokens only, so a left-padded row computes exactly what it computes alone.
 * The caller has validated the arguments; call inside a tidy except for the returned tensors.
 */
export function llamaForward(
  shape: LlamaShape, w: LlamaWeights, owner: object,
  inputIds: Tensor2D, cache: LlamaCache | null, attentionMask: Tensor2D | null,
): LlamaOutput {
  const [batch, steps] = inputIds.shape;
  const past = cache?.length ?? 0;
  const total = past + steps;
  const { numHeads: hq, numKvHeads: hkv, headDim: hd } = shape;
  const groups = hq / hkv;

  const { ids, idsOk, cos, sin, bias } = stepInputs(shape, past, inputIds, attentionMask);

  // The residual stream is kept flat, [B·T, D]; attention views it as heads.
  let h: Tensor = tf.reshape(tf.gather(w.embed, ids), [batch * steps, shape.hiddenSize]);
  const keys: Tensor4D[] = [];
  const values: Tensor4D[] = [];
  let lastScores: Tensor3D | null = null;
  const heads = (x: Tensor, n: number) => tf.transpose(tf.reshape(x, [batch, steps, n, hd]), [0, 2, 1, 3]) as Tensor4D;
  w.layers.forEach((layer, i) => {
    const x = rmsNorm(h, layer.inputNorm, shape.rmsNormEps);
    const q = applyRotary(heads(linear(x, layer.q, layer.qBias), hq), cos, sin);
    const kNew = applyRotary(heads(linear(x, layer.k, layer.kBias), hkv), cos, sin);
    const vNew = heads(linear(x, layer.v, layer.vBias), hkv);
    const k = cache ? tf.concat([cache.keys[i]!, kNew], 2) as Tensor4D : kNew;
    const v = cache ? tf.concat([cache.values[i]!, vNew], 2) as Tensor4D : vNew;
    keys.push(k);
    values.push(v);
    // Grouped-query attention: query head j reads kv head ⌊j / groups⌋.
    const kAll = groups > 1 ? repeatHeads(k, groups) : k;
    const vAll = groups > 1 ? repeatHeads(v, groups) : v;
    const scores = tf.mul(tf.matMul(q, kAll, false, true), 1 / Math.sqrt(hd)); // [B, Hq, T, S]
    if (i === w.layers.length - 1) {
      lastScores = tf.reshape(tf.slice(scores, [0, 0, steps - 1, 0], [-1, -1, 1, -1]), [batch, hq, total]) as Tensor3D;
    }
    const attn = tf.matMul(tf.softmax(tf.add(scores, bias)), vAll); // [B, Hq, T, hd]
    const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [batch * steps, hq * hd]);
    h = tf.add(h, linear(merged, layer.o, layer.oBias));
    const y = rmsNorm(h, layer.postNorm, shape.rmsNormEps);
    const gate = linear(y, layer.gate);
    h = tf.add(h, linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), linear(y, layer.up)), layer.down));
  });
  const last = tf.reshape(tf.slice(tf.reshape(h, [batch, steps, shape.hiddenSize]), [0, steps - 1, 0], [-1, 1, -1]), [batch, shape.hiddenSize]);
  const logits = tf.mul(linear(rmsNorm(last, w.finalNorm, shape.rmsNormEps), w.lmHead), idsOk) as Tensor2D;
  return { logits, attentionScores: lastScores!, cache: new LlamaCache(owner, keys, values) };
}

/**
 * [B, Hkv, S, hd] → [B, Hkv·g, S, hd], each kv head repeated g times in a row. g copies joined by
 * concat, not tf.tile: on wasm tile is ~25× slower for this (measured in benchmarks/README.md).
 */
function repeatHeads(x: Tensor4D, g: number): Tensor4D {
  const [b, h, s, d] = x.shape;
  const one = tf.reshape(x, [b, h, 1, s, d]);
  return tf.reshape(tf.concat(new Array<Tensor>(g).fill(one), 2), [b, h * g, s, d]) as Tensor4D;
}

/** Validates forward's arguments against the model; throws before anything is allocated. */
export function validateForward(
  shape: LlamaShape, owner: object, inputIds: unknown, cache: unknown, attentionMask: unknown,
): void {
  const ids = requireTensor(inputIds, 'inputIds', [2], ['int32']);
  const [batch, steps] = ids.shape as [number, number];
  let past = 0;
  if (cache !== undefined && cache !== null) {
    if (!(cache instanceof LlamaCache) || cache.owner !== owner) {
      throw new EntropixError('INVALID_ARGUMENT', 'cache was not made by this model', 'cache');
    }
    if (cache.keys.some((k) => k.isDisposed)) throw new EntropixError('INVALID_ARGUMENT', 'cache is disposed', 'cache');
    if (cache.batch !== batch) {
      throw new EntropixError('INVALID_SHAPE', `cache holds ${cache.batch} rows, inputIds has ${batch}`, 'cache');
    }
    past = cache.length;
  }
  if (past + steps > shape.maxPositions) {
    throw new EntropixError(
      'INVALID_ARGUMENT', `sequence of ${past + steps} tokens exceeds the model's ${shape.maxPositions} positions`, 'inputIds');
  }
  if (attentionMask !== undefined && attentionMask !== null) {
    const m = requireTensor(attentionMask, 'options.attentionMask', [2], ['float32', 'int32', 'bool']);
    if (m.shape[0] !== batch || m.shape[1] !== past + steps) {
      throw new EntropixError('INVALID_SHAPE',
        `options.attentionMask must be [${batch}, ${past + steps}] (cache length + T), got [${m.shape}]`, 'options.attentionMask');
    }
  }
}
