import { buildLlamaGraph } from '../lib/models/llama-graph';
import { parseHfConfig } from '../lib/models/hf-config';
import * as fs from 'node:fs';
const base = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', rms_norm_eps: 1e-5, bos_token_id: 0, eos_token_id: 0 };
const cfgs: Record<string, object> = {
  bundled: JSON.parse(fs.readFileSync('models/kjv-tiny/config.json', 'utf8')),
  smollm: { ...base, vocab_size: 49152, hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, intermediate_size: 1536, max_position_embeddings: 8192, rope_theta: 100000, tie_word_embeddings: true },
  small12: { ...base, vocab_size: 8192, hidden_size: 384, num_hidden_layers: 12, num_attention_heads: 6, num_key_value_heads: 2, head_dim: 64, intermediate_size: 1024, max_position_embeddings: 2048, rope_theta: 10000, tie_word_embeddings: true },
};
for (const [name, json] of Object.entries(cfgs)) {
  const c = parseHfConfig(json, name);
  const b = buildLlamaGraph(c, (s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
  const nodes = b.modelJson.modelTopology.node;
  const ops = new Map<string, number>();
  for (const n of nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
  console.log(name, 'nodes', nodes.length, 'non-const', nodes.filter((n) => n.op !== 'Const').length, JSON.stringify([...ops]));
}
