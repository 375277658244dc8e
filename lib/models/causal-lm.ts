// What every model behind the decoder provides: logits and the last layer's attention scores for
// the last position, with a KV cache; LanguageModel is the part the decoder needs.
import type { Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import type { SamplerConfig } from '../sampling/config';
import type { ModelConfig } from './hf-config';
import type { AttentionWindow } from '../decoding/attended-keys';

export interface KVCache {
  /** Positions held (the cache length S). */
  readonly length: number;
  dispose(): void;
}

export interface ForwardResult {
  logits: Tensor2D; // [B, V] at the last input position
  attentionScores: Tensor3D; // [B, numHeads, cacheLength + T]: last layer, last query row, pre-mask
  cache: KVCache; // this call's keys and values included
}

export interface ForwardOptions {
  /** [B, cacheLength + T], 1 = real token (left padding: 0s first). */
  attentionMask?: Tensor2D;
}

export interface GenerationDefaults {
  sampler?: Partial<SamplerConfig>;
  eosTokenIds?: number[];
}

/**
 * The least the decoder (generate) needs from a model: a user's own model implements this.
 * forward(ids [B, T] int32, cache, { attentionMask [B, cacheLength + T] }) returns the logits at
 * the last position; attentionScores (the last layer's, as in ForwardResult) are optional: without
 * them the sampler runs on the logits alone. A model that returns no cache is given the whole
 * sequence (prompt and tokens so far) at every step.
 */
export interface LanguageModel {
  /** slidingWindow (on slidingLayers, else every layer): the metrics count only the keys the last layer's window shows. */
  readonly config: { readonly vocabSize: number; readonly maxPositions: number } & AttentionWindow;
  readonly generationDefaults?: GenerationDefaults;
  forward(inputIds: Tensor2D, cache?: KVCache | null, options?: ForwardOptions): LanguageModelOutput;
}

export interface LanguageModelOutput {
  logits: Tensor2D; // float32 [B, V]
  attentionScores?: Tensor3D | null;
  cache?: KVCache | null;
}

/**
 * A causal language model. The caller disposes returned tensors. Passing a cache to forward hands
 * it over (forward disposes it, layer by layer as it goes), except when forward refuses its
 * arguments: it validates first, and then the cache is still the caller's.
 */
export interface CausalLM extends LanguageModel {
  readonly config: ModelConfig;
  readonly generationDefaults: GenerationDefaults;
  forward(inputIds: Tensor2D, cache?: KVCache | null, options?: ForwardOptions): ForwardResult;
  dispose(): void;
}
