// GPT-2's tensors in the forward's layout (llama-tensors.ts has the layout and the Llama table).
// Its Conv1D weights are stored [in, out] already, c_attn holds q, k and v side by side with their
// biases, and the MLP is c_fc then c_proj: every tensor is used as the checkpoint holds it, under
// its own name, except the tied head, which is wte transposed to [D, V].
import type { ModelConfig } from './hf-config';
import type { LlamaWeightSpec } from './llama-tensors';

type Shape = Pick<ModelConfig, 'vocabSize' | 'hiddenSize' | 'numLayers' | 'intermediateSize' | 'maxPositions' | 'tieWordEmbeddings'>;

/** The weights of GPT-2's forward for `c`, in order (names as GPT2LMHeadModel saves them). */
export function gpt2WeightSpecs(c: Shape): LlamaWeightSpec[] {
  const { vocabSize: v, hiddenSize: d, intermediateSize: inter } = c;
  const specs: LlamaWeightSpec[] = [];
  const add = (name: string, shape: number[], layer: number | null, key: LlamaWeightSpec['key'], transpose = false) => {
    specs.push({ name, shape, layer, key, parts: [{ source: name, sourceShape: shape }], transpose });
  };
  add('transformer.wte.weight', [v, d], null, 'embed');
  add('transformer.wpe.weight', [c.maxPositions, d], null, 'positionEmbed');
  for (let i = 0; i < c.numLayers; i++) {
    const p = `transformer.h.${i}.`;
    add(`${p}ln_1.weight`, [d], i, 'inputNorm');
    add(`${p}ln_1.bias`, [d], i, 'inputNormBias');
    add(`${p}attn.c_attn.weight`, [d, 3 * d], i, 'qkv');
    add(`${p}attn.c_attn.bias`, [3 * d], i, 'qkvBias');
    add(`${p}attn.c_proj.weight`, [d, d], i, 'o');
    add(`${p}attn.c_proj.bias`, [d], i, 'oBias');
    add(`${p}ln_2.weight`, [d], i, 'postNorm');
    add(`${p}ln_2.bias`, [d], i, 'postNormBias');
    add(`${p}mlp.c_fc.weight`, [d, inter], i, 'gateUp');
    add(`${p}mlp.c_fc.bias`, [inter], i, 'gateUpBias');
    add(`${p}mlp.c_proj.weight`, [inter, d], i, 'down');
    add(`${p}mlp.c_proj.bias`, [d], i, 'downBias');
  }
  add('transformer.ln_f.weight', [d], null, 'finalNorm');
  add('transformer.ln_f.bias', [d], null, 'finalNormBias');
  // lm_head is an nn.Linear, [V, D], like wte when tied.
  const head = c.tieWordEmbeddings ? 'transformer.wte.weight' : 'lm_head.weight';
  specs.push({ name: 'lm_head.weight', shape: [d, v], layer: null, key: 'lmHead', parts: [{ source: head, sourceShape: [v, d] }], transpose: true });
  return specs;
}

/**
 * The specs reading the tensors under the names the checkpoint has: GPT-2 files saved from the base
 * model (openai-community/gpt2, distilgpt2) name them without 'transformer.' ('h.0.ln_1.weight',
 * 'wte.weight'), as transformers' base_model_prefix allows. Other specs are returned as they are.
 */
export function withCheckpointNames(specs: LlamaWeightSpec[], has: (name: string) => boolean): LlamaWeightSpec[] {
  if (has('transformer.wte.weight') || !has('wte.weight')) return specs;
  const rename = (source: string) => source.replace(/^transformer\./, '');
  return specs.map((s) => ({ ...s, parts: s.parts.map((p) => ({ ...p, source: rename(p.source) })) }));
}
