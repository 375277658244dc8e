// Writers for tiny Hugging Face checkpoint directories (config.json + safetensors), shared by the
// model tests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsInput, writeSafetensors } from '../../lib/models/safetensors';
import { ModelArrays, SHAPE } from './llama-reference';

export type Dtype = SafetensorsInput['dtype'];

/** HF tensors of a model, in one dtype. */
export function hfTensors(m: ModelArrays, dtype: Dtype, tied: boolean): Record<string, SafetensorsInput> {
  const t = (x: number[] | number[][]): SafetensorsInput => {
    const rows = Array.isArray(x[0]) ? (x as number[][]) : [x as number[]];
    const shape = Array.isArray(x[0]) ? [rows.length, rows[0]!.length] : [rows[0]!.length];
    return { dtype, shape, data: Float32Array.from(rows.flat()) };
  };
  const out: Record<string, SafetensorsInput> = { 'model.embed_tokens.weight': t(m.embed), 'model.norm.weight': t(m.finalNorm) };
  if (!tied) out['lm_head.weight'] = t(m.lmHead);
  m.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    Object.assign(out, {
      [`${p}input_layernorm.weight`]: t(l.inputNorm), [`${p}post_attention_layernorm.weight`]: t(l.postNorm),
      [`${p}self_attn.q_proj.weight`]: t(l.q), [`${p}self_attn.k_proj.weight`]: t(l.k),
      [`${p}self_attn.v_proj.weight`]: t(l.v), [`${p}self_attn.o_proj.weight`]: t(l.o),
      [`${p}mlp.gate_proj.weight`]: t(l.gate), [`${p}mlp.up_proj.weight`]: t(l.up), [`${p}mlp.down_proj.weight`]: t(l.down),
    });
    if (l.qBias) {
      Object.assign(out, {
        [`${p}self_attn.q_proj.bias`]: t(l.qBias), [`${p}self_attn.k_proj.bias`]: t(l.kBias!), [`${p}self_attn.v_proj.bias`]: t(l.vBias!),
      });
    }
  });
  return out;
}

export function hfConfig(modelType: 'llama' | 'qwen2', tied: boolean): object {
  return {
    architectures: [modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'], model_type: modelType,
    vocab_size: SHAPE.vocabSize, hidden_size: SHAPE.hiddenSize, num_hidden_layers: SHAPE.numLayers,
    num_attention_heads: SHAPE.numHeads, num_key_value_heads: SHAPE.numKvHeads, head_dim: SHAPE.headDim,
    intermediate_size: SHAPE.intermediateSize, max_position_embeddings: SHAPE.maxPositions,
    rope_theta: SHAPE.ropeTheta, rms_norm_eps: SHAPE.rmsNormEps, hidden_act: 'silu', tie_word_embeddings: tied,
    eos_token_id: [2, 3],
  };
}

/** Writes a checkpoint directory; `shards` > 1 splits the tensors over an index. */
export async function writeCheckpoint(
  dir: string, m: ModelArrays, opts: { dtype?: Dtype; tied?: boolean; modelType?: 'llama' | 'qwen2'; shards?: number } = {},
): Promise<void> {
  const { dtype = 'F32', tied = false, modelType = 'llama', shards = 1 } = opts;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfig(modelType, tied)));
  const tensors = hfTensors(m, dtype, tied);
  if (shards === 1) return writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  const names = Object.keys(tensors);
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = `model-0000${s + 1}-of-0000${shards}.safetensors`;
    const mine = names.filter((_, i) => i % shards === s);
    mine.forEach((n) => { weightMap[n] = file; });
    await writeSafetensors(path.join(dir, file), Object.fromEntries(mine.map((n) => [n, tensors[n]!])));
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}
