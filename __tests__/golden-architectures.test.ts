// More architectures against transformers (see __tests__/fixtures/golden/README.md): tiny random
// checkpoints written by save_pretrained, with transformers' logits, last-layer attention
// probabilities and greedy tokens for a left-padded batch. Native and converted models must
// reproduce all three, through the cache.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useBackend, generate } from '../lib';
import { describeGoldenModels, golden, MODELS } from './helpers/golden';
import type { KVCache } from '../lib/models/causal-lm';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import { parseHfConfig } from '../lib/models/hf-config';
import { EntropixError } from '../lib/core/errors';
import { computeMetrics } from '../lib/sampling/metrics';
import { attendedKeys } from '../lib/decoding/attended-keys';
import { buildLlamaGraph } from '../lib/models/llama-graph';
import { checkGraphContract } from '../lib/models/graph-contract';

const CASES = [
  'qwen3', 'smollm3', 'mistral-window', 'gemma2', 'qwen2-window', 'qwen3-window',
  // bf16 weights in several shards (with an index), read and widened to float32.
  'qwen3-bf16-sharded', 'smollm3-bf16-sharded', 'gemma2-bf16-sharded',
] as const;

describeGoldenModels('more architectures: golden transformers outputs on wasm', CASES);

describe('sliding window: the attention metrics count only the keys the last layer attended to', () => {
  beforeAll(() => useBackend('wasm'));

  // Mistral slides every layer; Qwen2 here the last two of three (max_window_layers 1); Qwen3 here
  // the first two, so its last layer sees every key and the metrics count them all.
  test.each([['mistral-window', 5, true], ['qwen2-window', 5, true], ['qwen3-window', 4, false]] as const)(
    '%s: generate\'s attention entropy is computeMetrics\' with the last layer\'s keys (window %i, last layer slides: %s)',
    async (name, window, lastSlides) => {
      const g = golden(name);
      const model = await loadHfCheckpoint(path.join(MODELS, name));
      try {
        expect(model.config.slidingWindow).toBe(window);
        const prompts = g.input_ids.map((r, i) => r.filter((_, j) => g.attention_mask[i]![j] === 1));
        const steps: number[][] = [];
        for await (const step of generate(model, prompts, { maxNewTokens: 4, sampler: 'greedy', seed: 0 })) steps.push(step.metrics.attnEntropy);
        // The same steps by hand: forward, then computeMetrics with keyMask 0 outside the window, or the plain mask.
        let mask = g.attention_mask.map((r) => [...r]);
        let cache: KVCache | null = null;
        for (let step = 0; step < steps.length; step++) {
          const ids = step === 0 ? g.input_ids : g.new_tokens.map((t) => [t[step - 1]!]);
          if (step > 0) mask = mask.map((r) => [...r, 1]);
          const keys = mask[0]!.length;
          const banded = mask.map((r) => r.map((m, j) => (j >= keys - window ? m : 0)));
          const input = tf.tensor2d(ids, undefined, 'int32');
          const attentionMask = tf.tensor2d(mask, undefined, 'int32');
          const r = model.forward(input, cache, { attentionMask });
          cache = r.cache;
          const entropy = (keyMask: number[][]) => tf.tidy(() =>
            computeMetrics(r.logits, r.attentionScores, { keyMask: tf.tensor2d(keyMask) }).attnEntropy.arraySync() as number[]);
          const [expected, other] = lastSlides ? [entropy(banded), entropy(mask)] : [entropy(mask), entropy(banded)];
          tf.dispose([input, attentionMask, r.logits, r.attentionScores]);
          expected.forEach((x, b) => expect(steps[step]![b]).toBeCloseTo(x, 4));
          // Where the window hides real keys, the other mask gives another entropy, by more than the
          // 5e-5 that toBeCloseTo(·, 4) allows: the check above can fail.
          other.forEach((x, b) => {
            if (banded[b]!.some((m, j) => m !== mask[b]![j])) expect(Math.abs(x - expected[b]!)).toBeGreaterThan(1e-4);
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

// A fixture's config.json, and a config refused with a typed error naming the field.
const read = (name: string) => JSON.parse(fs.readFileSync(path.join(MODELS, name, 'config.json'), 'utf8')) as Record<string, unknown>;
const refused = (json: unknown, argument: string, message: RegExp) => {
  let err: unknown;
  try { parseHfConfig(json, 'test'); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(EntropixError);
  expect((err as EntropixError).argument).toBe(argument);
  expect((err as Error).message).toMatch(message);
};

describe('config.json of the added architectures', () => {

  test('qwen3: q/k norms, head_dim as Qwen3Config defaults it (128, not hidden / heads)', () => {
    const c = parseHfConfig(read('qwen3'), 'qwen3');
    expect([c.modelType, c.architecture, c.qkNorm, c.headDim]).toEqual(['qwen3', 'Qwen3ForCausalLM', true, 16]);
    expect(parseHfConfig({ ...read('qwen3'), head_dim: undefined }, 'test').headDim).toBe(128);
  });

  test('qwen2 / qwen3 windows as transformers 5 reads them: use_sliding_window, then layer_types or max_window_layers', () => {
    const q2 = read('qwen2-window');
    expect([q2.use_sliding_window, q2.sliding_window, q2.max_window_layers]).toEqual([true, 5, 1]);
    const c = parseHfConfig(q2, 'qwen2-window');
    expect([c.slidingWindow, c.slidingLayers]).toEqual([5, [false, true, true]]);
    expect(parseHfConfig(read('qwen3-window'), 'qwen3-window').slidingLayers).toEqual([true, true, false]);
    // Without layer_types (transformers 4 files): the layers from max_window_layers on; every layer is Mistral's case.
    const old = { ...q2, layer_types: undefined };
    expect(parseHfConfig({ ...old, max_window_layers: 2 }, 'test').slidingLayers).toEqual([false, false, true]);
    const all = parseHfConfig({ ...old, max_window_layers: 0 }, 'test');
    expect([all.slidingWindow, all.slidingLayers]).toEqual([5, undefined]);
    // sliding_window absent: Qwen2Config's 4096.
    const noSize: Record<string, unknown> = { ...old };
    delete noSize.sliding_window;
    expect(parseHfConfig(noSize, 'test').slidingWindow).toBe(4096);
    // The default max_window_layers (28) slides none of 3 layers; use_sliding_window false or no window: full attention.
    for (const off of [{ ...old, max_window_layers: undefined }, { ...old, use_sliding_window: false }, { ...old, sliding_window: null }]) {
      const d = parseHfConfig(off, 'test');
      expect([d.slidingWindow, d.slidingLayers]).toEqual([null, undefined]);
    }
    // Real Qwen2.5 files say use_sliding_window false with a sliding_window: no window.
    expect(parseHfConfig({ ...read('qwen3'), use_sliding_window: false, sliding_window: 32768 }, 'test').slidingWindow).toBeNull();
    refused({ ...q2, use_sliding_window: false }, 'layer_types', /no window/);
    refused({ ...q2, layer_types: ['full_attention', 'sliding_attention'] }, 'layer_types', /each of the 3 layers/);
    refused({ ...q2, sliding_window: 0 }, 'sliding_window', /sliding_window/);
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
    refused({ ...json, architectures: ['Gemma3ForCausalLM'] }, 'architectures', /does not match model_type "gemma2" \(expected Gemma2ForCausalLM\)/);
    refused({ ...json, architectures: ['GemmaForCausalLM'] }, 'architectures', /not supported \(supported: .*Gemma2ForCausalLM[,)]/);
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

// Gemma 3 (q/k norms, two rope bases, linear scaling on the global layers; also the multimodal
// Gemma3ForConditionalGeneration on text) and Phi-3 (fused qkv_proj and gate_up_proj, a window on
// every layer), each also from bf16 shards.
const GEMMA3_PHI3 = ['gemma3', 'gemma3-bf16-sharded', 'gemma3-multimodal', 'phi3', 'phi3-bf16-sharded'] as const;

describeGoldenModels('Gemma 3 and Phi-3: golden transformers outputs on wasm', GEMMA3_PHI3);

describe('config.json of Gemma 3 and Phi-3', () => {
  // gemma-3-1b's config.json is written this way (transformers 4.50): the two bases and the
  // pattern as top-level fields. transformers 5.18's Gemma3TextConfig reads it as the same model:
  // layers 5, 11, 17, 23 global (base 1e6), the others slide (base 1e4), no soft-caps.
  const GEMMA3_1B = {
    architectures: ['Gemma3ForCausalLM'], attention_bias: false, attn_logit_softcapping: null, bos_token_id: 2,
    eos_token_id: [1, 106], final_logit_softcapping: null, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh',
    hidden_size: 1152, intermediate_size: 6912, max_position_embeddings: 32768, model_type: 'gemma3_text',
    num_attention_heads: 4, num_hidden_layers: 26, num_key_value_heads: 1, pad_token_id: 0, query_pre_attn_scalar: 256,
    rms_norm_eps: 1e-6, rope_local_base_freq: 10000, rope_scaling: null, rope_theta: 1000000, sliding_window: 512,
    sliding_window_pattern: 6, vocab_size: 262144,
  };

  test('gemma3: the fixture as transformers 5 writes it (rope_parameters by layer type, layer_types)', () => {
    const c = parseHfConfig(read('gemma3'), 'gemma3');
    expect([c.modelType, c.architecture, c.qkNorm, c.headDim, c.slidingWindow]).toEqual(['gemma3_text', 'Gemma3ForCausalLM', true, 16, 4]);
    expect(c.slidingLayers).toEqual([true, true, false, true]);
    expect([c.ropeTheta, c.ropeScaling, c.ropeLocalTheta]).toEqual([1e6, { type: 'linear', factor: 4 }, 1e4]);
    expect(c.gemma).toEqual({ embedScale: Math.sqrt(48), attentionScale: 1 / Math.sqrt(24), attentionSoftcap: null, finalSoftcap: null });
  });

  test('gemma3: the 4.x layout (rope_theta, rope_local_base_freq, rope_scaling, sliding_window_pattern) and the class defaults', () => {
    const c = parseHfConfig(GEMMA3_1B, 'gemma-3-1b');
    expect(c.slidingLayers!.flatMap((s, i) => (s ? [] : [i]))).toEqual([5, 11, 17, 23]);
    expect([c.ropeTheta, c.ropeScaling, c.ropeLocalTheta, c.slidingWindow, c.headDim, c.eosTokenIds]).toEqual([1e6, null, 1e4, 512, 256, [1, 106]]);
    const scaled = parseHfConfig({ ...GEMMA3_1B, rope_scaling: { rope_type: 'linear', factor: 8 } }, 'test');
    expect(scaled.ropeScaling).toEqual({ type: 'linear', factor: 8 });
    const bare: Record<string, unknown> = { ...GEMMA3_1B };
    for (const k of ['rope_theta', 'rope_local_base_freq', 'rope_scaling', 'sliding_window_pattern', 'head_dim', 'sliding_window',
      'attn_logit_softcapping', 'final_logit_softcapping']) delete bare[k];
    const d = parseHfConfig(bare, 'test');
    expect([d.ropeTheta, d.ropeLocalTheta, d.headDim, d.slidingWindow, d.gemma!.attentionSoftcap, d.gemma!.finalSoftcap]).toEqual([1e6, 1e4, 256, 4096, null, null]);
    expect(d.slidingLayers!.flatMap((s, i) => (s ? [] : [i]))).toEqual([5, 11, 17, 23]);
    refused({ ...GEMMA3_1B, sliding_window: null }, 'sliding_window', /null is not supported/);
  });

  test('gemma3: attn_logit_softcapping is checked and ignored (transformers\' Gemma3Attention never applies it); the final cap applies', () => {
    const c = parseHfConfig(read('gemma3-bf16-sharded'), 'test');
    expect([c.gemma!.attentionSoftcap, c.gemma!.finalSoftcap]).toEqual([null, 10]);
    refused({ ...GEMMA3_1B, attn_logit_softcapping: -1 }, 'attn_logit_softcapping', /attn_logit_softcapping/);
  });

  test('gemma3: what it cannot run is refused by name', () => {
    refused({ ...GEMMA3_1B, rope_scaling: { rope_type: 'yarn', factor: 8 } }, 'rope_scaling', /"yarn" is not supported \(only "llama3" and "linear"\)/);
    refused({ ...read('gemma3'), rope_parameters: { rope_type: 'default', rope_theta: 1e4 } }, 'rope_parameters', /by layer type/);
    refused({ ...read('gemma3'), rope_parameters: { sliding_attention: { rope_type: 'linear', factor: 2, rope_theta: 1e4 } } },
      'rope_parameters.sliding_attention', /scaling on the sliding layers is not supported/);
    refused({ ...read('gemma3'), rope_scaling: { rope_type: 'linear', factor: 2 } }, 'rope_scaling', /both given/);
    refused({ ...GEMMA3_1B, layer_types: ['sliding_attention'] }, 'layer_types', /each of the 26 layers/);
    refused({ ...GEMMA3_1B, use_bidirectional_attention: true }, 'use_bidirectional_attention', /not supported/);
    refused({ ...GEMMA3_1B, hidden_activation: 'gelu' }, 'hidden_activation', /gelu_pytorch_tanh/);
  });

  // gemma-3-4b-it's config.json less vision_config (transformers 4.50): text_config gives six
  // fields, Gemma3TextConfig's defaults the rest.
  const GEMMA3_4B = {
    architectures: ['Gemma3ForConditionalGeneration'], boi_token_index: 255999, eoi_token_index: 256000, eos_token_id: [1, 106],
    image_token_index: 262144, initializer_range: 0.02, mm_tokens_per_image: 256, model_type: 'gemma3',
    text_config: {
      hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34,
      rope_scaling: { factor: 8.0, rope_type: 'linear' }, sliding_window: 1024,
    },
  };

  test('gemma3 (multimodal): the text decoder of text_config, read from under language_model., with Gemma3TextConfig\'s defaults', () => {
    const c = parseHfConfig(GEMMA3_4B, 'gemma-3-4b');
    expect([c.architecture, c.modelType, c.weightPrefix, c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim])
      .toEqual(['Gemma3ForConditionalGeneration', 'gemma3_text', 'language_model.', 262208, 2560, 34, 8, 4, 256]);
    expect([c.maxPositions, c.slidingWindow, c.ropeTheta, c.ropeScaling, c.ropeLocalTheta, c.tieWordEmbeddings])
      .toEqual([131072, 1024, 1e6, { type: 'linear', factor: 8 }, 1e4, true]);
    expect(c.eosTokenIds).toEqual([1, 106]);
    refused({ ...GEMMA3_4B, text_config: { ...GEMMA3_4B.text_config, sliding_window: null } }, 'text_config.sliding_window', /null is not supported/);
    expect(c.slidingLayers!.flatMap((s, i) => (s ? [] : [i]))).toEqual([5, 11, 17, 23, 29]);
    const fixture = parseHfConfig(read('gemma3-multimodal'), 'test');
    expect([fixture.slidingLayers, fixture.ropeScaling, fixture.tieWordEmbeddings]).toEqual([[true, false], { type: 'linear', factor: 2 }, true]);
    // Errors inside text_config name the field there.
    refused({ ...GEMMA3_4B, text_config: { ...GEMMA3_4B.text_config, hidden_activation: 'relu' } }, 'text_config.hidden_activation', /gelu_pytorch_tanh/);
    refused({ ...GEMMA3_4B, text_config: { ...GEMMA3_4B.text_config, model_type: 'gemma2' } }, 'text_config', /"gemma3_text"/);
    refused({ ...GEMMA3_4B, text_config: undefined }, 'text_config', /must be an object/);
    refused({ ...GEMMA3_4B, architectures: ['Gemma3ForCausalLM'] }, 'architectures', /Gemma3ForConditionalGeneration/);
  });

  // Phi-3-mini-4k-instruct's config.json (transformers 4.40) less auto_map: a window of 2047 on every layer.
  const PHI3_MINI_4K = {
    architectures: ['Phi3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 1, embd_pdrop: 0.0,
    eos_token_id: 32000, hidden_act: 'silu', hidden_size: 3072, initializer_range: 0.02, intermediate_size: 8192,
    max_position_embeddings: 4096, model_type: 'phi3', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 32,
    original_max_position_embeddings: 4096, pad_token_id: 32000, resid_pdrop: 0.0, rms_norm_eps: 1e-5, rope_scaling: null,
    rope_theta: 10000.0, sliding_window: 2047, tie_word_embeddings: false, vocab_size: 32064,
  };

  test('phi3: fused projections, a window on every layer, no biases', () => {
    const c = parseHfConfig(PHI3_MINI_4K, 'phi-3-mini');
    expect([c.architecture, c.fusedProjections, c.slidingWindow, c.slidingLayers, c.headDim, c.attentionBias, c.ropeTheta])
      .toEqual(['Phi3ForCausalLM', true, 2047, undefined, 96, false, 1e4]);
    expect(parseHfConfig(read('phi3'), 'phi3').slidingWindow).toBe(5);
    expect(parseHfConfig(read('phi3-bf16-sharded'), 'phi3').slidingWindow).toBeNull();
  });

  test('phi3: longrope (the 128k models, also written "su") and a partial rotary are refused by name', () => {
    const factors = new Array(48).fill(1);
    const longrope = { type: 'longrope', long_factor: factors, short_factor: factors };
    refused({ ...PHI3_MINI_4K, rope_scaling: longrope }, 'rope_scaling', /Phi-3's RoPE scaling "longrope" .* is not supported/);
    refused({ ...PHI3_MINI_4K, rope_scaling: { ...longrope, type: 'su' } }, 'rope_scaling', /"su"/);
    refused({ ...read('phi3'), rope_parameters: { rope_type: 'longrope', rope_theta: 1e4 } }, 'rope_parameters', /longrope/);
    refused({ ...read('phi3'), rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.75 } },
      'rope_parameters.partial_rotary_factor', /0.75 is not supported/);
    refused({ ...PHI3_MINI_4K, partial_rotary_factor: 0.5 }, 'partial_rotary_factor', /not supported/);
    refused({ ...PHI3_MINI_4K, hidden_act: 'gelu' }, 'hidden_act', /silu/);
  });

  test('the last layer\'s window decides the attention metrics\' keyMask: gemma3 slides its last layer, gemma3-bf16-sharded does not', () => {
    const mask = tf.ones([1, 8]) as tf.Tensor2D;
    const banded = (name: string) => tf.tidy(() => attendedKeys(mask, parseHfConfig(read(name), name)).arraySync());
    expect(banded('gemma3')).toEqual([[0, 0, 0, 0, 1, 1, 1, 1]]);
    expect(banded('phi3')).toEqual([[0, 0, 0, 1, 1, 1, 1, 1]]);
    expect(banded('gemma3-bf16-sharded')).toEqual([[1, 1, 1, 1, 1, 1, 1, 1]]);
    mask.dispose();
  });

  test('the Gemma 3 graph takes rope_sliding, which the contract requires', () => {
    const config = parseHfConfig(read('gemma3'), 'gemma3');
    const built = buildLlamaGraph(config, (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)));
    const nodes = built.modelJson.modelTopology.node;
    const weights = built.modelJson.weightsManifest.flatMap((m) => m.weights);
    expect(nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name)).toEqual(expect.arrayContaining(['rope', 'rope_sliding', 'attention_bias_sliding']));
    expect(() => checkGraphContract(nodes, weights, config, 3, 'test')).not.toThrow();
    const without = nodes.filter((n) => n.name !== 'rope_sliding').map((n) => ({ ...n, input: (n.input ?? []).map((i) => (i === 'rope_sliding' ? 'rope' : i)) }));
    expect(() => checkGraphContract(without, weights, config, 3, 'test')).toThrow(/no input 'rope_sliding'/);
  });
});
