// The one table of a Llama-family model's tensors: the Hugging Face checkpoint's names and shapes,
// and the weights the forward runs on, which fuse some of them. Both models (native and converted)
// and training hold the same weights:
//   - projections (and lm_head) transposed, [in, out]: on wasm x·W runs 5–10× faster than x·Wᵀ
//     (measured in benchmarks/README.md), so loaders transpose once instead of every step;
//   - q, k and v side by side as one [D, (Hq + 2·Hkv)·hd] matrix (`self_attn.qkv_proj`), and
//     gate and up as one [D, 2·I] matrix (`mlp.gate_up_proj`): one MatMul where there were three
//     and two (fewer kernels, fewer graph nodes);
//   - a tied lm_head as the [D, V] transpose of the embedding, and (models, graph format 3) no
//     embedding besides: the lookup gathers the head's columns (withoutTiedEmbedding).
//   - Qwen3's q_norm and k_norm as one [Hq + Hkv, hd] weight (`self_attn.qk_norm.weight`, a row per
//     head), so one norm covers the stacked q and k heads;
//   - Gemma 2's and 3's norms (Gemma 3's q/k norms too) stored as 1 + w (the factor they scale by);
//   - Phi-3's checkpoints hold qkv_proj and gate_up_proj fused already, in this order: one part each;
//   - Gemma3ForConditionalGeneration's text decoder is read from under "language_model.".
// Other weights keep their Hugging Face names and shapes. GPT-2's table is gpt2-tensors.ts.
import type { ModelConfig } from './hf-config';
import { gpt2WeightSpecs } from './gpt2-tensors';

/** A checkpoint tensor: its Hugging Face name and the shape the config implies. */
export interface LlamaTensorSpec {
  name: string;
  shape: number[];
}

/** Where a model weight's columns come from: a checkpoint tensor, transposed to [in, out] when a matrix. */
export interface WeightPart {
  source: string;
  /** The checkpoint tensor's shape (HF layout). */
  sourceShape: number[];
}

export type LayerWeightKey = 'inputNorm' | 'qkv' | 'qkvBias' | 'qkNorm' | 'o' | 'oBias' | 'attnOutNorm' | 'postNorm' | 'gateUp' | 'down'
  | 'mlpOutNorm' | 'inputNormBias' | 'postNormBias' | 'gateUpBias' | 'downBias';
export type ModelWeightKey = 'embed' | 'finalNorm' | 'lmHead' | 'positionEmbed' | 'finalNormBias';

/**
 * A weight the forward runs on: its name (in model.json), shape, place in LlamaWeights, and its
 * parts. A matrix is its parts transposed and joined column-wise; a vector its parts joined; the
 * embedding is its one part as is.
 */
export interface LlamaWeightSpec {
  name: string;
  shape: number[];
  layer: number | null;
  key: LayerWeightKey | ModelWeightKey;
  parts: WeightPart[];
  /** true: each part is [out, in] and is stored transposed. */
  transpose: boolean;
  /** Added to every value (Gemma's norms scale by 1 + w: stored as 1 + w). */
  offset?: number;
}

/** `M` is the type of a weight matrix (the ops' matMul operand), T of the other weights. */
export interface LlamaLayerWeights<T, M = T> {
  inputNorm: T; // [D]
  qkv: M; // [D, (Hq + 2·Hkv)·hd]
  qkvBias?: T; // [(Hq + 2·Hkv)·hd] (Qwen2)
  qkNorm?: T; // [Hq + Hkv, hd]: q_norm per query head, then k_norm per kv head (Qwen3)
  o: M; // [Hq·hd, D]
  oBias?: T; // [D] (llama's attention_bias)
  /** Gemma 2: post_attention_layernorm on the attention's output (postNorm is then pre_feedforward_layernorm). */
  attnOutNorm?: T; // [D]
  postNorm: T; // [D]
  gateUp: M; // [D, 2·I]; GPT-2: c_fc, [D, I] (no gate)
  down: M; // [I, D]
  mlpOutNorm?: T; // [D] Gemma 2's post_feedforward_layernorm
  /** GPT-2: the LayerNorms' biases, c_fc's and the MLP's c_proj's. */
  inputNormBias?: T; // [D]
  postNormBias?: T; // [D]
  gateUpBias?: T; // [I]
  downBias?: T; // [D]
}

export interface LlamaWeights<T, M = T> {
  /** [V, D]; absent when the head is tied and the lookup gathers lmHead's columns (one copy, not two). */
  embed?: T;
  layers: LlamaLayerWeights<T, M>[];
  finalNorm: T; // [D]
  lmHead: M; // [D, V]
  /** GPT-2: the learned position embeddings (wpe), [n_positions, D], and ln_f's bias. */
  positionEmbed?: T;
  finalNormBias?: T; // [D]
}

