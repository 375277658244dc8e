// Trains the bundled byte-level Llama on the King James Bible with TF.js (wasm, one thread),
// resumably, and exports a Hugging Face-style checkpoint that our converter turns into models/.
//
//   npm run train -- --corpus kjv.txt --run .train/kjv [--steps 1800] [--export dir] [--profile]
//
// Every --save-every steps the weights, the Adam moments and the step go to the run folder; start
// the same command again to continue. The forward is the models' own (lib/models/llama-forward.ts)
// on eager tf ops, at every position, with matmuls whose gradients are plain products (fast on
// wasm) and the embedding as a one-hot matmul (its gradient needs no scatter kernel).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { tf } from '../../lib/core/tf';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops'; // x.reshape(...) in this script
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/core/backend';
import { LlamaShape, stepInputs, tfOps } from '../../lib/models/llama';
import { decoderForward, LlamaOps } from '../../lib/models/llama-forward';
import { assembleWeights, LlamaWeightSpec, llamaWeightSpecs, unfuseWeight } from '../../lib/models/llama-tensors';
import { SafetensorsCheckpoint, writeSafetensors } from '../../lib/models/safetensors';
import { byteTokenizerConfig, byteTokenizerJson } from '../../lib/text/byte-tokenizer';
import { END_OF_TEXT, VOCAB_SIZE, loadCorpus } from './corpus';

interface Hyper {
  hidden: number; layers: number; heads: number; kvHeads: number; headDim: number; intermediate: number;
  context: number; batch: number; steps: number; lr: number; warmup: number; seed: number;
}

function args(): { corpus: string; run: string; exportDir?: string; saveEvery: number; hyper: Hyper } {
  const a = process.argv.slice(2);
  const get = (name: string, def?: string): string | undefined => {
    const i = a.indexOf(`--${name}`);
    return i >= 0 ? a[i + 1] : def;
  };
  const num = (name: string, def: number): number => Number(get(name, String(def)));
  const corpus = get('corpus');
  const run = get('run');
  if (!corpus || !run) throw new Error('usage: train.ts --corpus <bible output> --run <folder> [--steps N] [--export dir]');
  return {
    corpus, run, exportDir: get('export'), saveEvery: num('save-every', 50),
    hyper: {
      hidden: num('hidden', 256), layers: num('layers', 4), heads: num('heads', 4), kvHeads: num('kv-heads', 4), headDim: num('head-dim', 32),
      intermediate: num('intermediate', 768), context: num('context', 128), batch: num('batch', 32),
      steps: num('steps', 1800), lr: num('lr', 3e-3), warmup: num('warmup', 100), seed: num('seed', 1),
    },
  };
}

/** The model's shape, as the forward reads it. */
function modelShape(h: Hyper): LlamaShape & { tieWordEmbeddings: false; attentionBias: false; attentionOutputBias: false } {
  return {
    vocabSize: VOCAB_SIZE, hiddenSize: h.hidden, numLayers: h.layers, numHeads: h.heads, numKvHeads: h.kvHeads,
    headDim: h.headDim, intermediateSize: h.intermediate, maxPositions: h.context, ropeTheta: 10000, rmsNormEps: 1e-5,
    ropeScaling: null, tieWordEmbeddings: false, attentionBias: false, attentionOutputBias: false,
  };
}

/** The trained weights: the models' own layout (lib/models/llama-tensors.ts), one variable each. */
function weightSpecs(h: Hyper): LlamaWeightSpec[] {
  return llamaWeightSpecs(modelShape(h));
}

/** GPT-2 style init: N(0, 0.02), residual output projections scaled by 1/√(2·layers), norms 1. */
function initialValue(spec: LlamaWeightSpec, h: Hyper): Tensor {
  if (spec.key === 'inputNorm' || spec.key === 'postNorm' || spec.key === 'finalNorm') return tf.ones(spec.shape);
  const residual = spec.key === 'o' || spec.key === 'down';
  return tf.randomNormal(spec.shape, 0, residual ? 0.02 / Math.sqrt(2 * h.layers) : 0.02, 'float32', h.seed);
}

