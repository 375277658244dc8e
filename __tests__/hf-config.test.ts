import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseHfConfig, ModelConfig } from '../lib/models/hf-config';
import { readHfConfig } from '../lib/models/hf-config-file';

// config.json as published on the Hugging Face Hub (values as released; a few cosmetic keys dropped).
const LLAMA_3_2_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  vocab_size: 49152,
};

const QWEN2_0_5B = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 131072,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const MISTRAL_7B_V01 = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0',
  use_cache: true,
  vocab_size: 32000,
};

/** Asserts fn throws an EntropixError INVALID_ARGUMENT naming `argument`, with a message matching `message`. */
function expectRefused(fn: () => unknown, argument: string, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeDefined();
  expect((caught as Error).name).toBe('EntropixError');
  expect((caught as { code?: string }).code).toBe('INVALID_ARGUMENT');
  expect((caught as { argument?: string }).argument).toBe(argument);
  expect((caught as Error).message).toMatch(/^test\/config\.json: /);
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
}

const SRC = 'test/config.json';
const parse = (json: unknown) => parseHfConfig(json, SRC);
/** A copy of `base` with `changes` applied; an undefined value deletes the key. */
function edit(base: object, changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete out[k];
  return out;
}

describe('parseHfConfig on published configs', () => {
  test('Llama 3.2 1B: GQA, explicit head_dim, llama3 RoPE scaling, tied embeddings', () => {
    expect(parse(LLAMA_3_2_1B)).toEqual<ModelConfig>({
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      vocabSize: 128256,
      hiddenSize: 2048,
      numLayers: 16,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      intermediateSize: 8192,
      maxPositions: 131072,
      ropeTheta: 500000,
      rmsNormEps: 1e-5,
      tieWordEmbeddings: true,
      attentionBias: false,
      attentionOutputBias: false,
      bosTokenId: 128000,
      eosTokenIds: [128001],
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
      slidingWindow: null,
    });
  });

  test('Llama 3.2 1B Instruct: a list of eos ids', () => {
    expect(parse({ ...LLAMA_3_2_1B, eos_token_id: [128001, 128008, 128009] }).eosTokenIds).toEqual([128001, 128008, 128009]);
  });

  test('SmolLM2 135M: 9 heads over 3 KV heads, head_dim derived as 576 / 9', () => {
    expect(parse(SMOLLM2_135M)).toEqual<ModelConfig>({
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      vocabSize: 49152,
      hiddenSize: 576,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      intermediateSize: 1536,
      maxPositions: 8192,
      ropeTheta: 100000,
      rmsNormEps: 1e-5,
      tieWordEmbeddings: true,
      attentionBias: false,
      attentionOutputBias: false,
      bosTokenId: 0,
      eosTokenIds: [0],
      ropeScaling: null,
      slidingWindow: null,
    });
  });

  test('Qwen2 0.5B: q/k/v biases without an o_proj bias, sliding window off', () => {
    expect(parse(QWEN2_0_5B)).toEqual<ModelConfig>({
      architecture: 'Qwen2ForCausalLM',
      modelType: 'qwen2',
      vocabSize: 151936,
      hiddenSize: 896,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      intermediateSize: 4864,
      maxPositions: 131072,
      ropeTheta: 1000000,
      rmsNormEps: 1e-6,
      tieWordEmbeddings: true,
      attentionBias: true,
      attentionOutputBias: false,
      bosTokenId: 151643,
      eosTokenIds: [151643],
      ropeScaling: null,
      slidingWindow: null,
    });
  });

  test('Mistral 7B v0.1: untied, sliding window 4096', () => {
    expect(parse(MISTRAL_7B_V01)).toEqual<ModelConfig>({
      architecture: 'MistralForCausalLM',
      modelType: 'mistral',
      vocabSize: 32000,
      hiddenSize: 4096,
      numLayers: 32,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 128,
      intermediateSize: 14336,
      maxPositions: 32768,
      ropeTheta: 10000,
      rmsNormEps: 1e-5,
      tieWordEmbeddings: false,
      attentionBias: false,
      attentionOutputBias: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      ropeScaling: null,
      slidingWindow: 4096,
    });
  });

  test('Mistral 7B Instruct v0.2 shape: sliding_window null, rope_theta 1e6', () => {
    const c = parse({ ...MISTRAL_7B_V01, sliding_window: null, rope_theta: 1000000.0 });
    expect(c.slidingWindow).toBeNull();
    expect(c.ropeTheta).toBe(1e6);
  });

  test('Mistral: an attention_bias key is ignored, as transformers ignores it', () => {
    expect(parse({ ...MISTRAL_7B_V01, attention_bias: true }).attentionBias).toBe(false);
  });

  test('Llama with attention_bias: biases on all four projections', () => {
    const c = parse({ ...SMOLLM2_135M, attention_bias: true });
    expect([c.attentionBias, c.attentionOutputBias]).toEqual([true, true]);
  });
});

