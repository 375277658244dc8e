// Hugging Face config.json for the Llama family (Llama, Mistral, Qwen2, Qwen3, SmolLM3, Gemma 2 / 3, Phi-3) and GPT-2: the architecture
// hyperparameters a converted model needs, validated up front so that a checkpoint we cannot run
// correctly is refused by name instead of producing wrong tokens later. Defaults are
// transformers' own for each config class. Browser-safe: hf-config-file.ts reads the file in Node.
import { EntropixError } from '../core/errors';
import { describe, isObject, requireNumber, NumberRule } from '../core/validate';

export type HfModelType = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'smollm3' | 'gemma2' | 'gemma3_text' | 'phi3' | 'gpt2';

/** The architecture each supported model_type must declare. */
export const HF_ARCHITECTURES: Readonly<Record<HfModelType, string>> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  smollm3: 'SmolLM3ForCausalLM',
  gemma2: 'Gemma2ForCausalLM',
  gemma3_text: 'Gemma3ForCausalLM',
  phi3: 'Phi3ForCausalLM',
  gpt2: 'GPT2LMHeadModel',
};

/** Llama 3.1's frequency-dependent RoPE scaling (rope_type "llama3"). */
export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  /** original_max_position_embeddings: the context the unscaled RoPE was trained for. */
  originalMaxPositions: number;
}

/** Linear RoPE scaling (rope_type "linear"): every frequency divided by `factor` (Gemma 3's global layers). */
export interface LinearRopeScaling {
  type: 'linear';
  factor: number;
}

