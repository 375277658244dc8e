// GPT-2 against transformers (see __tests__/fixtures/golden/README.md): tiny random GPT2LMHeadModel
// checkpoints written by save_pretrained (one tied float32, one bf16 in shards with a separate
// lm_head and per-layer attention scales), with transformers' logits, last-layer attention
// probabilities and greedy tokens for a left-padded batch. Native and converted models must
// reproduce all three, through the cache.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend } from '../lib';
import { checkSteps, describeGoldenModels, golden, MODELS } from './helpers/golden';
import { convertHfCheckpoint } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import { parseHfConfig } from '../lib/models/hf-config';
import { EntropixError } from '../lib/core/errors';
import { buildLlamaGraph } from '../lib/models/llama-graph';
import { checkGraphContract } from '../lib/models/graph-contract';
import { compileGraph } from '../lib/graphdef/executor';
import { SafetensorsCheckpoint, SafetensorsInput, writeSafetensors } from '../lib/models/safetensors';

const CASES = ['gpt2', 'gpt2-bf16-sharded'] as const;

describeGoldenModels('GPT-2: golden transformers outputs on wasm', CASES);

describe('GPT-2: a checkpoint without the transformer. prefix', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-gpt2-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('a checkpoint saved from the base model (no "transformer." prefix, attn.bias buffers, as openai-community/gpt2) reads the same', async () => {
    const g = golden('gpt2');
    const src = path.join(root, 'gpt2-unprefixed');
    fs.mkdirSync(src);
    fs.copyFileSync(path.join(MODELS, 'gpt2', 'config.json'), path.join(src, 'config.json'));
    const ckpt = await SafetensorsCheckpoint.open(path.join(MODELS, 'gpt2'));
    const tensors: Record<string, SafetensorsInput> = {};
    for (const name of ckpt.names) {
      tensors[name.replace(/^transformer\./, '')] = { dtype: 'F32', shape: [...ckpt.tensor(name).shape], data: await ckpt.read(name) };
    }
    // The causal-mask buffers the original files carry: read by nothing.
    for (const i of [0, 1]) tensors[`h.${i}.attn.bias`] = { dtype: 'F32', shape: [1, 1, 32, 32], data: new Float32Array(32 * 32).fill(1) };
    expect(Object.keys(tensors)).toContain('wte.weight');
    await writeSafetensors(path.join(src, 'model.safetensors'), tensors);
    const native = await loadHfCheckpoint(src);
    try {
      await checkSteps(native, g, 'gpt2 unprefixed native');
    } finally {
      native.dispose();
    }
    await convertHfCheckpoint(src, path.join(root, 'gpt2-unprefixed-converted'));
    const converted = await loadModel(path.join(root, 'gpt2-unprefixed-converted'));
    try {
      await checkSteps(converted, g, 'gpt2 unprefixed converted');
    } finally {
      converted.dispose();
    }
  });
});