type Shape = Pick<ModelConfig, 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'
  | 'intermediateSize' | 'tieWordEmbeddings' | 'attentionBias' | 'attentionOutputBias' | 'qkNorm' | 'gemma' | 'fusedProjections' | 'weightPrefix'>
  & Partial<Pick<ModelConfig, 'gpt2' | 'maxPositions'>>;

/** The weights of the forward for `c`, in order. */
export function llamaWeightSpecs(c: Shape): LlamaWeightSpec[] {
  if (c.gpt2) {
    if (c.maxPositions === undefined) throw new Error('llamaWeightSpecs: GPT-2 needs maxPositions (the rows of wpe)');
    return gpt2WeightSpecs({ ...c, maxPositions: c.maxPositions });
  }
  const { vocabSize: v, hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter } = c;
  const qkvOut = (hq + 2 * hkv) * hd;
  const specs: LlamaWeightSpec[] = [];
  const add = (name: string, shape: number[], layer: number | null, key: LlamaWeightSpec['key'],
    parts: [string, number[]][], transpose = false) => {
    const prefix = c.weightPrefix ?? ''; // the checkpoint's names; model.json keeps the unprefixed ones
    specs.push({ name, shape, layer, key, parts: parts.map(([source, sourceShape]) => ({ source: prefix + source, sourceShape })), transpose });
  };
  const gemma = c.gemma !== undefined;
  const norm = (name: string, layer: number | null, key: LlamaWeightSpec['key']) => {
    add(name, [d], layer, key, [[name, [d]]]);
    if (gemma) specs[specs.length - 1]!.offset = 1;
  };
  add('model.embed_tokens.weight', [v, d], null, 'embed', [['model.embed_tokens.weight', [v, d]]]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const a = `${p}self_attn.`;
    norm(`${p}input_layernorm.weight`, i, 'inputNorm');
    add(`${a}qkv_proj.weight`, [d, qkvOut], i, 'qkv', c.fusedProjections
      ? [[`${a}qkv_proj.weight`, [qkvOut, d]]]
      : [[`${a}q_proj.weight`, [hq * hd, d]], [`${a}k_proj.weight`, [hkv * hd, d]], [`${a}v_proj.weight`, [hkv * hd, d]]], true);
    if (c.attentionBias) {
      add(`${a}qkv_proj.bias`, [qkvOut], i, 'qkvBias',
        [[`${a}q_proj.bias`, [hq * hd]], [`${a}k_proj.bias`, [hkv * hd]], [`${a}v_proj.bias`, [hkv * hd]]]);
    }
    if (c.qkNorm) {
      // One weight for the stacked q and k heads of the forward (each head row its norm's copy).
      add(`${a}qk_norm.weight`, [hq + hkv, hd], i, 'qkNorm', [
        ...new Array<[string, number[]]>(hq).fill([`${a}q_norm.weight`, [hd]]),
        ...new Array<[string, number[]]>(hkv).fill([`${a}k_norm.weight`, [hd]]),
      ]);
      if (gemma) specs[specs.length - 1]!.offset = 1;
    }
    add(`${a}o_proj.weight`, [hq * hd, d], i, 'o', [[`${a}o_proj.weight`, [d, hq * hd]]], true);
    if (c.attentionOutputBias) add(`${a}o_proj.bias`, [d], i, 'oBias', [[`${a}o_proj.bias`, [d]]]);
    if (gemma) {
      norm(`${p}post_attention_layernorm.weight`, i, 'attnOutNorm');
      norm(`${p}pre_feedforward_layernorm.weight`, i, 'postNorm');
    } else {
      norm(`${p}post_attention_layernorm.weight`, i, 'postNorm');
    }
    add(`${p}mlp.gate_up_proj.weight`, [d, 2 * inter], i, 'gateUp', c.fusedProjections
      ? [[`${p}mlp.gate_up_proj.weight`, [2 * inter, d]]]
      : [[`${p}mlp.gate_proj.weight`, [inter, d]], [`${p}mlp.up_proj.weight`, [inter, d]]], true);
    add(`${p}mlp.down_proj.weight`, [inter, d], i, 'down', [[`${p}mlp.down_proj.weight`, [d, inter]]], true);
    if (gemma) norm(`${p}post_feedforward_layernorm.weight`, i, 'mlpOutNorm');
  }
  norm('model.norm.weight', null, 'finalNorm');
  const head = c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  add('lm_head.weight', [d, v], null, 'lmHead', [[head, [v, d]]], true);
  return specs;
}

/**
 * The specs without the embedding when the head is tied: the lookup then gathers columns of the
 * [D, V] head, and the model holds the vocabulary once (113 MB less for SmolLM2-135M).
 */