export interface ModelConfig {
  architecture: string;
  modelType: HfModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  ropeTheta: number;
  /** The norms' epsilon (GPT-2: layer_norm_epsilon of its LayerNorms). */
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (always for qwen2; llama's attention_bias). */
  attentionBias: boolean;
  /** o_proj has a bias too: llama's attention_bias covers it, qwen2's biases do not. */
  attentionOutputBias: boolean;
  bosTokenId: number | null;
  /** eos_token_id as a list (empty when absent). */
  eosTokenIds: number[];
  /** Gemma 3: the global (full_attention) layers' scaling; the sliding ones have none. */
  ropeScaling: Llama3RopeScaling | LinearRopeScaling | null;
  /** Gemma 3: the rope base of the sliding layers (rope_local_base_freq); ropeTheta is the global layers'. */
  ropeLocalTheta?: number;
  /** Phi-3: the checkpoint holds q/k/v as one qkv_proj and gate/up as one gate_up_proj, in the forward's order. */
  fusedProjections?: boolean;
  /** Prefixed to every checkpoint tensor name: Gemma3ForConditionalGeneration's text decoder is under "language_model.". */
  weightPrefix?: string;
  /** Mistral's, Phi-3's, Gemma 2/3's, Qwen2/3's sliding_window (keys attended per query); null: full attention. */
  slidingWindow: number | null;
  /** Qwen3: q and k are RMS-normalised per head (q_norm, k_norm over head_dim) before the rotary. */
  qkNorm?: boolean;
  /** SmolLM3's no_rope_layers: per layer, false where the layer applies no rotary (absent: every layer does). */
  ropeLayers?: boolean[];
  /** Per layer: true where slidingWindow applies (Gemma 2's, Qwen2/3's layer_types); absent: every layer when slidingWindow is set. */
  slidingLayers?: boolean[];
  /** Gemma 2's and Gemma 3's decoder: the differences from Llama's. */
  gemma?: GemmaOptions;
  /** GPT-2's decoder: the differences from Llama's. */
  gpt2?: Gpt2Options;
}

/**
 * GPT-2: LayerNorms with bias (eps layer_norm_epsilon), learned absolute positions (wpe) instead
 * of rotary, a plain MLP (c_fc → gelu_new → c_proj, with biases), Conv1D weights stored [in, out].
 */
export interface Gpt2Options {
  /**
   * Per layer, what q·k is multiplied by: head_dim^−½ (1 without scale_attn_weights), divided by
   * layer index + 1 with scale_attn_by_inverse_layer_idx.
   */
  attentionScales: number[];
}

export interface GemmaOptions {
  /** Embeddings times √hidden_size. */
  embedScale: number;
  /** q·k times query_pre_attn_scalar^−½ (instead of head_dim^−½). */
  attentionScale: number;
  /** attn_logit_softcapping / final_logit_softcapping: cap·tanh(x / cap), or null. */
  attentionSoftcap: number | null;
  finalSoftcap: number | null;
}

const REQUIRED = [
  'model_type', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
  'intermediate_size', 'max_position_embeddings',
] as const;
/** GPT2Config's own names for the sizes. */
const GPT2_REQUIRED = ['model_type', 'vocab_size', 'n_embd', 'n_layer', 'n_head', 'n_positions'] as const;

/**
 * Upper bounds on counts and sizes: about 4× the largest real models (vocabulary 262k, 126
 * layers, 128 heads, hidden 16k / 53k, head_dim 256, 10M positions), so every real config passes
 * and a hostile one (num_hidden_layers: 1e9) is refused before anything is built from it.
 */
export const CONFIG_LIMITS = {
  vocab_size: 4 * 262_144,
  hidden_size: 65_536,
  num_hidden_layers: 512,
  num_attention_heads: 512,
  head_dim: 1024,
  intermediate_size: 262_144,
  max_position_embeddings: 40_000_000,
} as const;

/**
 * Validates a parsed config.json. `source` names where it came from in error messages; each
 * error's `argument` is the offending field as spelled in the file (e.g. "hidden_act").
 */
export function parseHfConfig(json: unknown, source: string): ModelConfig {
  if (!isObject(json)) {
    throw new EntropixError('INVALID_ARGUMENT', `${source}: config must be a JSON object, got ${describe(json)}`, source);
  }
  const c = new Fields(json, source);
  const modelType = c.get('model_type');
  // The multimodal Gemma 3 (4B and up) keeps its decoder's fields under text_config.
  if (modelType === 'gemma3') return parseGemma3Multimodal(c);
  const missing = (modelType === 'gpt2' ? GPT2_REQUIRED : REQUIRED).filter((k) => c.get(k) === undefined);
  if (missing.length > 0) throw c.fail(missing[0]!, `missing required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);

  if (typeof modelType !== 'string' || !Object.prototype.hasOwnProperty.call(HF_ARCHITECTURES, modelType)) {
    throw c.fail('model_type', `model_type ${describe(modelType)} is not supported (supported: ${Object.keys(HF_ARCHITECTURES).join(', ')})`);
  }
  const type = modelType as HfModelType;
  const architecture = parseArchitecture(c, type);
  if (type === 'gpt2') return parseGpt2(c, architecture);

  const gemma = type === 'gemma2' || type === 'gemma3_text';
  if (gemma) {
    // Gemma 2 and 3 read hidden_activation; the tanh-approximated GELU is the one its checkpoints use.
    const act = c.get('hidden_activation') ?? 'gelu_pytorch_tanh';
    if (act !== 'gelu_pytorch_tanh') throw c.fail('hidden_activation', `hidden_activation must be "gelu_pytorch_tanh", got ${describe(act)}`);
  } else {
    const act = c.get('hidden_act') ?? 'silu';
    if (act !== 'silu') throw c.fail('hidden_act', `hidden_act must be "silu", got ${describe(act)}`);
  }

  const vocabSize = c.int('vocab_size', undefined, CONFIG_LIMITS.vocab_size);
  const hiddenSize = c.int('hidden_size', undefined, CONFIG_LIMITS.hidden_size);
  const numLayers = c.int('num_hidden_layers', undefined, CONFIG_LIMITS.num_hidden_layers);
  const numHeads = c.int('num_attention_heads', undefined, CONFIG_LIMITS.num_attention_heads);
  const numKvHeads = c.int('num_key_value_heads', numHeads, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw c.fail('num_key_value_heads', `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  let headDim: number;
  if ((type === 'qwen3' || gemma) && c.get('head_dim') === undefined) {
    headDim = type === 'qwen3' ? 128 : 256; // the config class's own default, not hidden_size / heads
  } else if (c.get('head_dim') !== undefined) {
    headDim = c.int('head_dim', undefined, CONFIG_LIMITS.head_dim); // may differ from hidden_size / heads; the projections say so
  } else {
    if (hiddenSize % numHeads !== 0) {
      throw c.fail('num_attention_heads', `hidden_size (${hiddenSize}) must be a multiple of num_attention_heads (${numHeads}) when head_dim is absent`);
    }
    headDim = hiddenSize / numHeads;
  }
  // RoPE rotates pairs of dimensions.
  if (headDim % 2 !== 0) throw c.fail('head_dim', `the head dimension must be even for RoPE, got ${headDim}`);

  if (type === 'phi3') checkPhi3Rope(c);
  const rope = type === 'gemma3_text' ? parseGemma3Rope(c) : { ...parseRope(c), localTheta: undefined };
  // The bias layout is fixed by the architecture in transformers: qwen2 always has q/k/v biases
  // and no o_proj bias; mistral has none (an attention_bias key there is ignored, as transformers
  // ignores it); llama has all four or none.
  let attentionBias = type === 'qwen2';
  let attentionOutputBias = false;
  if (type === 'llama' || type === 'qwen3' || type === 'smollm3' || gemma) {
    attentionBias = attentionOutputBias = c.bool('attention_bias', false);
    if (type !== 'qwen3' && c.bool('mlp_bias', false)) throw c.fail('mlp_bias', 'mlp_bias: true is not supported');
  }
  let slidingWindow: number | null = null;
  if ((type === 'mistral' || type === 'phi3') && c.get('sliding_window') !== undefined) {
    // Phi-3 slides every layer when sliding_window is set (Phi-3-mini: 2047), as Mistral does.
    slidingWindow = c.int('sliding_window', undefined, CONFIG_LIMITS.max_position_embeddings);
  }
  let slidingLayers: boolean[] | undefined;
  if (type === 'gemma2') {
    // Gemma2Config's sliding_window defaults to 4096 when absent; null in the file is no window.
    slidingWindow = c.raw.sliding_window === null ? null : c.int('sliding_window', 4096, CONFIG_LIMITS.max_position_embeddings);
    slidingLayers = parseLayerTypes(c, numLayers, everyNthGlobal(2));
    if (slidingWindow === null) slidingLayers = undefined;
  }
  if (type === 'qwen2' || type === 'qwen3') ({ slidingWindow, slidingLayers } = parseQwenWindow(c, numLayers));
  if (type === 'gemma3_text') {
    // Gemma3TextConfig's sliding_window defaults to 4096; null is refused (transformers' cache cannot take it either).
    if (Object.prototype.hasOwnProperty.call(c.raw, 'sliding_window') && c.get('sliding_window') === undefined) {
      throw c.fail('sliding_window', 'sliding_window: null is not supported for Gemma 3 (its sliding layers need a window)');
    }
    slidingWindow = c.int('sliding_window', 4096, CONFIG_LIMITS.max_position_embeddings);
    slidingLayers = parseLayerTypes(c, numLayers, everyNthGlobal(gemma3Pattern(c)));
  }
  if (type !== 'llama' && type !== 'mistral' && type !== 'phi3' && !gemma && type !== 'qwen2' && type !== 'qwen3' && c.bool('use_sliding_window', false)) {
    throw c.fail('use_sliding_window', 'use_sliding_window: true (sliding-window attention on some layers) is not supported');
  }

  return {
    architecture,
    modelType: type,
    vocabSize,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: c.int('intermediate_size', undefined, CONFIG_LIMITS.intermediate_size),
    maxPositions: c.int('max_position_embeddings', undefined, CONFIG_LIMITS.max_position_embeddings),
    ropeTheta: rope.theta,
    rmsNormEps: c.num('rms_norm_eps', 1e-6, { min: 0, minExclusive: true }),
    tieWordEmbeddings: c.bool('tie_word_embeddings', false),
    attentionBias,
    attentionOutputBias,
    bosTokenId: c.get('bos_token_id') === undefined ? null : c.tokenId('bos_token_id', c.get('bos_token_id'), vocabSize),
    eosTokenIds: parseEos(c, vocabSize),
    ropeScaling: rope.scaling,
    slidingWindow,
    ...(type === 'qwen3' || type === 'gemma3_text' ? { qkNorm: true } : {}),
    ...(rope.localTheta !== undefined ? { ropeLocalTheta: rope.localTheta } : {}),
    ...(type === 'phi3' ? { fusedProjections: true } : {}),
    ...(type === 'smollm3' ? { ropeLayers: parseNoRopeLayers(c, numLayers) } : {}),
    ...(slidingLayers ? { slidingLayers } : {}),
    ...(gemma ? { gemma: parseGemma(c, hiddenSize, type) } : {}),
  };
}

/**
 * GPT2Config (its own names: n_embd, n_layer, n_head, n_inner, n_positions): every head a kv head,
 * q/k/v and c_proj with biases, the head tied to wte unless tie_word_embeddings is false.
 */
function parseGpt2(c: Fields, architecture: string): ModelConfig {
  const act = c.get('activation_function') ?? 'gelu_new';
  // gelu_new and gelu_pytorch_tanh are one function: GELU's tanh approximation.
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw c.fail('activation_function', `activation_function must be "gelu_new" (or "gelu_pytorch_tanh"), got ${describe(act)}`);
  }
  if (c.bool('add_cross_attention', false)) throw c.fail('add_cross_attention', 'add_cross_attention: true is not supported');
  const vocabSize = c.int('vocab_size', undefined, CONFIG_LIMITS.vocab_size);
  const hiddenSize = c.int('n_embd', undefined, CONFIG_LIMITS.hidden_size);
  const numLayers = c.int('n_layer', undefined, CONFIG_LIMITS.num_hidden_layers);
  const numHeads = c.int('n_head', undefined, CONFIG_LIMITS.num_attention_heads);
  if (hiddenSize % numHeads !== 0) throw c.fail('n_head', `n_embd (${hiddenSize}) must be a multiple of n_head (${numHeads})`);
  const headDim = hiddenSize / numHeads;
  if (headDim > CONFIG_LIMITS.head_dim) throw c.fail('n_head', `n_embd / n_head (${headDim}) exceeds ${CONFIG_LIMITS.head_dim}`);
  // reorder_and_upcast_attn only reorders and upcasts to float32 what is float32 here already.
  c.bool('reorder_and_upcast_attn', false);
  const base = c.bool('scale_attn_weights', true) ? 1 / Math.sqrt(headDim) : 1;
  const byLayer = c.bool('scale_attn_by_inverse_layer_idx', false);
  return {
    architecture,
    modelType: 'gpt2',
    vocabSize,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads: numHeads,
    headDim,
    intermediateSize: c.int('n_inner', 4 * hiddenSize, CONFIG_LIMITS.intermediate_size),
    maxPositions: c.int('n_positions', undefined, CONFIG_LIMITS.max_position_embeddings),
    ropeTheta: 10000, // unused: GPT-2 has no rotary
    rmsNormEps: c.num('layer_norm_epsilon', 1e-5, { min: 0, minExclusive: true }),
    tieWordEmbeddings: c.bool('tie_word_embeddings', true),
    attentionBias: true,
    attentionOutputBias: true,
    bosTokenId: c.get('bos_token_id') === undefined ? null : c.tokenId('bos_token_id', c.get('bos_token_id'), vocabSize),
    eosTokenIds: parseEos(c, vocabSize),
    ropeScaling: null,
    slidingWindow: null,
    gpt2: { attentionScales: Array.from({ length: numLayers }, (_, i) => (byLayer ? base / (i + 1) : base)) },
  };
}

/** layer_types ("sliding_attention" / "full_attention") as booleans per layer; absent: `byDefault(i)` (Gemma 2: the even layers). */
function parseLayerTypes(c: Fields, numLayers: number, byDefault: (layer: number) => boolean): boolean[] {
  const list = c.get('layer_types');
  if (list === undefined) return Array.from({ length: numLayers }, (_, i) => byDefault(i));
  if (!Array.isArray(list) || list.length !== numLayers || !list.every((x) => x === 'sliding_attention' || x === 'full_attention')) {
    throw c.fail('layer_types', `layer_types must give "sliding_attention" or "full_attention" for each of the ${numLayers} layers, got ${JSON.stringify(list)?.slice(0, 200)}`);
  }
  return list.map((x) => x === 'sliding_attention');
}

/** Gemma's default layer pattern: every `pattern`-th layer is global, the others slide (Gemma 2: 2; Gemma 3: sliding_window_pattern). */
function everyNthGlobal(pattern: number): (layer: number) => boolean {
  return (i) => (i + 1) % pattern !== 0;
}

/**
 * Qwen2's and Qwen3's window, as transformers 5 reads their configs: sliding_window (default 4096)
 * counts only with use_sliding_window; layer_types says which layers slide, and without it the layers from
 * max_window_layers (default 28) on do. A layer_types that slides with no window is refused
 * (transformers fails on it). Every layer sliding is Mistral's case (no slidingLayers); none, no window.
 */
function parseQwenWindow(c: Fields, numLayers: number): { slidingWindow: number | null; slidingLayers?: boolean[] } {
  // sliding_window: null is none; absent, the config class's 4096.
  const window = c.bool('use_sliding_window', false) && c.raw.sliding_window !== null
    ? c.int('sliding_window', 4096, CONFIG_LIMITS.max_position_embeddings) : null;
  const from = c.num('max_window_layers', 28, { min: 0, integer: true });
  const layers = parseLayerTypes(c, numLayers, (i) => window !== null && i >= from);
  if (window === null && layers.some(Boolean)) {
    throw c.fail('layer_types', 'layer_types has "sliding_attention" layers but no window (use_sliding_window is false or sliding_window is null)');
  }
  if (window === null || !layers.some(Boolean)) return { slidingWindow: null };
  return layers.every(Boolean) ? { slidingWindow: window } : { slidingWindow: window, slidingLayers: layers };
}

/**
 * Gemma's options, with each config class's soft-cap defaults (Gemma 2: 50 and 30; Gemma 3: none).
 * Gemma 3 keeps attn_logit_softcapping in its config but transformers' Gemma3Attention never
 * applies it (Gemma 3 replaced Gemma 2's soft-capping with the q/k norms): it is checked and ignored, as there.
 */
function parseGemma(c: Fields, hiddenSize: number, type: 'gemma2' | 'gemma3_text'): GemmaOptions {
  if (c.get('use_bidirectional_attention') === true) throw c.fail('use_bidirectional_attention', 'use_bidirectional_attention: true is not supported');
  const gemma2 = type === 'gemma2';
  // null in the file: no cap; absent: the class's default.
  const cap = (key: string, fallback: number | null) => (c.get(key) === undefined && (fallback === null || Object.prototype.hasOwnProperty.call(c.raw, key))
    ? null : c.num(key, fallback ?? undefined, { min: 0, minExclusive: true }));
  const attentionCap = cap('attn_logit_softcapping', gemma2 ? 50 : null); // checked for both
  return {
    embedScale: Math.sqrt(hiddenSize),
    attentionScale: 1 / Math.sqrt(c.num('query_pre_attn_scalar', 256, { min: 0, minExclusive: true })),
    attentionSoftcap: gemma2 ? attentionCap : null,
    finalSoftcap: cap('final_logit_softcapping', gemma2 ? 30 : null),
  };
}

/**
 * Gemma3TextConfig's defaults for the fields REQUIRED lists: a Gemma3ForConditionalGeneration's
 * text_config may leave them out (gemma-3-4b-it's writes six fields), and transformers fills them in.
 */
const GEMMA3_TEXT_DEFAULTS = {
  vocab_size: 262_208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8,
  num_key_value_heads: 4, max_position_embeddings: 131_072,
} as const;

/**
 * Gemma3ForConditionalGeneration (model_type "gemma3") run on text: its text_config is a Gemma 3
 * text decoder whose tensors are named language_model.model.* and language_model.lm_head.weight;
 * the vision tower and projector are not read (an image token then reads its own embedding row,
 * as transformers does for an image token without an image). The head is tied by the top-level
 * tie_word_embeddings (default true), as transformers ties it; text_config's is not read. A
 * top-level eos_token_id wins over text_config's.
 */
function parseGemma3Multimodal(c: Fields): ModelConfig {
  const archs = c.get('architectures');
  const expected = 'Gemma3ForConditionalGeneration';
  if (archs !== undefined && !(Array.isArray(archs) && archs.length > 0 && archs[0] === expected)) {
    throw c.fail('architectures', `architectures must be ["${expected}"] for model_type "gemma3", got ${JSON.stringify(archs)?.slice(0, 200)}`);
  }
  const text = c.get('text_config');
  if (!isObject(text)) throw c.fail('text_config', `text_config must be an object (the text decoder's config), got ${describe(text)}`);
  if (text.model_type !== undefined && text.model_type !== null && text.model_type !== 'gemma3_text') {
    throw c.fail('text_config', `text_config.model_type must be "gemma3_text", got ${describe(text.model_type)}`);
  }
  let inner: ModelConfig;
  try {
    inner = parseHfConfig({
      ...GEMMA3_TEXT_DEFAULTS, ...text, model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'],
      tie_word_embeddings: c.bool('tie_word_embeddings', true),
      // gemma-3-4b-it gives its eos ids ([1, 106]) at the top level only.
      ...(c.get('eos_token_id') !== undefined ? { eos_token_id: c.get('eos_token_id') } : {}),
    }, `${c.source} (text_config)`);
  } catch (e) {
    if (!(e instanceof EntropixError)) throw e;
    throw new EntropixError(e.code, e.message, e.argument === undefined ? 'text_config' : `text_config.${e.argument}`);
  }
  return { ...inner, architecture: expected, weightPrefix: 'language_model.' };
}

/** Gemma 3's sliding_window_pattern (transformers 5 also writes it as _sliding_window_pattern): every n-th layer is global. */
function gemma3Pattern(c: Fields): number {
  const key = c.get('sliding_window_pattern') === undefined && c.get('_sliding_window_pattern') !== undefined ? '_sliding_window_pattern' : 'sliding_window_pattern';
  return c.int(key, 6, CONFIG_LIMITS.num_hidden_layers);
}

/**
 * Gemma 3's two rotaries: rope_parameters by layer type ({ full_attention, sliding_attention },
 * transformers 5), or rope_theta (global, default 1e6), rope_local_base_freq (sliding, default
 * 1e4) and rope_scaling (the global layers'). The global layers may scale (linear or llama3); the
 * sliding ones may not.
 */
function parseGemma3Rope(c: Fields): { theta: number; scaling: Llama3RopeScaling | LinearRopeScaling | null; localTheta: number } {
  const params = c.get('rope_parameters');
  const topTheta = c.num('rope_theta', 1e6, { min: 0, minExclusive: true });
  const topLocal = c.num('rope_local_base_freq', 1e4, { min: 0, minExclusive: true });
  if (params === undefined) {
    return { theta: topTheta, scaling: parseRopeScaling(c, 'rope_scaling', c.get('rope_scaling'), true), localTheta: topLocal };
  }
  if (!isObject(params) || !('full_attention' in params || 'sliding_attention' in params)) {
    throw c.fail('rope_parameters', `rope_parameters must be an object by layer type (full_attention, sliding_attention), got ${JSON.stringify(params)?.slice(0, 200)}`);
  }
  if (c.get('rope_scaling') !== undefined) throw c.fail('rope_scaling', 'rope_scaling and rope_parameters are both given; give one');
  const entry = (key: 'full_attention' | 'sliding_attention', fallbackTheta: number) => {
    const value = params[key];
    if (value === undefined || value === null) return { theta: fallbackTheta, scaling: null };
    if (!isObject(value)) throw c.fail(`rope_parameters.${key}`, `rope_parameters.${key} must be an object, got ${describe(value)}`);
    const inner = new Fields(value, c.source, `rope_parameters.${key}.`);
    // An entry without a rope_type is "default", as transformers fills it in.
    const typed = value.rope_type != null || value.type != null;
    return {
      theta: inner.num('rope_theta', fallbackTheta, { min: 0, minExclusive: true }),
      scaling: typed ? parseRopeScaling(c, `rope_parameters.${key}`, value, true) : null,
    };
  };
  const full = entry('full_attention', topTheta);
  const sliding = entry('sliding_attention', topLocal);
  if (sliding.scaling) throw c.fail('rope_parameters.sliding_attention', 'rope_parameters.sliding_attention: RoPE scaling on the sliding layers is not supported');
  return { theta: full.theta, scaling: full.scaling, localTheta: sliding.theta };
}

/**
 * Phi-3 without longrope: the scaling of its 128k-context models ("longrope", written "su" or
 * "yarn" in older files; transformers' Phi3 knows no other) and a partial rotary are refused by name.
 */
function checkPhi3Rope(c: Fields): void {
  const params = c.get('rope_parameters');
  const field = params === undefined ? 'rope_scaling' : 'rope_parameters';
  const value = params ?? c.get('rope_scaling');
  const kind = isObject(value) ? value.rope_type ?? value.type : undefined;
  if (kind != null && kind !== 'default') {
    throw c.fail(field, `${field}: Phi-3's RoPE scaling ${describe(kind)} (longrope, the 128k-context models) is not supported; `
      + 'only Phi-3 without rope scaling (e.g. Phi-3-mini-4k)');
  }
  const inner = isObject(params) ? new Fields(params, c.source, 'rope_parameters.') : null;
  const partial = inner?.get('partial_rotary_factor') !== undefined ? 'rope_parameters.partial_rotary_factor' : 'partial_rotary_factor';
  const factor = inner?.get('partial_rotary_factor') ?? c.get('partial_rotary_factor') ?? 1;
  if (factor !== 1) throw new EntropixError('INVALID_ARGUMENT', `${c.source}: ${partial} ${describe(factor)} is not supported (only 1: rotary on the whole head)`, partial);
}

/**
 * SmolLM3's no_rope_layers (1: the layer applies the rotary, 0: it does not), or transformers'
 * default from no_rope_layer_interval (every interval-th layer without): as booleans per layer.
 */
function parseNoRopeLayers(c: Fields, numLayers: number): boolean[] {
  const list = c.get('no_rope_layers');
  if (list === undefined) {
    const interval = c.int('no_rope_layer_interval', 4, CONFIG_LIMITS.num_hidden_layers);
    return Array.from({ length: numLayers }, (_, i) => (i + 1) % interval !== 0);
  }
  if (!Array.isArray(list) || list.length !== numLayers || !list.every((x) => x === 0 || x === 1 || typeof x === 'boolean')) {
    throw c.fail('no_rope_layers', `no_rope_layers must list 0 or 1 for each of the ${numLayers} layers, got ${JSON.stringify(list)?.slice(0, 200)}`);
  }
  return list.map((x) => x === 1 || x === true);
}

function parseArchitecture(c: Fields, type: HfModelType): string {
  const expected = HF_ARCHITECTURES[type];
  const archs = c.get('architectures');
  if (archs === undefined) return expected; // some hand-written configs omit it; model_type decides
  if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === 'string')) {
    throw c.fail('architectures', `architectures must be a non-empty array of strings, got ${JSON.stringify(archs)}`);
  }
  const arch = archs[0] as string;
  if (!Object.values(HF_ARCHITECTURES).includes(arch)) {
    throw c.fail('architectures', `architecture ${JSON.stringify(arch)} is not supported (supported: ${Object.values(HF_ARCHITECTURES).join(', ')})`);
  }
  if (arch !== expected) {
    throw c.fail('architectures', `architecture ${JSON.stringify(arch)} does not match model_type "${type}" (expected ${expected})`);
  }
  return arch;
}