describe('parseHfConfig defaults', () => {
  const MINIMAL = {
    model_type: 'llama', vocab_size: 1000, hidden_size: 256, num_hidden_layers: 2, num_attention_heads: 4,
    intermediate_size: 512, max_position_embeddings: 2048,
  };

  test('a minimal config gets transformers\' defaults', () => {
    expect(parse(MINIMAL)).toEqual<ModelConfig>({
      architecture: 'LlamaForCausalLM', // from model_type when architectures is absent
      modelType: 'llama',
      vocabSize: 1000,
      hiddenSize: 256,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 4,
      headDim: 64,
      intermediateSize: 512,
      maxPositions: 2048,
      ropeTheta: 10000,
      rmsNormEps: 1e-6,
      tieWordEmbeddings: false,
      attentionBias: false,
      attentionOutputBias: false,
      bosTokenId: null,
      eosTokenIds: [],
      ropeScaling: null,
      slidingWindow: null,
    });
  });

  test('null means "use the default", as transformers writes it', () => {
    const c = parse({
      ...MINIMAL, num_key_value_heads: null, head_dim: null, rope_theta: null, rms_norm_eps: null, tie_word_embeddings: null,
      bos_token_id: null, eos_token_id: null, rope_scaling: null, hidden_act: null, architectures: null,
    });
    expect(c).toEqual(parse(MINIMAL));
  });

  test('qwen2 and mistral infer their own architecture; qwen2 always has q/k/v biases', () => {
    expect(parse({ ...MINIMAL, model_type: 'qwen2' })).toMatchObject({ architecture: 'Qwen2ForCausalLM', attentionBias: true });
    expect(parse({ ...MINIMAL, model_type: 'mistral' })).toMatchObject({ architecture: 'MistralForCausalLM', attentionBias: false, slidingWindow: null });
  });

  test('gemma2: an absent sliding_window is Gemma2Config\'s 4096 on the even layers; null is no window', () => {
    const gemma2 = { ...MINIMAL, model_type: 'gemma2', num_hidden_layers: 4 };
    expect(parse(gemma2)).toMatchObject({ slidingWindow: 4096, slidingLayers: [true, false, true, false] });
    expect(parse({ ...gemma2, sliding_window: 512 }).slidingWindow).toBe(512);
    const none = parse({ ...gemma2, sliding_window: null });
    expect([none.slidingWindow, none.slidingLayers]).toEqual([null, undefined]);
  });

  test('head_dim may differ from hidden_size / heads', () => {
    expect(parse({ ...MINIMAL, head_dim: 128 }).headDim).toBe(128);
  });

  test('rope_scaling with rope_type "default" is no scaling; the legacy "type" key is read too', () => {
    expect(parse({ ...MINIMAL, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeNull();
    const legacy = { ...LLAMA_3_2_1B.rope_scaling, rope_type: undefined, type: 'llama3' };
    expect(parse({ ...LLAMA_3_2_1B, rope_scaling: legacy }).ropeScaling).toEqual(parse(LLAMA_3_2_1B).ropeScaling);
    const both = { ...LLAMA_3_2_1B.rope_scaling, type: 'llama3' };
    expect(parse({ ...LLAMA_3_2_1B, rope_scaling: both }).ropeScaling).toEqual(parse(LLAMA_3_2_1B).ropeScaling);
  });

  test('transformers 5 rope_parameters carry rope_theta and the scaling', () => {
    const v5 = edit(LLAMA_3_2_1B, {
      rope_theta: undefined, rope_scaling: undefined,
      rope_parameters: { ...LLAMA_3_2_1B.rope_scaling, rope_theta: 500000.0 },
    });
    expect(parse(v5)).toEqual(parse(LLAMA_3_2_1B));
    const plain = parse({ ...MINIMAL, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } });
    expect([plain.ropeTheta, plain.ropeScaling]).toEqual([1e6, null]);
    expect(parse({ ...MINIMAL, rope_theta: 5e5, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }).ropeTheta).toBe(5e5);
  });
});

describe('parseHfConfig refuses', () => {
  test('a config that is not an object', () => {
    for (const bad of [null, [], 'llama', 42]) {
      let caught: unknown;
      try { parse(bad); } catch (e) { caught = e; }
      expect(caught).toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: SRC });
      expect((caught as Error).message).toMatch(/config must be a JSON object/);
    }
  });

  test('missing required fields, naming all of them', () => {
    expectRefused(() => parse(edit(SMOLLM2_135M, { vocab_size: undefined })), 'vocab_size', /missing required field vocab_size$/);
    expectRefused(() => parse(edit(SMOLLM2_135M, { hidden_size: null })), 'hidden_size', /missing required field hidden_size/);
    expectRefused(() => parse(edit(SMOLLM2_135M, { model_type: undefined })), 'model_type', /missing required field model_type/);
    expectRefused(() => parse(edit(SMOLLM2_135M, { num_hidden_layers: undefined, intermediate_size: undefined, max_position_embeddings: undefined })),
      'num_hidden_layers', /missing required fields num_hidden_layers, intermediate_size, max_position_embeddings$/);
    expectRefused(() => parse({}), 'model_type',
      /missing required fields model_type, vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings/);
  });

  test('unsupported model types and architectures, naming the field', () => {
    expectRefused(() => parse({ ...SMOLLM2_135M, model_type: 'gemma' }), 'model_type', /model_type "gemma" is not supported \(supported: llama, mistral, qwen2, qwen3, smollm3, gemma2, gemma3_text, phi3, gpt2\)/);
    expectRefused(() => parse({ ...SMOLLM2_135M, model_type: 7 }), 'model_type', /model_type 7 is not supported/);
    expectRefused(() => parse({ ...SMOLLM2_135M, model_type: 'toString' }), 'model_type', /not supported/);
    expectRefused(() => parse({ ...SMOLLM2_135M, architectures: ['GPTNeoXForCausalLM'] }), 'architectures',
      /architecture "GPTNeoXForCausalLM" is not supported \(supported: .*GPT2LMHeadModel\)/);
    expectRefused(() => parse({ ...SMOLLM2_135M, architectures: ['GPT2LMHeadModel'] }), 'architectures', /does not match model_type "llama"/);
    expectRefused(() => parse({ ...SMOLLM2_135M, architectures: ['LlamaForSequenceClassification'] }), 'architectures', /not supported/);
    expectRefused(() => parse({ ...SMOLLM2_135M, architectures: ['Qwen2ForCausalLM'] }), 'architectures',
      /architecture "Qwen2ForCausalLM" does not match model_type "llama" \(expected LlamaForCausalLM\)/);
    expectRefused(() => parse({ ...QWEN2_0_5B, model_type: 'llama' }), 'architectures', /does not match/);
    expectRefused(() => parse({ ...SMOLLM2_135M, architectures: [] }), 'architectures', /non-empty array of strings/);
    expectRefused(() => parse({ ...SMOLLM2_135M, architectures: 'LlamaForCausalLM' }), 'architectures', /non-empty array of strings/);
  });

  test('an activation other than silu', () => {
    expectRefused(() => parse({ ...SMOLLM2_135M, hidden_act: 'gelu' }), 'hidden_act', /hidden_act must be "silu", got "gelu"/);
    expectRefused(() => parse({ ...SMOLLM2_135M, hidden_act: 'gelu_pytorch_tanh' }), 'hidden_act');
  });

  test('sizes that are not positive integers', () => {
    const fields = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
      'intermediate_size', 'max_position_embeddings', 'head_dim'];
    for (const field of fields) {
      for (const bad of [0, -3, 2.5, '64', true, Infinity, [64]]) {
        expectRefused(() => parse({ ...SMOLLM2_135M, [field]: bad }), field, new RegExp(field));
      }
    }
  });

  test('heads that do not divide', () => {
    expectRefused(() => parse({ ...SMOLLM2_135M, num_key_value_heads: 4 }), 'num_key_value_heads',
      /num_attention_heads \(9\) must be a multiple of num_key_value_heads \(4\)/);
    expectRefused(() => parse({ ...SMOLLM2_135M, hidden_size: 580 }), 'num_attention_heads',
      /hidden_size \(580\) must be a multiple of num_attention_heads \(9\) when head_dim is absent/);
    expect(parse({ ...SMOLLM2_135M, hidden_size: 580, head_dim: 64 }).headDim).toBe(64);
    expectRefused(() => parse({ ...SMOLLM2_135M, head_dim: 63 }), 'head_dim', /must be even for RoPE, got 63/);
    expectRefused(() => parse({ ...SMOLLM2_135M, hidden_size: 9 * 7, num_key_value_heads: 9 }), 'head_dim', /even/);
  });

  test('bad floats and booleans', () => {
    for (const bad of [0, -1e-5, '1e-5', NaN]) expectRefused(() => parse({ ...SMOLLM2_135M, rms_norm_eps: bad }), 'rms_norm_eps');
    for (const bad of [0, -1, 'big']) expectRefused(() => parse({ ...SMOLLM2_135M, rope_theta: bad }), 'rope_theta');
    expectRefused(() => parse({ ...SMOLLM2_135M, tie_word_embeddings: 'true' }), 'tie_word_embeddings', /must be true or false, got "true"/);
    expectRefused(() => parse({ ...SMOLLM2_135M, attention_bias: 0 }), 'attention_bias', /must be true or false/);
  });

  test('token ids outside the vocabulary', () => {
    expectRefused(() => parse({ ...SMOLLM2_135M, bos_token_id: 49152 }), 'bos_token_id', /bos_token_id must be in \[0, 49151\], got 49152/);
    expectRefused(() => parse({ ...SMOLLM2_135M, bos_token_id: -1 }), 'bos_token_id');
    expectRefused(() => parse({ ...SMOLLM2_135M, eos_token_id: [0, 1.5] }), 'eos_token_id', /integer/);
    expectRefused(() => parse({ ...SMOLLM2_135M, eos_token_id: '0' }), 'eos_token_id');
    expectRefused(() => parse({ ...LLAMA_3_2_1B, eos_token_id: [128001, 200000] }), 'eos_token_id', /200000/);
  });

  test('RoPE scaling other than llama3, and malformed llama3 parameters', () => {
    for (const type of ['linear', 'dynamic', 'yarn', 'longrope', 'su']) {
      expectRefused(() => parse({ ...SMOLLM2_135M, rope_scaling: { type, factor: 4 } }), 'rope_scaling',
        new RegExp(`RoPE scaling type "${type}" is not supported \\(only "llama3"\\)`));
      expectRefused(() => parse({ ...SMOLLM2_135M, rope_scaling: { rope_type: type, factor: 4 } }), 'rope_scaling', /not supported/);
    }
    expectRefused(() => parse({ ...SMOLLM2_135M, rope_scaling: { factor: 4 } }), 'rope_scaling', /type undefined is not supported/);
    expectRefused(() => parse({ ...SMOLLM2_135M, rope_scaling: 'llama3' }), 'rope_scaling', /must be an object or null/);
    expectRefused(() => parse({ ...SMOLLM2_135M, rope_scaling: { rope_type: 'llama3', type: 'linear' } }), 'rope_scaling',
      /rope_type "llama3" and type "linear"/);
    const s = LLAMA_3_2_1B.rope_scaling;
    expectRefused(() => parse({ ...LLAMA_3_2_1B, rope_scaling: edit(s, { factor: undefined }) }), 'rope_scaling.factor',
      /missing required field rope_scaling.factor/);
    expectRefused(() => parse({ ...LLAMA_3_2_1B, rope_scaling: edit(s, { original_max_position_embeddings: undefined }) }),
      'rope_scaling.original_max_position_embeddings');
    expectRefused(() => parse({ ...LLAMA_3_2_1B, rope_scaling: { ...s, factor: 0.5 } }), 'rope_scaling.factor', /must be in \[1, inf\)/);
    expectRefused(() => parse({ ...LLAMA_3_2_1B, rope_scaling: { ...s, low_freq_factor: 0 } }), 'rope_scaling.low_freq_factor');
    expectRefused(() => parse({ ...LLAMA_3_2_1B, rope_scaling: { ...s, high_freq_factor: 1 } }), 'rope_scaling.high_freq_factor',
      /high_freq_factor \(1\) must exceed low_freq_factor \(1\)/);
    expectRefused(() => parse({ ...LLAMA_3_2_1B, rope_scaling: { ...s, original_max_position_embeddings: 8192.5 } }),
      'rope_scaling.original_max_position_embeddings', /integer/);
    // The same checks inside transformers 5's rope_parameters.
    const v5 = (rope_parameters: unknown) => edit(SMOLLM2_135M, { rope_theta: undefined, rope_scaling: undefined, rope_parameters });
    expectRefused(() => parse(v5({ rope_type: 'yarn', rope_theta: 1e4 })), 'rope_parameters', /"yarn" is not supported/);
    expectRefused(() => parse(v5({ rope_type: 'llama3', rope_theta: 1e4 })), 'rope_parameters.factor');
    expectRefused(() => parse(v5({ rope_type: 'default', rope_theta: -1 })), 'rope_parameters.rope_theta');
    expectRefused(() => parse(v5([1])), 'rope_parameters', /must be an object/);
    expectRefused(() => parse({ ...SMOLLM2_135M, rope_theta: 1e4, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }), 'rope_theta',
      /rope_theta \(10000\) disagrees with rope_parameters.rope_theta \(1000000\)/);
  });

  test('features the model cannot run', () => {
    expectRefused(() => parse({ ...SMOLLM2_135M, mlp_bias: true }), 'mlp_bias', /mlp_bias: true is not supported/);
    // Qwen2's window is read as transformers 5 reads it (golden-architectures.test.ts): from max_window_layers (24 of 24 here) on.
    expect(parse({ ...QWEN2_0_5B, use_sliding_window: true }).slidingWindow).toBeNull();
    expect(parse({ ...QWEN2_0_5B, use_sliding_window: true, max_window_layers: 20 }).slidingLayers)
      .toEqual(Array.from({ length: 24 }, (_, i) => i >= 20));
    expectRefused(() => parse({ ...MISTRAL_7B_V01, sliding_window: 0 }), 'sliding_window');
  });
});

describe('readHfConfig', () => {
  let tmp: string;
  beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-hf-config-')); });
  afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

  async function rejection(p: Promise<unknown>): Promise<{ name?: string; code?: string; argument?: string; message: string }> {
    try {
      await p;
    } catch (e) {
      return e as { message: string };
    }
    throw new Error('expected a rejection');
  }

  test('reads dir/config.json', async () => {
    fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(QWEN2_0_5B, null, 2));
    expect(await readHfConfig(tmp)).toEqual(parse(QWEN2_0_5B));
  });

  test('errors in the file name the file', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'bad-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ ...SMOLLM2_135M, hidden_act: 'relu' }));
    const e = await rejection(readHfConfig(dir));
    expect(e).toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'hidden_act' });
    expect(e.message).toContain(file);
  });

  test('a corrupt or missing config.json is an error naming the file', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'corrupt-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, '{"model_type": "llama", ');
    const corrupt = await rejection(readHfConfig(dir));
    expect(corrupt).toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: file });
    expect(corrupt.message).toMatch(/is not valid JSON/);
    fs.rmSync(file);
    const missing = await rejection(readHfConfig(dir));
    expect(missing).toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: file });
    expect(missing.message).toMatch(/cannot read/);
  });
});