function hfConfig(h: Hyper): object {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: VOCAB_SIZE, hidden_size: h.hidden,
    num_hidden_layers: h.layers, num_attention_heads: h.heads, num_key_value_heads: h.kvHeads,
    head_dim: h.headDim, intermediate_size: h.intermediate, max_position_embeddings: h.context,
    rope_theta: 10000, rms_norm_eps: 1e-5, hidden_act: 'silu', tie_word_embeddings: false,
    bos_token_id: END_OF_TEXT, eos_token_id: END_OF_TEXT, torch_dtype: 'float32',
  };
}

/**
 * x·W with W stored [in, out]. On wasm a plain matmul runs ~40 GFLOP/s and one with a transposed
 * operand ~3 (measured), so the gradients transpose explicitly and multiply plainly.
 */
const matMulPlain = tf.customGrad(((x: Tensor, w: Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x as Tensor2D, w as Tensor2D),
    gradFunc: (dy: Tensor, saved: Tensor[]) => [
      tf.matMul(dy as Tensor2D, tf.transpose(saved[1]!) as Tensor2D),
      tf.matMul(tf.transpose(saved[0]!) as Tensor2D, dy as Tensor2D),
    ],
  };
}) as never) as (x: Tensor, w: Tensor) => Tensor;

const swapLast = (x: Tensor) => tf.transpose(x, [0, 1, 3, 2]);

/** Batched a·b ([B, H, m, k]·[B, H, k, n]); gradients as plain products of explicit transposes. */
const batchMatMulPlain = tf.customGrad(((a: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.matMul(dy, swapLast(saved[1]!)), tf.matMul(swapLast(saved[0]!), dy)],
  };
}) as never) as (a: Tensor, b: Tensor) => Tensor;

/** The decoder's ops for training: eager tf ops with plain-product gradients. */
const trainOps: LlamaOps<Tensor> = {
  ...tfOps,
  matMul: matMulPlain,
  batchMatMul: (a, b, transposeB = false) => batchMatMulPlain(a, transposeB ? swapLast(b) : b),
  // One-hot matmul instead of gather: its gradient is a matmul too (no scatter kernel needed).
  embed: (table, ids) => matMulPlain(tf.cast(tf.oneHot(ids.reshape([-1]), VOCAB_SIZE), 'float32'), table)
    .reshape([...ids.shape, table.shape[1]!]),
};

/** Logits [B·T, V] at every position (causal), from ids [B, T]. */
function forwardAll(w: Record<string, Variable>, h: Hyper, ids: Tensor2D): Tensor {
  const [b, t] = ids.shape;
  const shape = modelShape(h);
  const { rope, bias } = stepInputs(shape, 0, ids, null);
  const weights = assembleWeights(weightSpecs(h), h.layers, (spec) => w[spec.name]! as Tensor);
  return decoderForward(trainOps, shape, weights, { ids, rope, bias, past: null, batch: b, steps: t, total: t },
    { allPositions: true }).logits;
}

/** Mean negative log-likelihood in nats of tokens [B, T+1] (predicting 1..T from 0..T−1). */
function loss(w: Record<string, Variable>, h: Hyper, batch: Tensor2D): tf.Scalar {
  const [b, t1] = batch.shape;
  const inputs = tf.slice(batch, [0, 0], [b, t1 - 1]) as Tensor2D;
  const targets = tf.slice(batch, [0, 1], [b, t1 - 1]).reshape([-1]);
  const logp = tf.logSoftmax(forwardAll(w, h, inputs).reshape([-1, VOCAB_SIZE]));
  return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(targets, VOCAB_SIZE)), 1))) as tf.Scalar;
}