/**
 * rope_theta and rope_scaling, or transformers 5's rope_parameters (which holds both; it wins,
 * and a top-level rope_theta that disagrees with it is refused).
 */
function parseRope(c: Fields): { theta: number; scaling: Llama3RopeScaling | null } {
  const params = c.get('rope_parameters');
  if (params === undefined) {
    return { theta: c.num('rope_theta', 10000, { min: 0, minExclusive: true }), scaling: parseRopeScaling(c, 'rope_scaling', c.get('rope_scaling')) as Llama3RopeScaling | null };
  }
  if (!isObject(params)) throw c.fail('rope_parameters', `rope_parameters must be an object, got ${describe(params)}`);
  const inner = new Fields(params, c.source, 'rope_parameters.');
  const theta = inner.num('rope_theta', 10000, { min: 0, minExclusive: true });
  const top = c.get('rope_theta');
  if (top !== undefined && top !== theta) {
    throw c.fail('rope_theta', `rope_theta (${describe(top)}) disagrees with rope_parameters.rope_theta (${theta})`);
  }
  return { theta, scaling: parseRopeScaling(c, 'rope_parameters', params) as Llama3RopeScaling | null };
}

/** `linear`: also accept rope_type "linear" (Gemma 3's global layers). */
function parseRopeScaling(c: Fields, field: string, value: unknown, linear = false): Llama3RopeScaling | LinearRopeScaling | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw c.fail(field, `${field} must be an object or null, got ${describe(value)}`);
  // transformers renamed "type" to "rope_type"; files have either, or both.
  const { rope_type: ropeType, type: legacyType } = value;
  if (ropeType != null && legacyType != null && ropeType !== legacyType) {
    throw c.fail(field, `${field} has rope_type ${describe(ropeType)} and type ${describe(legacyType)}`);
  }
  const kind = ropeType ?? legacyType;
  if (kind === 'default') return null;
  const s = new Fields(value, c.source, `${field}.`);
  if (linear && kind === 'linear') return { type: 'linear', factor: s.num('factor', undefined, { min: 0, minExclusive: true }) };
  if (kind !== 'llama3') {
    throw c.fail(field, `${field}: RoPE scaling type ${describe(kind)} is not supported (only "llama3"${linear ? ' and "linear"' : ''})`);
  }
  const factor = s.num('factor', undefined, { min: 1 });
  const lowFreqFactor = s.num('low_freq_factor', undefined, { min: 0, minExclusive: true });
  const highFreqFactor = s.num('high_freq_factor', undefined, { min: 0, minExclusive: true });
  // The smooth band between the two wavelength limits divides by their difference.
  if (!(highFreqFactor > lowFreqFactor)) {
    throw s.fail('high_freq_factor', `${field}.high_freq_factor (${highFreqFactor}) must exceed low_freq_factor (${lowFreqFactor})`);
  }
  const originalMaxPositions = s.int('original_max_position_embeddings', undefined, CONFIG_LIMITS.max_position_embeddings);
  return { type: 'llama3', factor, lowFreqFactor, highFreqFactor, originalMaxPositions };
}

