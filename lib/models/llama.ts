// The decoder on eager tf ops (the native model, and training), and what both models share
// around it: the per-call inputs (rotary matrices, mask), the KV cache and argument checks.
// The maths itself is lib/models/llama-forward.ts.
import type { Tensor, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { requireTensor } from '../core/validate';
import { splitAlong } from '../core/split';
import type { ModelConfig } from './hf-config';
import { decoderForward, LlamaOps } from './llama-forward';
import type { LlamaWeights as Weights } from './llama-tensors';
import { PackedMatrices, PackedMatrix } from '../wasm/packed-matrices';
import { batchedMatMul } from '../wasm/attention';
import { maskedSoftmax, rmsNorm, swiglu } from '../wasm/fused';
import { concatOnHeap, splitOnHeap, transposeOnHeap } from '../wasm/layout';

/** The forward's weights as tensors (llama-tensors.ts has the layout). */
export type LlamaWeights = Weights<Tensor>;

/** A weight matrix of the native model: a tensor, or on wasm a packed matrix. */
export type WeightMatrix = Tensor | PackedMatrix;

/** The shape parameters the maths needs (a subset of ModelConfig). */
export type LlamaShape = Pick<ModelConfig,
  'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize'
  | 'maxPositions' | 'ropeTheta' | 'rmsNormEps' | 'ropeLayers' | 'slidingLayers' | 'gemma' | 'gpt2' | 'ropeLocalTheta'> & {
  /** Llama 3.1's frequency-dependent RoPE scaling (Gemma 3: linear, on its global layers), or null. */
  ropeScaling?: RopeScaling | null;
  /** Mistral's sliding window: each query sees itself and the window − 1 keys before it. */
  slidingWindow?: number | null;
};

/** The shape a model validates against: the config's. */
export function forwardShape(config: ModelConfig): LlamaShape {
  return { ...config };
}

export interface Llama3Scaling {
  type?: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/** Llama 3.1's scaling, or linear scaling (every frequency / factor). */
export type RopeScaling = Llama3Scaling | { type: 'linear'; factor: number };

/**
 * RoPE inverse frequencies theta^(−2i/hd), i < hd/2, with Llama 3.1's scaling when given: long
 * wavelengths are divided by `factor`, short ones kept, and the band between blended smoothly.
 * Linear scaling divides them all.
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling?: RopeScaling | null): Float32Array {
  return Float32Array.from({ length: headDim / 2 }, (_, i) => {
    const freq = 1 / theta ** ((2 * i) / headDim);
    if (!scaling) return freq;
    if (scaling.type === 'linear') return freq / scaling.factor;
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const wavelength = (2 * Math.PI) / freq;
    if (wavelength < originalMaxPositions / highFreqFactor) return freq;
    if (wavelength > originalMaxPositions / lowFreqFactor) return freq / factor;
    const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (freq / factor) + smooth * freq;
  });
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

/**
 * Each position's rotary embedding as one matrix, [B, T, hd, hd], so that for a row vector x,
 * x·M = x·cos + rotate_half(x)·sin, rotate_half([x1, x2]) = [−x2, x1]: M = diag(cos) + R·diag(sin)
 * with R the signed permutation [x1, x2]·R = [−x2, x1]. One batched matmul then rotates q and k
 * of every head (an exact product: one term of each sum is cos, one sin, the rest zeros).
 */
export function rotaryMatrices(cos: Tensor4D, sin: Tensor4D): Tensor4D {
  const [b, , t, hd] = cos.shape;
  const half = hd / 2;
  const eye = new Float32Array(hd * hd);
  const r = new Float32Array(hd * hd);
  for (let j = 0; j < hd; j++) {
    eye[j * hd + j] = 1;
    if (j < half) r[(j + half) * hd + j] = -1; // out[j] = −x[j + hd/2]
    else r[(j - half) * hd + j] = 1; // out[j] = x[j − hd/2]
  }
  const perPosition = (x: Tensor4D) => tf.reshape(x, [b, t, 1, hd]);
  return tf.add(tf.mul(perPosition(cos), tf.tensor2d(eye, [hd, hd])), tf.mul(perPosition(sin), tf.tensor2d(r, [hd, hd]))) as Tensor4D;
}

type StepShape = Pick<LlamaShape, 'headDim' | 'ropeTheta' | 'ropeScaling' | 'vocabSize' | 'numHeads' | 'numKvHeads' | 'slidingWindow'
  | 'slidingLayers' | 'ropeLocalTheta'>;

/** What every input layout shares: checked ids, positions and the [B, 1, T, S] mask. */
function stepCommon(shape: StepShape, past: number, inputIds: Tensor2D, attentionMask: Tensor2D | null) {
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
  // A key is visible when it is real and not in the future.
  const queryAt = tf.reshape(tf.range(past, total, 1, 'float32'), [1, 1, steps, 1]);
  const keyAt = tf.reshape(tf.range(0, total, 1, 'float32'), [1, 1, 1, total]);
  const causal = tf.step(tf.add(tf.sub(queryAt, keyAt), 0.5)); // key ≤ query
  // A sliding window (transformers: key > query − window, in cache slots) bands the causal mask;
  // the cache keeps every key.
  const window = shape.slidingWindow;
  const banded = window != null && total > window ? tf.mul(causal, tf.step(tf.sub(tf.sub(keyAt, queryAt), 0.5 - window))) : causal;
  const real = tf.reshape(mask, [batch, 1, 1, total]);
  const biasOf = (shown: Tensor) => tf.mul(tf.sub(1, tf.mul(shown, real)), -1e9) as Tensor4D;
  // With slidingLayers only those layers read the banded mask; without, every layer does.
  const bias = biasOf(shape.slidingLayers ? causal : banded);
  const slidingBias = shape.slidingLayers ? biasOf(banded) : null;
  return { ids, idsOk, positions, bias, slidingBias };
}

export interface StepInputs {
  /** inputIds clamped into [0, V): an out-of-range id reads a real row instead of garbage. */
  ids: Tensor2D;
  /** [B, 1]: 1 where every id of the row is in [0, V), NaN where one is not. */
  idsOk: Tensor2D;
  positions: Tensor2D; // [B, T] float32: the position of each new token
  rope: Tensor4D; // [B, T, hd, hd]: rotaryMatrices
  bias: Tensor4D; // [B, 1, g·T, S] additive attention mask (0 visible, −1e9 hidden), g = Hq / Hkv copies
  /** The same within the sliding window, when only some layers slide (Gemma 2 and 3). */
  slidingBias?: Tensor4D;
  /** Gemma 3: the rotary of the sliding layers (rope_local_base_freq), [B, T, hd, hd]. */
  ropeSliding?: Tensor4D;
}

/**
 * The per-call inputs whose shapes depend on B, T and the cache length, computed outside the
 * model so the native forward and the converted graph share one definition: rotary matrices for
 * the new tokens and the additive causal + padding mask. `past` is the cache length; the mask is
 * [B, past + T] (1 = real token) or null for all real. Positions count real tokens only
 * (HF: cumsum(mask) − 1; padding at 0, as transformers' generate fills it), so a left-padded row
 * computes what it computes alone.
 * Call inside a tidy except for the returned tensors.
 */
export function stepInputs(shape: StepShape, past: number, inputIds: Tensor2D, attentionMask: Tensor2D | null): StepInputs {
  const common = stepInputsWithoutRope(shape, past, inputIds, attentionMask);
  const { cos, sin } = rotaryAngles(common.positions, shape.headDim, shape.ropeTheta, shape.ropeScaling);
  // Gemma 3's sliding layers rotate with their own base, unscaled.
  const local = shape.ropeLocalTheta !== undefined ? rotaryAngles(common.positions, shape.headDim, shape.ropeLocalTheta) : null;
  return { ...common, rope: rotaryMatrices(cos, sin), ...(local ? { ropeSliding: rotaryMatrices(local.cos, local.sin) } : {}) };
}

/** stepInputs without the rotary matrices (GPT-2's learned positions read `positions`). */
export function stepInputsWithoutRope(shape: StepShape, past: number, inputIds: Tensor2D, attentionMask: Tensor2D | null)
  : Omit<StepInputs, 'rope' | 'ropeSliding'> {
  const { ids, idsOk, positions, bias, slidingBias } = stepCommon(shape, past, inputIds, attentionMask);
  const groups = shape.numHeads / shape.numKvHeads;
  const repeat = (b: Tensor4D) => (groups > 1 ? tf.concat(new Array<Tensor4D>(groups).fill(b), 2) : b) as Tensor4D;
  return { ids, idsOk, positions, bias: repeat(bias), ...(slidingBias ? { slidingBias: repeat(slidingBias) } : {}) };
}

/** The inputs of a graph converted before format 2: cos, sin [B, 1, T, hd] and the mask [B, 1, T, S]. */
export function stepInputsV1(shape: StepShape, past: number, inputIds: Tensor2D, attentionMask: Tensor2D | null) {
  const common = stepCommon(shape, past, inputIds, attentionMask);
  return { ...common, ...rotaryAngles(common.positions, shape.headDim, shape.ropeTheta, shape.ropeScaling) };
}

/** The decoder's ops as eager tf ops. */
export const tfOps: LlamaOps<Tensor> = {
  matMul: (a, b) => tf.matMul(a as Tensor2D, b as Tensor2D),
  batchMatMul: (a, b, transposeB = false) => tf.matMul(a, b, false, transposeB),
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  square: (x) => tf.square(x),
  rsqrt: (x) => tf.rsqrt(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x),
  meanLast: (x) => tf.mean(x, -1, true),
  scalar: (v) => tf.scalar(v),
  reshape: (x, shape) => tf.reshape(x, shape as number[]),
  transpose: (x, perm) => tf.transpose(x, perm as number[]),
  concat: (xs, axis) => tf.concat(xs as Tensor[], axis),
  split: (x, sizes, axis) => splitAlong(x, sizes, axis),
  embed: (table, ids) => tf.gather(table, ids),
  embedColumns: (table, ids) => tf.transpose(tf.gather(table, tf.reshape(ids, [-1]), 1)),
  takeLast: (x, axis) => {
    const begin = x.shape.map((n, i) => (i === axis ? n - 1 : 0));
    const size = x.shape.map((_, i) => (i === axis ? 1 : -1));
    return tf.squeeze(tf.slice(x, begin, size), [axis]);
  },
};

/**
 * The eager ops for inference: tfOps, each layer in a tidy, batched products through
 * batchedMatMul (on wasm, attention.wat), RMSNorm, SwiGLU and the masked softmax as one op each
 * (on wasm, lib/wasm/fused.ts), splits, concats and head transposes as block copies (lib/wasm/layout.ts). Training's gradients keep tfOps.
 */
export const inferenceOps: LlamaOps<Tensor> = {
  ...tfOps, batchMatMul: batchedMatMul, scope: (layer) => tf.tidy(layer), rmsNorm, swiglu, maskedSoftmax,
  split: (x, sizes, axis) => splitOnHeap(x, sizes, axis),
  concat: (xs, axis) => concatOnHeap(xs, axis),
  transpose: (x, perm) => transposeOnHeap(x, perm),
  release: (x) => x.dispose(), // forward owns the cache it is handed (CausalLM)
};

/** The inference ops with the weight matrices in `packed` (the wasm backend): their products run there. */
export function packedOps(packed: PackedMatrices): LlamaOps<Tensor, number, WeightMatrix> {
  return {
    ...inferenceOps,
    matMul: (a, b) => (b instanceof PackedMatrix ? packed.matMul(a, b) : tfOps.matMul(a, b)),
    embedColumns: (table, ids) => (table instanceof PackedMatrix ? packed.columns(table, ids) : tfOps.embedColumns!(table, ids)),
  };
}

/**
 * One forward pass on eager ops (`ops`: inferenceOps unless the matrices are packed, packedOps).
 * inputIds int32 [B, T]; cache from an earlier call (or null); attentionMask [B, S] with S =
 * cache length + T, 1 for a real token (left padding: 0s first). The caller has validated the
 * arguments; call inside a tidy except for the returned tensors.
 */
export function llamaForward<M = Tensor>(
  shape: LlamaShape, w: Weights<Tensor, M>, owner: object,
  inputIds: Tensor2D, cache: LlamaCache | null, attentionMask: Tensor2D | null,
  ops: LlamaOps<Tensor, number, M> = inferenceOps as unknown as LlamaOps<Tensor, number, M>,
): LlamaOutput {
  const [batch, steps] = inputIds.shape;
  const past = cache?.length ?? 0;
  // GPT-2 reads its positions' rows of wpe; the others rotate q and k.
  const s = shape.gpt2 ? stepInputsWithoutRope(shape, past, inputIds, attentionMask) : stepInputs(shape, past, inputIds, attentionMask);
  const { ids, idsOk, bias, slidingBias } = s;
  const ropeSliding = shape.gpt2 ? undefined : (s as StepInputs).ropeSliding;
  const positional = shape.gpt2 ? { positions: tf.cast(s.positions, 'int32') } : { rope: (s as StepInputs).rope };
  const out = decoderForward(ops, shape, w, {
    ids, ...positional, bias, ...(slidingBias ? { slidingBias } : {}), ...(ropeSliding ? { ropeSliding } : {}), past: cache, batch, steps, total: past + steps,
  });
  return {
    logits: tf.mul(out.logits, idsOk) as Tensor2D,
    attentionScores: out.attentionScores as Tensor3D,
    cache: new LlamaCache(owner, out.keys as Tensor4D[], out.values as Tensor4D[]),
  };
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
