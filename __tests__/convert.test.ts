import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, EntropixError } from '../lib';
import type { CausalLM, ForwardResult, KVCache } from '../lib/models/causal-lm';
import { convertHfCheckpoint, naturalClarifyingToken } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import { writeSafetensors } from '../lib/models/safetensors';
import { hfTensors, writeCheckpoint } from './helpers/hf-writer';
import { stepInputs, StepInputs } from '../lib/models/llama';
import { expectClose, randomModel, referenceForward, SHAPE } from './helpers/llama-reference';

/** Writes a random checkpoint and returns its arrays (the seed's tensors are freed). */
async function checkpoint(dir: string, seed: number, opts: Parameters<typeof writeCheckpoint>[2] & { bias?: boolean } = {}) {
  const { arrays, weights } = randomModel(SHAPE, seed, opts.bias ?? false);
  tf.dispose(weights as unknown as tf.TensorContainer);
  if (opts.tied) arrays.lmHead = arrays.embed;
  await writeCheckpoint(dir, arrays, opts);
  return arrays;
}

const ids2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');

/** Runs forward and reads logits and scores back, disposing them; the cache stays the caller's. */
async function run(model: CausalLM, ids: number[][], cache: KVCache | null, mask?: number[][]) {
  const input = ids2d(ids);
  const attentionMask = mask ? tf.tensor2d(mask, undefined, 'int32') : undefined;
  const r: ForwardResult = model.forward(input, cache, { attentionMask });
  const logits = Array.from(await r.logits.data());
  const scores = Array.from(await r.attentionScores.data());
  expect(r.logits.shape).toEqual([ids.length, SHAPE.vocabSize]);
  expect(r.attentionScores.shape).toEqual([ids.length, SHAPE.numHeads, cache ? cache.length + ids[0]!.length : ids[0]!.length]);
  tf.dispose([input, r.logits, r.attentionScores, ...(attentionMask ? [attentionMask] : [])]);
  return { logits, scores, cache: r.cache };
}

