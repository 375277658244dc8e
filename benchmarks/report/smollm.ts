// A random SmolLM2-135M-shaped Llama (HuggingFaceTB/SmolLM2-135M's config.json), written as a BF16
// HF checkpoint and converted once, for the decode and prefill jobs of benchmarks/bench.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertHfCheckpoint } from '../../lib/node';
import { writeSafetensors } from '../../lib/models/safetensors';
import type { SafetensorsInput } from '../../lib/models/safetensors';

export const SMOLLM = {
  numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
  vocabSize: 49152, ropeTheta: 100000, rmsNormEps: 1e-5, maxPositions: 8192,
};
const WEIGHT_STD = 0.02; // as HF initialises Llama linear and embedding weights; norms are 1

/** xorshift32 + Box–Muller: seeded N(0, std²) values. */
function randomNormal(n: number, std: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 1) / 4294967297;
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

/** Writes the checkpoint into hfDir and converts it into convertedDir (loadModel's format). */
export async function writeSmolLmShaped(hfDir: string, convertedDir: string): Promise<void> {
  const { hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter, vocabSize: v } = SMOLLM;
  let seed = 1;
  const tensors: Record<string, SafetensorsInput> = {};
  const add = (name: string, shape: number[], ones = false) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { dtype: 'BF16', shape, data: ones ? new Float32Array(n).fill(1) : randomNormal(n, WEIGHT_STD, seed++) };
  };
  add('model.embed_tokens.weight', [v, d]);
  for (let i = 0; i < SMOLLM.numLayers; i++) {
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
  writeFileSync(join(hfDir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: v, hidden_size: d,
    num_hidden_layers: SMOLLM.numLayers, num_attention_heads: hq, num_key_value_heads: hkv, head_dim: hd,
    intermediate_size: inter, max_position_embeddings: SMOLLM.maxPositions, rope_theta: SMOLLM.ropeTheta,
    rms_norm_eps: SMOLLM.rmsNormEps, hidden_act: 'silu', tie_word_embeddings: true, bos_token_id: 0, eos_token_id: 0,
    torch_dtype: 'bfloat16',
  }));
  await writeSafetensors(join(hfDir, 'model.safetensors'), tensors);
  await convertHfCheckpoint(hfDir, convertedDir);
}