function parseEos(c: Fields, vocabSize: number): number[] {
  const eos = c.get('eos_token_id');
  if (eos === undefined) return [];
  if (Array.isArray(eos)) return eos.map((id) => c.tokenId('eos_token_id', id, vocabSize));
  return [c.tokenId('eos_token_id', eos, vocabSize)];
}

/** Field access on one JSON object, with errors that name the source and the field. */
class Fields {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly source: string,
    private readonly prefix = '',
  ) {}

  /** The field's value; null counts as absent (transformers writes null for "use the default"). */
  get(key: string): unknown {
    const v = Object.prototype.hasOwnProperty.call(this.raw, key) ? this.raw[key] : undefined;
    return v === null ? undefined : v;
  }

  fail(key: string, message: string): EntropixError {
    return new EntropixError('INVALID_ARGUMENT', `${this.source}: ${message}`, this.prefix + key);
  }

  num(key: string, fallback: number | undefined, rule: NumberRule = {}): number {
    const v = this.get(key);
    if (v === undefined) {
      if (fallback === undefined) throw this.fail(key, `missing required field ${this.prefix + key}`);
      return fallback;
    }
    try {
      return requireNumber(v, this.prefix + key, rule);
    } catch (e) {
      throw this.fail(key, (e as Error).message);
    }
  }

  /** A positive integer, at most `max`. */
  int(key: string, fallback?: number, max?: number): number {
    return this.num(key, fallback, max === undefined ? { min: 1, integer: true } : { min: 1, max, integer: true });
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw this.fail(key, `${this.prefix + key} must be true or false, got ${describe(v)}`);
    return v;
  }

  tokenId(key: string, v: unknown, vocabSize: number): number {
    try {
      return requireNumber(v, key, { min: 0, max: vocabSize - 1, integer: true });
    } catch (e) {
      throw this.fail(key, `${(e as Error).message} (a token id below vocab_size ${vocabSize})`);
    }
  }
}
