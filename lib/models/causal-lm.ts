// What every model behind the decoder provides: logits and the last layer's attention scores for
// the last position, with a KV cache.
import type { Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import type { SamplerConfig } from '../sampling/config';
import type { ModelConfig } from './hf-config';

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
 * A causal language model. The caller disposes returned tensors. Passing a cache to forward hands
 * it over (forward disposes it), except when forward throws: it validates first, and then the
 * cache is still the caller's.
 */
export interface CausalLM {
  readonly config: ModelConfig;
  readonly generationDefaults: GenerationDefaults;
  forward(inputIds: Tensor2D, cache?: KVCache | null, options?: ForwardOptions): ForwardResult;
  dispose(): void;
}