export function withoutTiedEmbedding(specs: LlamaWeightSpec[], tied: boolean): LlamaWeightSpec[] {
  return tied ? specs.filter((s) => s.key !== 'embed') : specs;
}

/** Every tensor a Llama-family checkpoint must hold for `c`, in reading order. */
export function llamaTensorSpecs(c: Shape): LlamaTensorSpec[] {
  return sourceTensors(llamaWeightSpecs(c));
}

/** The checkpoint tensors `specs` read, each once, in reading order. */
export function sourceTensors(specs: readonly LlamaWeightSpec[]): LlamaTensorSpec[] {
  const seen = new Map<string, number[]>();
  for (const spec of specs) {
    for (const part of spec.parts) if (!seen.has(part.source)) seen.set(part.source, part.sourceShape);
  }
  return [...seen].map(([name, shape]) => ({ name, shape }));
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const TILE = 64;

/** A weight's values in the forward's layout, from its parts' checkpoint values (row-major). */
export function fuseWeight(spec: LlamaWeightSpec, part: (p: WeightPart) => Float32Array): Float32Array {
  if (spec.offset !== undefined) {
    const offset = spec.offset;
    return fuseWeight({ ...spec, offset: undefined }, part).map((x) => x + offset);
  }
  if (spec.parts.length === 1 && !spec.transpose) return part(spec.parts[0]!);
  const out = new Float32Array(size(spec.shape));
  if (!spec.transpose) { // vectors, joined
    let at = 0;
    for (const p of spec.parts) {
      out.set(part(p), at);
      at += size(p.sourceShape);
    }
    return out;
  }
  // Each part [out_p, in] goes transposed into columns [col, col + out_p) of [in, Σ out_p].
  const cols = spec.shape[1]!;
  let col = 0;
  for (const p of spec.parts) {
    const x = part(p);
    const [rows, inner] = p.sourceShape as [number, number];
    // In 64×64 tiles: a plain double loop strides through memory on every write (~10× slower on big matrices).
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(rows, r0 + TILE);
      for (let c0 = 0; c0 < inner; c0 += TILE) {
        const c1 = Math.min(inner, c0 + TILE);
        for (let r = r0; r < r1; r++) {
          const base = r * inner;
          for (let c = c0; c < c1; c++) out[c * cols + col + r] = x[base + c]!;
        }
      }
    }
    col += rows;
  }
  return out;
}

/** The inverse of fuseWeight: each part's checkpoint values (row-major, HF layout). */
export function unfuseWeight(spec: LlamaWeightSpec, data: Float32Array): Map<string, Float32Array> {
  if (spec.offset !== undefined) {
    const offset = spec.offset;
    return unfuseWeight({ ...spec, offset: undefined }, data.map((x) => x - offset));
  }
  const out = new Map<string, Float32Array>();
  if (!spec.transpose) {
    let at = 0;
    for (const p of spec.parts) {
      out.set(p.source, data.slice(at, at + size(p.sourceShape)));
      at += size(p.sourceShape);
    }
    return out;
  }
  const cols = spec.shape[1]!;
  let col = 0;
  for (const p of spec.parts) {
    const [rows, inner] = p.sourceShape as [number, number];
    const x = new Float32Array(rows * inner);
    for (let r = 0; r < rows; r++) for (let c = 0; c < inner; c++) x[r * inner + c] = data[c * cols + col + r]!;
    out.set(p.source, x);
    col += rows;
  }
  return out;
}

/** LlamaWeights from one value per spec (an M where spec.transpose: the matrices). */
export function assembleWeights<T, M = T>(specs: readonly LlamaWeightSpec[], numLayers: number,
  value: (spec: LlamaWeightSpec) => T | M): LlamaWeights<T, M> {
  const top: Partial<Record<ModelWeightKey, T | M>> = {};
  const layers = Array.from({ length: numLayers }, () => ({}) as Partial<LlamaLayerWeights<T, M>>);
  for (const spec of specs) {
    if (spec.layer === null) top[spec.key as ModelWeightKey] = value(spec);
    else (layers[spec.layer] as Record<string, T | M>)[spec.key] = value(spec);
  }
  return {
    embed: top.embed as T | undefined, finalNorm: top.finalNorm as T, lmHead: top.lmHead as M,
    layers: layers as LlamaLayerWeights<T, M>[],
    ...(top.positionEmbed ? { positionEmbed: top.positionEmbed as T } : {}), ...(top.finalNormBias ? { finalNormBias: top.finalNormBias as T } : {}),
  };
}

/**
 * The format version written into model.json's metadata for this layout (absent: version 1).
 * 2: q/k/v and gate/up fused, one rope input; 3: a tied head stored once (no embedding weight).
 */
export const GRAPH_FORMAT_VERSION = 3;
