// More architectures against transformers (see __tests__/fixtures/golden/README.md): tiny random
// checkpoints written by save_pretrained, with transformers' logits, last-layer attention
// probabilities and greedy tokens for a left-padded batch. Native and converted models must
// reproduce all three, through the cache.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, generate } from '../lib';
import { checkGreedy, checkSteps, golden, MODELS } from './helpers/golden';
import type { KVCache } from '../lib/models/causal-lm';
import { convertHfCheckpoint } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import { parseHfConfig } from '../lib/models/hf-config';
import { EntropixError } from '../lib/core/errors';
import { computeMetrics } from '../lib/sampling/metrics';
import { attendedKeys } from '../lib/decoding/attended-keys';
import { buildLlamaGraph } from '../lib/models/llama-graph';
import { checkGraphContract } from '../lib/models/graph-contract';

const CASES = ['qwen3', 'smollm3', 'mistral-window', 'gemma2'] as const;

describe('more architectures: golden transformers outputs on wasm', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-arch-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(CASES)('%s: loadHfCheckpoint matches logits, attention and greedy tokens', async (name) => {
    const g = golden(name);
    const model = await loadHfCheckpoint(path.join(MODELS, name));
    try {
      await checkSteps(model, g, `${name} native`);
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });

  test.each(CASES)('%s: convertHfCheckpoint + loadModel matches logits, attention and greedy tokens', async (name) => {
    const g = golden(name);
    const out = path.join(root, name);
    await convertHfCheckpoint(path.join(MODELS, name), out);
    const model = await loadModel(out);
    try {
      await checkSteps(model, g, `${name} converted`);
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });
});

describe('sliding window: the attention metrics count only the keys the last layer attended to', () => {
  beforeAll(() => useBackend('wasm'));

  test('generate\'s attention entropy is computeMetrics\' with keyMask 0 outside the window', async () => {
    const g = golden('mistral-window');
    const model = await loadHfCheckpoint(path.join(MODELS, 'mistral-window'));
    try {
      const window = model.config.slidingWindow!;
      expect(window).toBe(5);
      const prompts = g.input_ids.map((r, i) => r.filter((_, j) => g.attention_mask[i]![j] === 1));
      const steps: number[][] = [];
      for await (const step of generate(model, prompts, { maxNewTokens: 4, sampler: 'greedy', seed: 0 })) steps.push(step.metrics.attnEntropy);
      // The same steps by hand: forward, then computeMetrics with the mask banded to the window.
      let mask = g.attention_mask.map((r) => [...r]);
      let cache: KVCache | null = null;
      for (let step = 0; step < steps.length; step++) {
        const ids = step === 0 ? g.input_ids : g.new_tokens.map((t) => [t[step - 1]!]);
        if (step > 0) mask = mask.map((r) => [...r, 1]);
        const keys = mask[0]!.length;
        const banded = mask.map((r) => r.map((m, j) => (j >= keys - window ? m : 0)));
        const input = tf.tensor2d(ids, undefined, 'int32');
        const r = model.forward(input, cache, { attentionMask: tf.tensor2d(mask, undefined, 'int32') });
        cache = r.cache;
        const entropy = (keyMask: number[][]) => tf.tidy(() =>
          computeMetrics(r.logits, r.attentionScores, { keyMask: tf.tensor2d(keyMask) }).attnEntropy.arraySync() as number[]);
        const inWindow = entropy(banded);
        const all = entropy(mask);
        tf.dispose([input, r.logits, r.attentionScores]);
        inWindow.forEach((x, b) => expect(steps[step]![b]).toBeCloseTo(x, 4));
        // Where the window hides real keys, the plain mask gives another entropy: the check above can fail.
        all.forEach((x, b) => {
          if (banded[b]!.some((m, j) => m !== mask[b]![j])) expect(Math.abs(x - inWindow[b]!)).toBeGreaterThan(1e-3);
        });
      }
      (cache as KVCache | null)?.dispose();
    } finally {
      model.dispose();
    }
  });

  test('attendedKeys zeroes the keys before S − window, and is the mask itself within the window', () => {
    const mask = tf.tensor2d([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]]);
    expect(tf.tidy(() => attendedKeys(mask, { slidingWindow: 4 }).arraySync())).toEqual([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]]);
    expect(attendedKeys(mask, { slidingWindow: 7 })).toBe(mask);
    expect(attendedKeys(mask, {})).toBe(mask);
    // Gemma 2: the last layer's own window decides.
    expect(attendedKeys(mask, { slidingWindow: 4, slidingLayers: [true, false] })).toBe(mask);
    expect(tf.tidy(() => attendedKeys(mask, { slidingWindow: 4, slidingLayers: [false, true] }).arraySync())).toEqual([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1]]);
    mask.dispose();
  });
});

describe('the graph of a model that slides some layers', () => {
  test('takes attention_bias_sliding and uses Tanh, both known to the contract; without that input it is refused', () => {
    const config = parseHfConfig(JSON.parse(fs.readFileSync(path.join(MODELS, 'gemma2', 'config.json'), 'utf8')), 'gemma2');
    const built = buildLlamaGraph(config, (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)));
    const nodes = built.modelJson.modelTopology.node;
    const weights = built.modelJson.weightsManifest.flatMap((m) => m.weights);
    expect(nodes.some((n) => n.op === 'Tanh')).toBe(true);
    expect(() => checkGraphContract(nodes, weights, config, 2, 'test')).not.toThrow();
    const renamed = nodes.map((n) => ({
      ...n,
      name: n.name === 'attention_bias_sliding' ? 'other' : n.name,
      input: (n.input ?? []).map((i) => (i === 'attention_bias_sliding' ? 'other' : i)),
    }));
    expect(() => checkGraphContract(renamed, weights, config, 2, 'test')).toThrow(/no input 'attention_bias_sliding'/);
  });
});

