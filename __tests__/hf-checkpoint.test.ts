import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, EntropixError } from '../lib';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import { writeSafetensors } from '../lib/models/safetensors';
import { expectClose, randomModel, referenceForward, SHAPE } from './helpers/llama-reference';
import { hfTensors, writeCheckpoint } from './helpers/hf-writer';

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