/** mulberry32: the data order is a pure function of (seed, step), so a resumed run sees the same batches. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function trainBatch(tokens: Uint16Array, h: Hyper, step: number): Tensor2D {
  const next = rng(h.seed * 1_000_003 + step);
  const data = new Int32Array(h.batch * (h.context + 1));
  for (let r = 0; r < h.batch; r++) {
    const start = Math.floor(next() * (tokens.length - h.context - 1));
    data.set(tokens.subarray(start, start + h.context + 1), r * (h.context + 1));
  }
  return tf.tensor2d(data, [h.batch, h.context + 1], 'int32');
}

/** Held-out bits per character: non-overlapping windows, every byte predicted once (eot excluded). */
async function evaluate(w: Record<string, Variable>, h: Hyper, tokens: Uint16Array, maxWindows = Infinity): Promise<number> {
  let nats = 0;
  let count = 0;
  const windows = Math.min(maxWindows, Math.floor((tokens.length - 1) / h.context));
  for (let start = 0; start < windows; start += h.batch) {
    const rows = Math.min(h.batch, windows - start);
    const data = new Int32Array(rows * (h.context + 1));
    for (let r = 0; r < rows; r++) {
      const at = (start + r) * h.context;
      data.set(tokens.subarray(at, at + h.context + 1), r * (h.context + 1));
    }
    const result = tf.tidy(() => {
      const batch = tf.tensor2d(data, [rows, h.context + 1], 'int32');
      const targets = tf.slice(batch, [0, 1], [rows, h.context]).reshape([-1]);
      const logp = tf.logSoftmax(forwardAll(w, h, tf.slice(batch, [0, 0], [rows, h.context]) as Tensor2D).reshape([-1, VOCAB_SIZE]));
      const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, VOCAB_SIZE)), 1);
      const isByte = tf.cast(tf.less(targets, END_OF_TEXT), 'float32');
      return tf.stack([tf.neg(tf.sum(tf.mul(picked, isByte))), tf.sum(isByte)]);
    });
    const [n, c] = await result.data();
    result.dispose();
    nats += n!;
    count += c!;
  }
  return nats / count / Math.LN2;
}

/** The baseline: held-out bytes coded with the training set's byte frequencies (add-one smoothed). */
function unigramBitsPerCharacter(train: Uint16Array, heldOut: Uint16Array): number {
  const counts = new Float64Array(VOCAB_SIZE).fill(1);
  let total = VOCAB_SIZE;
  for (const t of train) if (t < END_OF_TEXT) { counts[t]!++; total++; }
  let bits = 0;
  let n = 0;
  for (const t of heldOut) if (t < END_OF_TEXT) { bits -= Math.log2(counts[t]! / total); n++; }
  return bits / n;
}

function learningRate(h: Hyper, step: number): number {
  if (step < h.warmup) return (h.lr * (step + 1)) / h.warmup;
  const progress = Math.min(1, (step - h.warmup) / Math.max(1, h.steps - h.warmup));
  return h.lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

async function save(dir: string, w: Record<string, Variable>, optimizer: tf.AdamOptimizer, state: object): Promise<void> {
  const tensors = async (list: { name: string; tensor: Tensor }[]) => Object.fromEntries(await Promise.all(
    list.map(async ({ name, tensor }) => [name, { dtype: 'F32' as const, shape: tensor.shape.length ? tensor.shape : [1], data: Float32Array.from(await tensor.data()) }])));
  fs.mkdirSync(dir, { recursive: true });
  await writeSafetensors(path.join(dir, 'model.safetensors'), await tensors(Object.entries(w).map(([name, tensor]) => ({ name, tensor }))));
  fs.mkdirSync(path.join(dir, 'optimizer'), { recursive: true });
  await writeSafetensors(path.join(dir, 'optimizer', 'model.safetensors'), await tensors(await optimizer.getWeights()));
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state, null, 1));
}

