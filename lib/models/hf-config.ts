// Hugging Face config.json for the Llama family (Llama, Mistral, Qwen2, Qwen3, SmolLM3, Gemma 2) and GPT-2: the architecture
// hyperparameters a converted model needs, validated up front so that a checkpoint we cannot run
// correctly is refused by name instead of producing wrong tokens later. Defaults are
// transformers' own for each config class. Browser-safe: hf-config-file.ts reads the file in Node.
import { EntropixError } from '../core/errors';
import { describe, isObject, requireNumber, NumberRule } from '../core/validate';

export type HfModelType = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'smollm3' | 'gemma2' | 'gpt2';

/** The architecture each supported model_type must declare. */
export const HF_ARCHITECTURES: Readonly<Record<HfModelType, string>> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  smollm3: 'SmolLM3ForCausalLM',
  gemma2: 'Gemma2ForCausalLM',
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
  ropeScaling: Llama3RopeScaling | null;
  /** Mistral's, Gemma 2's, Qwen2/3's sliding_window (keys attended per query); null: full attention. */
  slidingWindow: number | null;
  /** Qwen3: q and k are RMS-normalised per head (q_norm, k_norm over head_dim) before the rotary. */
  qkNorm?: boolean;
  /** SmolLM3's no_rope_layers: per layer, false where the layer applies no rotary (absent: every layer does). */
  ropeLayers?: boolean[];
  /** Per layer: true where slidingWindow applies (Gemma 2's, Qwen2/3's layer_types); absent: every layer when slidingWindow is set. */
  slidingLayers?: boolean[];
  /** Gemma 2's decoder: the differences from Llama's. */
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
  const missing = (c.get('model_type') === 'gpt2' ? GPT2_REQUIRED : REQUIRED).filter((k) => c.get(k) === undefined);
  if (missing.length > 0) throw c.fail(missing[0]!, `missing required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);

  const modelType = c.get('model_type');
  if (typeof modelType !== 'string' || !Object.prototype.hasOwnProperty.call(HF_ARCHITECTURES, modelType)) {
    throw c.fail('model_type', `model_type ${describe(modelType)} is not supported (supported: ${Object.keys(HF_ARCHITECTURES).join(', ')})`);
  }
  const type = modelType as HfModelType;
  const architecture = parseArchitecture(c, type);
  if (type === 'gpt2') return parseGpt2(c, architecture);

  if (type === 'gemma2') {
    // Gemma 2 reads hidden_activation; the tanh-approximated GELU is the one its checkpoints use.
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
  if ((type === 'qwen3' || type === 'gemma2') && c.get('head_dim') === undefined) {
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

  const rope = parseRope(c);
  // The bias layout is fixed by the architecture in transformers: qwen2 always has q/k/v biases
  // and no o_proj bias; mistral has none (an attention_bias key there is ignored, as transformers
  // ignores it); llama has all four or none.
  let attentionBias = type === 'qwen2';
  let attentionOutputBias = false;
  if (type === 'llama' || type === 'qwen3' || type === 'smollm3' || type === 'gemma2') {
    attentionBias = attentionOutputBias = c.bool('attention_bias', false);
    if (type !== 'qwen3' && c.bool('mlp_bias', false)) throw c.fail('mlp_bias', 'mlp_bias: true is not supported');
  }
  let slidingWindow: number | null = null;
  if (type === 'mistral' && c.get('sliding_window') !== undefined) {
    slidingWindow = c.int('sliding_window', undefined, CONFIG_LIMITS.max_position_embeddings);
  }
  let slidingLayers: boolean[] | undefined;
  if (type === 'gemma2') {
    slidingWindow = c.get('sliding_window') === undefined ? null : c.int('sliding_window', undefined, CONFIG_LIMITS.max_position_embeddings);
    slidingLayers = parseLayerTypes(c, numLayers, (i) => (i + 1) % 2 === 1);
    if (slidingWindow === null) slidingLayers = undefined;
  }
  if (type === 'qwen2' || type === 'qwen3') ({ slidingWindow, slidingLayers } = parseQwenWindow(c, numLayers));
  if (type !== 'llama' && type !== 'mistral' && type !== 'gemma2' && type !== 'qwen2' && type !== 'qwen3' && c.bool('use_sliding_window', false)) {
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
    ...(type === 'qwen3' ? { qkNorm: true } : {}),
    ...(type === 'smollm3' ? { ropeLayers: parseNoRopeLayers(c, numLayers) } : {}),
    ...(slidingLayers ? { slidingLayers } : {}),
    ...(type === 'gemma2' ? { gemma: parseGemma(c, hiddenSize) } : {}),
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

function parseGemma(c: Fields, hiddenSize: number): GemmaOptions {
  if (c.get('use_bidirectional_attention') === true) throw c.fail('use_bidirectional_attention', 'use_bidirectional_attention: true is not supported');
  const cap = (key: string, fallback: number) => (c.get(key) === undefined && Object.prototype.hasOwnProperty.call(c.raw, key)
    ? null : c.num(key, fallback, { min: 0, minExclusive: true }));
  return {
    embedScale: Math.sqrt(hiddenSize),
    attentionScale: 1 / Math.sqrt(c.num('query_pre_attn_scalar', 256, { min: 0, minExclusive: true })),
    attentionSoftcap: cap('attn_logit_softcapping', 50),
    finalSoftcap: cap('final_logit_softcapping', 30),
  };
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
    return { theta: c.num('rope_theta', 10000, { min: 0, minExclusive: true }), scaling: parseRopeScaling(c, 'rope_scaling', c.get('rope_scaling')) };
  }
  if (!isObject(params)) throw c.fail('rope_parameters', `rope_parameters must be an object, got ${describe(params)}`);
  const inner = new Fields(params, c.source, 'rope_parameters.');
  const theta = inner.num('rope_theta', 10000, { min: 0, minExclusive: true });
  const top = c.get('rope_theta');
  if (top !== undefined && top !== theta) {
    throw c.fail('rope_theta', `rope_theta (${describe(top)}) disagrees with rope_parameters.rope_theta (${theta})`);
  }
  return { theta, scaling: parseRopeScaling(c, 'rope_parameters', params) };
}

function parseRopeScaling(c: Fields, field: string, value: unknown): Llama3RopeScaling | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw c.fail(field, `${field} must be an object or null, got ${describe(value)}`);
  // transformers renamed "type" to "rope_type"; files have either, or both.
  const { rope_type: ropeType, type: legacyType } = value;
  if (ropeType != null && legacyType != null && ropeType !== legacyType) {
    throw c.fail(field, `${field} has rope_type ${describe(ropeType)} and type ${describe(legacyType)}`);
  }
  const kind = ropeType ?? legacyType;
  if (kind === 'default') return null;
  if (kind !== 'llama3') {
    throw c.fail(field, `${field}: RoPE scaling type ${describe(kind)} is not supported (only "llama3")`);
  }
  const s = new Fields(value, c.source, `${field}.`);
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