describe.each(['cpu', 'wasm'] as const)('convertHfCheckpoint + loadModel on %s', (backend) => {
  let root: string;
  beforeAll(async () => {
    await useBackend(backend);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-convert-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const ids = [5, 1, 30, 12, 7];

  test('converted == native: prefill, 3 decode steps, side files; no tensors leak', async () => {
    const src = path.join(root, 'llama-src');
    const out = path.join(root, 'llama-out');
    const arrays = await checkpoint(src, 11);
    fs.writeFileSync(path.join(src, 'tokenizer.json'), '{"model": {}}');
    const progress: number[][] = [];
    const t0 = Date.now();
    await convertHfCheckpoint(src, out, { onProgress: (done, total) => progress.push([done, total]) });
    const convertMs = Date.now() - t0;
    expect(progress.at(-1)![0]).toBe(progress.at(-1)![1]);
    for (const f of ['model.json', 'config.json', 'entropix.json', 'tokenizer.json']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'entropix.json'), 'utf8'))).toEqual({ sampler: {}, eosTokenIds: [2, 3] });
    const modelJson = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(Object.keys(modelJson.signature.inputs)).toEqual(expect.arrayContaining(
      ['input_ids', 'rope', 'attention_bias', 'past_key_0', 'past_value_1']));
    // Format 3: q/k/v and gate/up fused (lib/models/llama-tensors.ts), a tied head stored once, and said so in the metadata.
    expect(modelJson.userDefinedMetadata).toEqual({ entropixGraphFormat: 3 });
    const names = modelJson.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    expect(names).toEqual(expect.arrayContaining(['model.layers.0.self_attn.qkv_proj.weight', 'model.layers.0.mlp.gate_up_proj.weight']));
    expect(names).not.toContain('model.layers.0.self_attn.q_proj.weight');

    const before = tf.memory().numTensors;
    const converted = await loadModel(out);
    const native = await loadHfCheckpoint(src);
    expect(converted.generationDefaults.eosTokenIds).toEqual([2, 3]);
    const t1 = Date.now();
    let c = await run(converted, [ids], null);
    const forwardMs = Date.now() - t1;
    let n = await run(native, [ids], null);
    expectClose(c.logits, n.logits);
    expectClose(c.scores, n.scores);
    const ref = referenceForward(SHAPE, arrays, ids);
    expectClose(c.logits, ref.logits);
    expectClose(c.scores, ref.scores.flat());
    let decodeMs = 0;
    for (const next of [9, 0, 36]) {
      const t2 = Date.now();
      c = await run(converted, [[next]], c.cache);
      decodeMs = Date.now() - t2;
      n = await run(native, [[next]], n.cache);
      expectClose(c.logits, n.logits);
      expectClose(c.scores, n.scores);
    }
    expect(c.cache.length).toBe(ids.length + 3);
    c.cache.dispose();
    n.cache.dispose();
    // Other batch and step sizes on the same graph: nothing in it fixes B or T.
    const rows = [[3, 4], [5, 6], [7, 8]];
    const cb = await run(converted, rows, null);
    const nb = await run(native, rows, null);
    expectClose(cb.logits, nb.logits);
    expectClose(cb.scores, nb.scores);
    cb.cache.dispose();
    nb.cache.dispose();
    converted.dispose();
    native.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // eslint-disable-next-line no-console
    console.log(`[${backend}] tiny model: conversion ${convertMs} ms, first forward (5 tokens) ${forwardMs} ms, last decode step ${decodeMs} ms`);
  });

  test('dtype float16: about half the shard bytes, logits and scores within float16 precision of native', async () => {
    const src = path.join(root, 'f16-src');
    const out32 = path.join(root, 'f16-out32');
    const out16 = path.join(root, 'f16-out16');
    await checkpoint(src, 16);
    await convertHfCheckpoint(src, out32);
    await convertHfCheckpoint(src, out16, { dtype: 'float16', shardBytes: 1000 }); // weights straddle shards
    const shardBytes = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.bin'))
      .reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    const ratio = shardBytes(out16) / shardBytes(out32);
    expect(ratio).toBeGreaterThan(0.45);
    expect(ratio).toBeLessThan(0.55);
    // The checkpoint's tensors are declared float32, quantized as float16; int32 shape/axis
    // constants and float32 scalars (eps, 1/√hd) stay as they are.
    const weights: { name: string; dtype: string; shape: number[]; quantization?: unknown }[] =
      JSON.parse(fs.readFileSync(path.join(out16, 'model.json'), 'utf8')).weightsManifest[0].weights;
    const f16 = { dtype: 'float16', original_dtype: 'float32' };
    for (const w of weights) {
      if (w.name.startsWith('model.') || w.name === 'lm_head.weight') {
        expect(w).toMatchObject({ dtype: 'float32', quantization: f16 });
      } else {
        expect(w.quantization).toBeUndefined();
      }
    }
    expect(weights.some((w) => w.dtype === 'int32')).toBe(true);
    expect(weights.some((w) => w.dtype === 'float32' && w.quantization === undefined)).toBe(true);

    // float16 keeps 11 significant bits (relative rounding ≤ 2^-11 ≈ 4.9e-4 per weight); through two
    // layers that stays well within 2e-2 of max(1, |ref|), element by element.
    const TOL16 = 2e-2;
    const within = (got: number[], ref: number[]) => {
      expect(got.length).toBe(ref.length);
      const worst = Math.max(...ref.map((r, i) => Math.abs(got[i]! - r) / Math.max(1, Math.abs(r))));
      expect(worst).toBeLessThanOrEqual(TOL16);
      return worst;
    };
    const before = tf.memory().numTensors;
    const converted = await loadModel(out16);
    const native = await loadHfCheckpoint(src);
    let c = await run(converted, [ids], null);
    let n = await run(native, [ids], null);
    let worst = Math.max(within(c.logits, n.logits), within(c.scores, n.scores));
    // Not exact: the halves did round (float32 conversion matches native to 1e-4, see above).
    expect(c.logits).not.toEqual(n.logits);
    for (const next of [9, 0]) {
      c = await run(converted, [[next]], c.cache);
      n = await run(native, [[next]], n.cache);
      worst = Math.max(worst, within(c.logits, n.logits), within(c.scores, n.scores));
    }
    c.cache.dispose();
    n.cache.dispose();
    converted.dispose();
    native.dispose();

    // Qwen2 biases (vectors, float16 too) and tied embeddings (one weight read by Gather and MatMul).
    const qsrc = path.join(root, 'f16-qwen-src');
    await checkpoint(qsrc, 17, { modelType: 'qwen2', tied: true, bias: true });
    await convertHfCheckpoint(qsrc, path.join(root, 'f16-qwen-out'), { dtype: 'float16' });
    const qweights: { name: string; quantization?: unknown }[] =
      JSON.parse(fs.readFileSync(path.join(root, 'f16-qwen-out', 'model.json'), 'utf8')).weightsManifest[0].weights;
    expect(qweights.find((w) => w.name === 'model.layers.0.self_attn.qkv_proj.bias')?.quantization).toEqual(f16);
    const qc = await loadModel(path.join(root, 'f16-qwen-out'));
    const qn = await loadHfCheckpoint(qsrc);
    const a = await run(qc, [ids], null);
    const b = await run(qn, [ids], null);
    worst = Math.max(worst, within(a.logits, b.logits), within(a.scores, b.scores));
    a.cache.dispose();
    b.cache.dispose();
    qc.dispose();
    qn.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // eslint-disable-next-line no-console
    console.log(`[${backend}] float16 shards / float32 shards = ${ratio.toFixed(4)} (${shardBytes(out16)} / ${shardBytes(out32)} bytes); `
      + `worst |f16 - native| / max(1, |native|) = ${worst.toExponential(2)}`);
  });

  test('a graph converted before format 2 (unfused weights, rope_cos/rope_sin inputs) still loads and equals native', async () => {
    // __tests__/fixtures/graph-v1: randomModel(SHAPE, 21) converted (float32) by the layout before
    // format 2, committed as it was written.
    const fixture = path.join(__dirname, 'fixtures', 'graph-v1');
    const modelJson = JSON.parse(fs.readFileSync(path.join(fixture, 'model.json'), 'utf8'));
    expect(modelJson.userDefinedMetadata).toBeUndefined();
    expect(Object.keys(modelJson.signature.inputs)).toEqual(expect.arrayContaining(['rope_cos', 'rope_sin']));
    const src = path.join(root, 'v1-src');
    const arrays = await checkpoint(src, 21);
    const before = tf.memory().numTensors;
    const old = await loadModel(fixture);
    const native = await loadHfCheckpoint(src);
    // Row 1 is left-padded by one token.
    const mask = (length: number) => [new Array<number>(length).fill(1), [0, ...new Array<number>(length - 1).fill(1)]];
    let c = await run(old, [ids, ids.slice().reverse()], null, mask(ids.length));
    let n = await run(native, [ids, ids.slice().reverse()], null, mask(ids.length));
    expectClose(c.logits, n.logits);
    expectClose(c.scores, n.scores);
    expectClose(c.logits.slice(0, SHAPE.vocabSize), referenceForward(SHAPE, arrays, ids).logits);
    for (const next of [3, 9]) {
      c = await run(old, [[next], [next]], c.cache, mask(c.cache.length + 1));
      n = await run(native, [[next], [next]], n.cache, mask(n.cache.length + 1));
      expectClose(c.logits, n.logits);
      expectClose(c.scores, n.scores);
    }
    c.cache.dispose();
    n.cache.dispose();
    old.dispose();
    native.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a left-padded batch with attentionMask == native, and decoding on from it', async () => {
    const src = path.join(root, 'pad-src');
    const out = path.join(root, 'pad-out');
    await checkpoint(src, 12);
    await convertHfCheckpoint(src, out);
    const converted = await loadModel(out);
    const native = await loadHfCheckpoint(src);
    const batch = [[0, 0, 5, 1, 30], [4, 8, 15, 16, 23]];
    const mask = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]];
    let c = await run(converted, batch, null, mask);
    let n = await run(native, batch, null, mask);
    expectClose(c.logits, n.logits);
    expectClose(c.scores, n.scores);
    c = await run(converted, [[3], [6]], c.cache, [[...mask[0]!, 1], [...mask[1]!, 1]]);
    n = await run(native, [[3], [6]], n.cache, [[...mask[0]!, 1], [...mask[1]!, 1]]);
    expectClose(c.logits, n.logits);
    expectClose(c.scores, n.scores);
    c.cache.dispose();
    n.cache.dispose();
    converted.dispose();
    native.dispose();
  });

  test('stepInputs: positions count real tokens; the bias hides padding and the future', async () => {
    const before = tf.memory().numTensors;
    const input = ids2d([[1, 2], [3, 4]]);
    const mask = tf.tensor2d([[0, 1, 1, 1], [1, 1, 1, 1]], undefined, 'int32');
    const s = tf.tidy(() => ({ ...stepInputs(SHAPE, 2, input, mask) })) as unknown as StepInputs; // intermediates freed
    const groups = SHAPE.numHeads / SHAPE.numKvHeads;
    expect(s.rope.shape).toEqual([2, 2, SHAPE.headDim, SHAPE.headDim]);
    // The mask, repeated for the query heads that share a kv head: [B, 1, g·T, S].
    expect(s.bias.shape).toEqual([2, 1, groups * 2, 4]);
    expect(Array.from(await s.positions.data())).toEqual([1, 2, 2, 3]);
    const h = -1e9;
    const rows = [[h, 0, 0, h], [h, 0, 0, 0], [0, 0, 0, h], [0, 0, 0, 0]]; // row 0's 2 steps, then row 1's
    const bias = Array.from(await s.bias.data(), (v) => v + 0);
    const expected = [0, 1].flatMap((b) => new Array<number[]>(groups).fill(rows.slice(2 * b, 2 * b + 2).flat()).flat());
    expect(bias).toEqual(expected);
    // Row 0, step 0 is position 1: M[0][0] = cos(1·freq₀).
    expect((await s.rope.data())[0]).toBeCloseTo(Math.cos(1), 6);
    // Every tensor stepInputs returns.
    tf.dispose([input, mask, ...Object.values(s)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('Qwen2 biases and tied embeddings; sharded source == single-file source', async () => {
    const src = path.join(root, 'qwen-src');
    const arrays = await checkpoint(src, 13, { modelType: 'qwen2', tied: true, bias: true });
    await convertHfCheckpoint(src, path.join(root, 'qwen-out'));
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'qwen-out', 'model.json'), 'utf8')).weightsManifest[0].weights;
    // Projections are stored [in, out]; the tied lm_head as the embedding's transpose, [D, V], and
    // only it (format 3: the lookup gathers its columns).
    const shapes = new Map(manifest.map((w: { name: string; shape: number[] }) => [w.name, w.shape]));
    expect(shapes.get('lm_head.weight')).toEqual([SHAPE.hiddenSize, SHAPE.vocabSize]);
    expect(shapes.has('model.embed_tokens.weight')).toBe(false);
    expect(shapes.get('model.layers.0.mlp.down_proj.weight')).toEqual([SHAPE.intermediateSize, SHAPE.hiddenSize]);
    const converted = await loadModel(path.join(root, 'qwen-out'));
    const native = await loadHfCheckpoint(src);
    const c = await run(converted, [ids], null);
    const n = await run(native, [ids], null);
    expectClose(c.logits, n.logits);
    expectClose(c.scores, n.scores);
    c.cache.dispose();
    n.cache.dispose();
    converted.dispose();
    native.dispose();

    // A sharded source, written into small output shards that weights straddle.
    const sharded = path.join(root, 'qwen-sharded');
    await writeCheckpoint(sharded, arrays, { modelType: 'qwen2', tied: true, shards: 3 });
    await convertHfCheckpoint(sharded, path.join(root, 'qwen-sharded-out'), { shardBytes: 1000 });
    const shardPaths = JSON.parse(fs.readFileSync(path.join(root, 'qwen-sharded-out', 'model.json'), 'utf8')).weightsManifest[0].paths;
    expect(shardPaths.length).toBeGreaterThan(10);
    const one = await loadModel(path.join(root, 'qwen-out'));
    const three = await loadModel(path.join(root, 'qwen-sharded-out'));
    const a = await run(one, [ids], null);
    const b = await run(three, [ids], null);
    expect(b.logits).toEqual(a.logits);
    expect(b.scores).toEqual(a.scores);
    a.cache.dispose();
    b.cache.dispose();
    one.dispose();
    three.dispose();
  });

  test('a missing or misshaped tensor fails conversion with the typed error and leaves nothing', async () => {
    const src = path.join(root, 'broken-src');
    const arrays = await checkpoint(src, 14);
    const tensors = hfTensors(arrays, 'F32', false);
    delete tensors['model.layers.1.mlp.up_proj.weight'];
    await writeSafetensors(path.join(src, 'model.safetensors'), tensors);
    const out = path.join(root, 'broken-out');
    await expect(convertHfCheckpoint(src, out)).rejects.toMatchObject(
      { name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'model.layers.1.mlp.up_proj.weight' });
    await expect(loadHfCheckpoint(src)).rejects.toMatchObject({ argument: 'model.layers.1.mlp.up_proj.weight' });
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(false);

    const shaped = hfTensors(arrays, 'F32', false);
    shaped['model.norm.weight'] = { dtype: 'F32', shape: [SHAPE.hiddenSize + 1], data: new Float32Array(SHAPE.hiddenSize + 1) };
    await writeSafetensors(path.join(src, 'model.safetensors'), shaped);
    await expect(convertHfCheckpoint(src, out)).rejects.toMatchObject({ code: 'INVALID_SHAPE', argument: 'model.norm.weight' });
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(false);
    // No staging directory is left next to outDir either.
    expect(fs.readdirSync(root).filter((f) => f.includes('broken-out'))).toEqual([]);

    await writeSafetensors(path.join(src, 'model.safetensors'), hfTensors(arrays, 'F32', false));
    for (const dtype of ['bfloat16', 'float64', 'int8', 'F16', '', 16]) {
      await expect(convertHfCheckpoint(src, out, { dtype: dtype as unknown as 'float16' })).rejects.toMatchObject(
        { name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'options.dtype' });
    }
    expect(fs.existsSync(out)).toBe(false);
    // An outDir that is not empty is refused, kept as it was, and no staging directory stays.
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    await expect(convertHfCheckpoint(src, out)).rejects.toMatchObject({ name: 'EntropixError', argument: 'outDir' });
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    expect(fs.readdirSync(root).filter((f) => f.includes('broken-out'))).toEqual(['broken-out']);
  });

  test('forward frees a handed-over cache layer by layer, as the new one is made (converted and native)', async () => {
    const src = path.join(root, 'release-src');
    const out = path.join(root, 'release-out');
    await checkpoint(src, 16);
    await convertHfCheckpoint(src, out);
    for (const model of [await loadModel(out), await loadHfCheckpoint(src)]) {
      const r = await run(model, [ids], null);
      const { keys } = r.cache as unknown as { keys: tf.Tensor[] };
      // TF.js numbers tensors as it makes them (Engine.nextTensorId): the number next when the
      // old first layer's keys go must come before the new last layer's keys (layer by layer),
      // not after every tensor of the step (all at the end).
      const counter = Object.getPrototypeOf(tf.engine()).constructor as { nextTensorId: number };
      let nextIdAtRelease = -1;
      const dispose = keys[0]!.dispose.bind(keys[0]!);
      keys[0]!.dispose = () => { if (nextIdAtRelease < 0) nextIdAtRelease = counter.nextTensorId; dispose(); };
      const before = tf.memory().numTensors;
      const step = ids2d([[4]]);
      const next = model.forward(step, r.cache);
      const newKeys = (next.cache as unknown as { keys: tf.Tensor[] }).keys;
      expect(nextIdAtRelease).toBeGreaterThan(0);
      expect(nextIdAtRelease).toBeLessThan(newKeys[newKeys.length - 1]!.id);
      expect(keys.every((t) => t.isDisposed)).toBe(true);
      tf.dispose([next.logits, next.attentionScores, step]);
      next.cache.dispose();
      expect(tf.memory().numTensors).toBe(before - 2 * SHAPE.numLayers);
      model.dispose();
    }
  });

  test('loadModel refuses a cache from another model, a disposed cache, and a disposed model', async () => {
    const src = path.join(root, 'cache-src');
    const out = path.join(root, 'cache-out');
    await checkpoint(src, 15);
    await convertHfCheckpoint(src, out);
    const a = await loadModel(out);
    const b = await loadModel(out);
    const native = await loadHfCheckpoint(src);
    const r = await run(a, [ids], null);
    const rn = await run(native, [ids], null);
    const step = ids2d([[4]]);
    expect(() => b.forward(step, r.cache)).toThrow(EntropixError);
    expect(() => a.forward(step, rn.cache)).toThrow(EntropixError);
    expect(() => native.forward(step, r.cache)).toThrow(EntropixError);
    expect(r.cache.length).toBe(ids.length); // refused: still the caller's
    const next = a.forward(step, r.cache);
    expect(() => a.forward(step, r.cache)).toThrow(EntropixError); // handed over and disposed
    tf.dispose([next.logits, next.attentionScores, step]);
    next.cache.dispose();
    rn.cache.dispose();
    a.dispose();
    b.dispose();
    native.dispose();
    const one = ids2d([[1]]);
    expect(() => a.forward(one, null)).toThrow(EntropixError);
    one.dispose();
  });
});

