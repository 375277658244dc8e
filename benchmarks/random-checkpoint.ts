// A seeded random Llama checkpoint (config.json + model.safetensors) for the benchmarks: the same
// bytes for the same shape and dtype on every run, so a peer's export of it can be reused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../lib/models/safetensors';
import type { SafetensorsFloatDtype, SafetensorsInput } from '../lib/models/safetensors';

export interface Shape {
  numLayers: number; hiddenSize: number; numHeads: number; numKvHeads: number; headDim: number;
  intermediateSize: number; vocabSize: number; tiedEmbeddings: boolean; ropeTheta: number; rmsNormEps: number;
  maxPositions: number;
}

export const WEIGHT_STD = 0.02; // linear and embedding weights ~ N(0, 0.02²); norm weights are 1, as HF initialises them

/** xorshift32 + Box–Muller: a seeded stream of N(0, std²) float32 values. */
export function randomNormal(n: number, std: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 1) / 4294967297; // (0, 1)
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())) * std;
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

export function hfConfigJson(s: Shape, torchDtype: 'float32' | 'bfloat16'): object {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: s.vocabSize, hidden_size: s.hiddenSize,
    num_hidden_layers: s.numLayers, num_attention_heads: s.numHeads, num_key_value_heads: s.numKvHeads,
    head_dim: s.headDim, intermediate_size: s.intermediateSize, max_position_embeddings: s.maxPositions,
    rope_theta: s.ropeTheta, rms_norm_eps: s.rmsNormEps, hidden_act: 'silu', tie_word_embeddings: s.tiedEmbeddings,
    bos_token_id: 0, eos_token_id: 0, torch_dtype: torchDtype,
  };
}

/** Writes config.json + model.safetensors; returns the parameter count. */
export async function writeRandomCheckpoint(dir: string, dtype: SafetensorsFloatDtype, shape: Shape): Promise<number> {
  const { hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter, vocabSize: v } = shape;
  let seed = 1;
  let params = 0;
  const tensors: Record<string, SafetensorsInput> = {};
  const add = (name: string, shape: number[], ones = false) => {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    tensors[name] = { dtype, shape, data: ones ? new Float32Array(n).fill(1) : randomNormal(n, WEIGHT_STD, seed++) };
  };
  add('model.embed_tokens.weight', [v, d]);
  for (let i = 0; i < shape.numLayers; i++) {
    const p = `model.layers.${i}.`;
    add(`${p}input_layernorm.weight`, [d], true);
    add(`${p}self_attn.q_proj.weight`, [hq * hd, d]);
    add(`${p}self_attn.k_proj.weight`, [hkv * hd, d]);
    add(`${p}self_attn.v_proj.weight`, [hkv * hd, d]);
    add(`${p}self_attn.o_proj.weight`, [d, hq * hd]);
    add(`${p}post_attention_layernorm.weight`, [d], true);
    add(`${p}mlp.gate_proj.weight`, [inter, d]);
    add(`${p}mlp.up_proj.weight`, [inter, d]);
    add(`${p}mlp.down_proj.weight`, [d, inter]);
  }
  add('model.norm.weight', [d], true);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfigJson(shape, dtype === 'F32' ? 'float32' : 'bfloat16'), null, 2));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return params;
}