describe('config.json of the added architectures', () => {
  const read = (name: string) => JSON.parse(fs.readFileSync(path.join(MODELS, name, 'config.json'), 'utf8')) as Record<string, unknown>;
  const refused = (json: unknown, argument: string, message: RegExp) => {
    let err: unknown;
    try { parseHfConfig(json, 'test'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(EntropixError);
    expect((err as EntropixError).argument).toBe(argument);
    expect((err as Error).message).toMatch(message);
  };

  test('qwen3: q/k norms, head_dim as Qwen3Config defaults it (128, not hidden / heads)', () => {
    const c = parseHfConfig(read('qwen3'), 'qwen3');
    expect([c.modelType, c.architecture, c.qkNorm, c.headDim]).toEqual(['qwen3', 'Qwen3ForCausalLM', true, 16]);
    expect(parseHfConfig({ ...read('qwen3'), head_dim: undefined }, 'test').headDim).toBe(128);
    refused({ ...read('qwen3'), use_sliding_window: true }, 'use_sliding_window', /not supported/);
  });

  test('gemma2: layer_types, soft-caps (absent: transformers\' 50 and 30; null: none), query_pre_attn_scalar, head_dim 256 by default', () => {
    const json = read('gemma2');
    const c = parseHfConfig(json, 'gemma2');
    expect([c.slidingWindow, c.slidingLayers, c.headDim]).toEqual([4, [true, false, true], 16]);
    expect(c.gemma).toEqual({ embedScale: Math.sqrt(48), attentionScale: 1 / Math.sqrt(24), attentionSoftcap: 3, finalSoftcap: 8 });
    const bare = { ...json, head_dim: undefined, layer_types: undefined, attn_logit_softcapping: undefined, final_logit_softcapping: undefined };
    delete bare.attn_logit_softcapping;
    delete bare.final_logit_softcapping;
    const d = parseHfConfig(bare, 'test');
    expect([d.headDim, d.slidingLayers, d.gemma!.attentionSoftcap, d.gemma!.finalSoftcap]).toEqual([256, [true, false, true], 50, 30]);
    const off = parseHfConfig({ ...json, attn_logit_softcapping: null, final_logit_softcapping: null }, 'test');
    expect([off.gemma!.attentionSoftcap, off.gemma!.finalSoftcap]).toEqual([null, null]);
    refused({ ...json, hidden_activation: 'gelu' }, 'hidden_activation', /gelu_pytorch_tanh/);
    refused({ ...json, layer_types: ['sliding_attention', 'full_attention'] }, 'layer_types', /each of the 3 layers/);
    refused({ ...json, architectures: ['Gemma3ForCausalLM'] }, 'architectures', /not supported \(supported: .*Gemma2ForCausalLM\)/);
  });

  test('smollm3: no_rope_layers as written, or from no_rope_layer_interval as transformers fills it', () => {
    const json = read('smollm3');
    expect(json.no_rope_layers).toEqual([1, 1, 1, 0]);
    expect(parseHfConfig(json, 'smollm3').ropeLayers).toEqual([true, true, true, false]);
    expect(parseHfConfig({ ...json, no_rope_layers: undefined, no_rope_layer_interval: 2 }, 'test').ropeLayers)
      .toEqual([true, false, true, false]);
    refused({ ...json, no_rope_layers: [1, 1, 0] }, 'no_rope_layers', /each of the 4 layers/);
    refused({ ...json, no_rope_layers: [1, 1, 2, 0] }, 'no_rope_layers', /0 or 1/);
    refused({ ...json, mlp_bias: true }, 'mlp_bias', /not supported/);
    refused({ ...json, use_sliding_window: true }, 'use_sliding_window', /not supported/);
  });
});

// Gemma 3 (q/k norms, two rope bases, linear scaling on the global layers) and Phi-3 (fused qkv_proj
// and gate_up_proj, a window on every layer), each also from bf16 shards.
const GEMMA3_PHI3 = ['gemma3', 'gemma3-bf16-sharded', 'phi3', 'phi3-bf16-sharded'] as const;

describe('Gemma 3 and Phi-3: golden transformers outputs on wasm', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-g3p3-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(GEMMA3_PHI3)('%s: loadHfCheckpoint and convertHfCheckpoint + loadModel match logits, attention and greedy tokens', async (name) => {
    const g = golden(name);
    const native = await loadHfCheckpoint(path.join(MODELS, name));
    try {
      await checkSteps(native, g, `${name} native`);
      await checkGreedy(native, g);
    } finally {
      native.dispose();
    }
    const out = path.join(root, name);
    await convertHfCheckpoint(path.join(MODELS, name), out);
    const converted = await loadModel(out);
    try {
      await checkSteps(converted, g, `${name} converted`);
      await checkGreedy(converted, g);
    } finally {
      converted.dispose();
    }
  });
});
