import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, EntropixError } from '../lib';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import { SafetensorsInput, writeSafetensors } from '../lib/models/safetensors';
import { expectClose, ModelArrays, randomModel, referenceForward, SHAPE } from './helpers/llama-reference';

type Dtype = SafetensorsInput['dtype'];

/** HF tensors of a model, in one dtype. */
function hfTensors(m: ModelArrays, dtype: Dtype, tied: boolean): Record<string, SafetensorsInput> {
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

function hfConfig(modelType: 'llama' | 'qwen2', tied: boolean): object {
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
async function writeCheckpoint(
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

async function lastLogits(dir: string, ids: number[]): Promise<Float32Array> {
  const model = await loadHfCheckpoint(dir);
  const r = model.forward(tf.tensor2d([ids], undefined, 'int32'));
  const logits = (await r.logits.data()) as Float32Array;
  tf.dispose([r.logits, r.attentionScores]);
  r.cache.dispose();
  model.dispose();
  return logits;
}

describe.each(['cpu', 'wasm'] as const)('loadHfCheckpoint on %s', (backend) => {
  let root: string;
  beforeAll(async () => {
    await useBackend(backend);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-hf-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const ids = [5, 1, 30, 12, 7];

  test('a Llama checkpoint loads to the reference model; dispose frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const { arrays, weights } = randomModel(SHAPE, 3);
    tf.dispose(weights as unknown as tf.TensorContainer);
    const dir = path.join(root, 'llama');
    await writeCheckpoint(dir, arrays);
    const model = await loadHfCheckpoint(dir);
    expect(model.config.numKvHeads).toBe(2);
    expect(model.generationDefaults.eosTokenIds).toEqual([2, 3]);
    const r = model.forward(tf.tensor2d([ids], undefined, 'int32'));
    const ref = referenceForward(SHAPE, arrays, ids);
    expectClose(await r.logits.data(), ref.logits);
    expectClose(await r.attentionScores.data(), ref.scores.flat());
    // A decode step hands the cache over: the old one is disposed, the new one is longer.
    const old = r.cache;
    const next = model.forward(tf.tensor2d([[9]], undefined, 'int32'), old);
    expect(next.cache.length).toBe(ids.length + 1);
    expect(() => model.forward(tf.tensor2d([[9]], undefined, 'int32'), old)).toThrow(EntropixError);
    tf.dispose([r.logits, r.attentionScores, next.logits, next.attentionScores]);
    next.cache.dispose();
    model.dispose();
    tf.disposeVariables();
    // Only the int32 id tensors made inline above remain.
    expect(tf.memory().numTensors - before).toBe(3);
  });

  test('Qwen2 (q/k/v biases) and tied embeddings load to the reference model', async () => {
    const { arrays, weights } = randomModel(SHAPE, 4, true);
    tf.dispose(weights as unknown as tf.TensorContainer);
    arrays.lmHead = arrays.embed;
    const dir = path.join(root, 'qwen2');
    await writeCheckpoint(dir, arrays, { modelType: 'qwen2', tied: true });
    expectClose(await lastLogits(dir, ids), referenceForward(SHAPE, arrays, ids).logits);
  });

  test('sharded == single file; F16 and BF16 load to the same model within their precision', async () => {
    const { arrays, weights } = randomModel(SHAPE, 6);
    tf.dispose(weights as unknown as tf.TensorContainer);
    await writeCheckpoint(path.join(root, 'f32'), arrays);
    await writeCheckpoint(path.join(root, 'sharded'), arrays, { shards: 3 });
    await writeCheckpoint(path.join(root, 'f16'), arrays, { dtype: 'F16' });
    await writeCheckpoint(path.join(root, 'bf16'), arrays, { dtype: 'BF16' });
    const f32 = await lastLogits(path.join(root, 'f32'), ids);
    expect(Array.from(await lastLogits(path.join(root, 'sharded'), ids))).toEqual(Array.from(f32));
    expectClose(await lastLogits(path.join(root, 'f16'), ids), f32, 5e-3);
    expectClose(await lastLogits(path.join(root, 'bf16'), ids), f32, 4e-2);
  });

  test('missing or misshaped tensors are refused, and nothing stays allocated', async () => {
    const { arrays, weights } = randomModel(SHAPE, 7);
    tf.dispose(weights as unknown as tf.TensorContainer);
    const dir = path.join(root, 'broken');
    await writeCheckpoint(dir, arrays);
    const tensors = hfTensors(arrays, 'F32', false);
    const before = tf.memory().numTensors;

    delete tensors['model.layers.1.mlp.up_proj.weight'];
    await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    await expect(loadHfCheckpoint(dir)).rejects.toMatchObject({ name: 'EntropixError', argument: 'model.layers.1.mlp.up_proj.weight' });
    expect(tf.memory().numTensors).toBe(before);

    const shaped = hfTensors(arrays, 'F32', false);
    shaped['model.norm.weight'] = { dtype: 'F32', shape: [SHAPE.hiddenSize + 1], data: new Float32Array(SHAPE.hiddenSize + 1) };
    await writeSafetensors(path.join(dir, 'model.safetensors'), shaped);
    await expect(loadHfCheckpoint(dir)).rejects.toMatchObject({ code: 'INVALID_SHAPE', argument: 'model.norm.weight' });
    expect(tf.memory().numTensors).toBe(before);

    fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "llama", ');
    await expect(loadHfCheckpoint(dir)).rejects.toMatchObject({ name: 'EntropixError' });
    await expect(loadHfCheckpoint(path.join(root, 'nowhere'))).rejects.toMatchObject({ name: 'EntropixError' });
  });
});