describe('naturalClarifyingToken', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-clarify-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (json: unknown) => fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));

  test('finds a pause piece in BPE and Unigram vocabularies, the most natural first; none without one', async () => {
    write({ model: { type: 'BPE', vocab: { a: 0, '...': 7, 'Ġ...': 9 } } });
    expect(await naturalClarifyingToken(dir)).toBe(9);
    write({ model: { type: 'Unigram', vocab: [['<unk>', 0], ['▁the', -1], ['▁...', -5]] } });
    expect(await naturalClarifyingToken(dir)).toBe(2);
    write({ model: { type: 'BPE', vocab: { a: 0, b: 1 } } });
    expect(await naturalClarifyingToken(dir)).toBeNull();
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{broken');
    expect(await naturalClarifyingToken(dir)).toBeNull();
  });

  test('conversion writes it into entropix.json', async () => {
    const src = path.join(dir, 'src');
    const { arrays, weights } = randomModel(SHAPE, 4);
    tf.dispose(weights as unknown as tf.TensorContainer);
    await writeCheckpoint(src, arrays);
    fs.writeFileSync(path.join(src, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: { x: 0, '…': 5 } } }));
    await convertHfCheckpoint(src, path.join(dir, 'out'));
    const expected = { sampler: { clarifyingTokenId: 5 }, eosTokenIds: [2, 3] };
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'entropix.json'), 'utf8'))).toEqual(expected);
    // The native model of the source and the converted model get the same defaults.
    const native = await loadHfCheckpoint(src);
    const converted = await loadModel(path.join(dir, 'out'));
    expect(native.generationDefaults).toEqual(expected);
    expect(converted.generationDefaults).toEqual(expected);
    native.dispose();
    converted.dispose();
  });

  test('a clarifying token outside the model\'s vocabulary is dropped, with a warning, by the converter and the loader', async () => {
    const src = path.join(dir, 'big-tokenizer');
    const { arrays, weights } = randomModel(SHAPE, 4);
    tf.dispose(weights as unknown as tf.TensorContainer);
    await writeCheckpoint(src, arrays);
    // Llama 3's "Ġ..." id with a 37-token model: generation would crash on it when a row treads.
    fs.writeFileSync(path.join(src, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: { x: 0, 'Ġ...': 2564 } } }));
    const warnings: string[] = [];
    await convertHfCheckpoint(src, path.join(dir, 'big-out'), { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/clarifying token 2564 is outside the model's 37-token vocabulary/);
    const expected = { sampler: {}, eosTokenIds: [2, 3] };
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'big-out', 'entropix.json'), 'utf8'))).toEqual(expected);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const native = await loadHfCheckpoint(src);
      expect(native.generationDefaults).toEqual(expected);
      native.dispose();
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/clarifying token 2564/));
    } finally {
      warn.mockRestore();
    }
  });
});