async function main(): Promise<void> {
  const { corpus: corpusFile, run, exportDir, saveEvery, hyper } = args();
  await useBackend('wasm');
  const corpus = loadCorpus(corpusFile);
  const statePath = path.join(run, 'state.json');
  const resumed = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : null;
  const h: Hyper = resumed ? { ...resumed.hyper, steps: hyper.steps } : hyper;
  const history: { step: number; loss: number; heldOutBpc?: number; seconds: number }[] = resumed?.history ?? [];
  const specs = weightSpecs(h);
  const weights: Record<string, Variable> = {};
  const saved = resumed ? await SafetensorsCheckpoint.open(run) : null;
  for (const spec of specs) {
    const init = saved ? tf.tensor(await saved.read(spec.name), spec.shape) : initialValue(spec, h);
    weights[spec.name] = tf.variable(init, true, spec.name);
    init.dispose();
  }
  const names = specs.map((spec) => spec.name);
  const optimizer = tf.train.adam(h.lr, 0.9, 0.99, 1e-8);
  if (resumed) {
    const opt = await SafetensorsCheckpoint.open(path.join(run, 'optimizer'));
    // setWeights wants getWeights' order: the iteration count, every first moment, every second
    // moment, each in variable order (the file keeps them sorted by name).
    const order = ['iter', ...names.map((n) => `${n}/m`), ...names.map((n) => `${n}/v`)];
    const list = await Promise.all(order.map(async (name) => ({
      name, tensor: tf.tensor(await opt.read(name), name === 'iter' ? [] : [...opt.tensor(name).shape]),
    })));
    await optimizer.setWeights(list);
  }
  const params = specs.reduce((n, spec) => n + spec.shape.reduce((a, b) => a * b, 1), 0);
  console.log(`${params} parameters; train ${corpus.train.length} tokens (${corpus.chapters.train} chapters), held-out ${corpus.heldOut.length}`);
  if (process.argv.includes('--profile')) {
    // Where one training step's time goes, by kernel (to choose shapes that wasm runs fast).
    const info = await tf.profile(() => tf.tidy(() => {
      const batch = trainBatch(corpus.train, h, 0);
      const { value, grads } = tf.variableGrads(() => loss(weights, h, batch));
      return [value, ...Object.values(grads)];
    }));
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
    console.log([...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join('\n'));
    return;
  }
  let step: number = resumed?.step ?? 0;
  const started = Date.now() - (resumed?.seconds ?? 0) * 1000;
  while (step < h.steps) {
    (optimizer as unknown as { learningRate: number }).learningRate = learningRate(h, step);
    const lossValue = tf.tidy(() => {
      const batch = trainBatch(corpus.train, h, step);
      const { value, grads } = tf.variableGrads(() => loss(weights, h, batch));
      // Clip the global gradient norm at 1 (stabilises the early, high-learning-rate steps).
      const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
      const scale = tf.div(1, tf.maximum(norm, 1));
      optimizer.applyGradients(Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, tf.mul(g, scale)])));
      return value;
    });
    const l = (await lossValue.data())[0]!;
    lossValue.dispose();
    step++;
    const seconds = (Date.now() - started) / 1000;
    const entry: (typeof history)[number] = { step, loss: l, seconds };
    if (step % saveEvery === 0 || step === h.steps) {
      entry.heldOutBpc = await evaluate(weights, h, corpus.heldOut, 64);
      await save(run, weights, optimizer, { hyper: h, step, seconds, history: [...history, entry] });
    }
    history.push(entry);
    if (step % 10 === 0 || entry.heldOutBpc !== undefined) {
      console.log(`step ${step} loss ${(l / Math.LN2).toFixed(3)} bits/token${entry.heldOutBpc !== undefined ? ` held-out ${entry.heldOutBpc.toFixed(3)} bpc` : ''} ${seconds.toFixed(0)} s`);
    }
  }
  if (exportDir) {
    const bpc = await evaluate(weights, h, corpus.heldOut);
    const unigram = unigramBitsPerCharacter(corpus.train, corpus.heldOut);
    console.log(`held-out bits per character (all ${corpus.heldOut.length} tokens): ${bpc.toFixed(4)}; unigram baseline ${unigram.toFixed(4)}`);
    fs.mkdirSync(exportDir, { recursive: true });
    // Hugging Face's layout: the fused weights split back into q/k/v and gate/up, [out, in].
    const hf: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const spec of specs) {
      const parts = unfuseWeight(spec, Float32Array.from(await weights[spec.name]!.data()));
      for (const p of spec.parts) hf[p.source] = { dtype: 'F32', shape: p.sourceShape, data: parts.get(p.source)! };
    }
    await writeSafetensors(path.join(exportDir, 'model.safetensors'), hf);
    fs.writeFileSync(path.join(exportDir, 'config.json'), JSON.stringify(hfConfig(h), null, 2));
    // The tokenizer travels with the checkpoint (the converter copies these files along).
    fs.writeFileSync(path.join(exportDir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    fs.writeFileSync(path.join(exportDir, 'tokenizer_config.json'), JSON.stringify(byteTokenizerConfig(h.context), null, 2));
    fs.writeFileSync(path.join(exportDir, 'generation_config.json'),
      JSON.stringify({ bos_token_id: END_OF_TEXT, eos_token_id: END_OF_TEXT }, null, 2));
    fs.writeFileSync(path.join(exportDir, 'training.json'), JSON.stringify({ hyper: h, step, heldOutBpc: bpc, unigramBpc: unigram, history }, null, 1));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