describe('GPT-2 config.json', () => {
  const json = JSON.parse(fs.readFileSync(path.join(MODELS, 'gpt2', 'config.json'), 'utf8')) as Record<string, unknown>;
  const refused = (edit: Record<string, unknown>, argument: string, message: RegExp) => {
    let err: unknown;
    try { parseHfConfig({ ...json, ...edit }, 'test'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(EntropixError);
    expect((err as EntropixError).argument).toBe(argument);
    expect((err as Error).message).toMatch(message);
  };

  test('GPT2Config\'s own names; every head a kv head; q/k/v and c_proj biases; tied head; n_positions as context', () => {
    const c = parseHfConfig(json, 'gpt2');
    expect(c).toMatchObject({
      modelType: 'gpt2', architecture: 'GPT2LMHeadModel', vocabSize: 128, hiddenSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 4,
      headDim: 12, intermediateSize: 96, maxPositions: 32, rmsNormEps: 1e-5, tieWordEmbeddings: true, attentionBias: true,
      attentionOutputBias: true, bosTokenId: 1, eosTokenIds: [2], slidingWindow: null,
    });
    expect(c.gpt2!.attentionScales).toEqual([1 / Math.sqrt(12), 1 / Math.sqrt(12)]);
    // GPT2Config's defaults: n_inner 4 × n_embd, tied, scale 1/√head_dim.
    const bare = { ...json };
    for (const k of ['n_inner', 'tie_word_embeddings', 'scale_attn_weights', 'layer_norm_epsilon', 'activation_function']) delete bare[k];
    expect(parseHfConfig(bare, 'test')).toMatchObject({ intermediateSize: 192, tieWordEmbeddings: true, rmsNormEps: 1e-5 });
    // scale_attn_weights false: no 1/√head_dim; scale_attn_by_inverse_layer_idx: ÷ (layer + 1).
    expect(parseHfConfig({ ...json, scale_attn_weights: false, scale_attn_by_inverse_layer_idx: true }, 'test').gpt2!.attentionScales)
      .toEqual([1, 0.5]);
    expect(parseHfConfig({ ...json, activation_function: 'gelu_pytorch_tanh' }, 'test').modelType).toBe('gpt2');
  });

  test('refuses what the forward does not run, naming the field', () => {
    refused({ activation_function: 'gelu' }, 'activation_function', /"gelu_new"/);
    refused({ activation_function: 'relu' }, 'activation_function', /"gelu_new"/);
    refused({ add_cross_attention: true }, 'add_cross_attention', /not supported/);
    refused({ n_head: 5 }, 'n_head', /n_embd \(48\) must be a multiple of n_head \(5\)/);
    refused({ n_embd: undefined }, 'n_embd', /missing required field n_embd/);
    refused({ n_positions: 0 }, 'n_positions', /n_positions/);
    refused({ reorder_and_upcast_attn: 'yes' }, 'reorder_and_upcast_attn', /true or false/);
    refused({ architectures: ['GPT2DoubleHeadsModel'] }, 'architectures', /not supported \(supported: .*GPT2LMHeadModel\)/);
    refused({ architectures: ['LlamaForCausalLM'] }, 'architectures', /does not match model_type "gpt2" \(expected GPT2LMHeadModel\)/);
  });
});

describe('the GPT-2 graph', () => {
  test('takes position_ids (no rope), uses Sub, runs on the lean executor; without position_ids it is refused', () => {
    const config = parseHfConfig(JSON.parse(fs.readFileSync(path.join(MODELS, 'gpt2', 'config.json'), 'utf8')), 'gpt2');
    const built = buildLlamaGraph(config, (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)));
    const nodes = built.modelJson.modelTopology.node;
    const weights = built.modelJson.weightsManifest.flatMap((m) => m.weights);
    const inputs = nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name);
    expect(inputs).toContain('position_ids');
    expect(inputs).not.toContain('rope');
    expect(nodes.some((n) => n.op === 'Sub')).toBe(true);
    expect(weights.map((w) => w.name)).toEqual(expect.arrayContaining(['transformer.wpe.weight', 'transformer.h.0.attn.c_attn.bias', 'lm_head.weight']));
    expect(() => checkGraphContract(nodes, weights, config, 3, 'test')).not.toThrow();
    const renamed = nodes.map((n) => ({
      ...n,
      name: n.name === 'position_ids' ? 'other' : n.name,
      input: (n.input ?? []).map((i) => (i === 'position_ids' ? 'other' : i)),
    }));
    expect(() => checkGraphContract(renamed, weights, config, 3, 'test')).toThrow(/no input 'position_ids'/);
    // Every op is one lib/graphdef/executor.ts runs (null: TF.js's slower executor would run it).
    const outputs = ['logits', 'attention_scores', 'present_key_0', 'present_key_1', 'present_value_0', 'present_value_1'];
    const bytes = new Uint8Array(built.weightData.reduce((n, d) => n + d.byteLength, 0));
    built.weightData.reduce((at, d) => { bytes.set(d, at); return at + d.byteLength; }, 0);
    const named = tf.io.decodeWeights(bytes.buffer, weights);
    const consts = Object.fromEntries(Object.entries(named).map(([name, t]) => [name, [t]]));
    try {
      expect(compileGraph(nodes, consts, outputs)).not.toBeNull();
    } finally {
      tf.dispose(Object.values(named));
    }
  });
});
