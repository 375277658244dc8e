// What the native and the converted model share around their forward: the disposed check,
// argument validation, the tidy, and handing the previous cache over.
import type { Tensor, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { CausalLM, ForwardOptions, ForwardResult, GenerationDefaults, KVCache } from './causal-lm';
import type { ModelConfig } from './hf-config';
import type { DecoderOutputs } from './llama-forward';
import { forwardShape, LlamaCache, LlamaShape, validateForward } from './llama';

export abstract class LlamaModel implements CausalLM {
  protected readonly shape: LlamaShape;
  private disposed = false;

  constructor(
    readonly config: ModelConfig,
    readonly generationDefaults: GenerationDefaults,
  ) {
    this.shape = forwardShape(config);
  }

  /**
   * The forward itself, inside a tidy: logits [B, V] (NaN rows for out-of-vocabulary ids),
   * attention scores and the new cache's keys and values. `previous` is validated.
   */
  protected abstract run(inputIds: Tensor2D, previous: LlamaCache | null, attentionMask: Tensor2D | null): DecoderOutputs<Tensor>;

  /** Frees the weights. */
  protected abstract release(): void;

  forward(inputIds: Tensor2D, cache?: KVCache | null, options: ForwardOptions = {}): ForwardResult {
    if (this.disposed) throw new EntropixError('INVALID_ARGUMENT', 'the model has been disposed', 'model');
    validateForward(this.shape, this, inputIds, cache, options?.attentionMask);
    const previous = (cache ?? null) as LlamaCache | null;
    const out = tf.tidy(() => {
      const r = this.run(inputIds, previous, options.attentionMask ?? null);
      return [r.logits, r.attentionScores, ...r.keys, ...r.values];
    });
    previous?.dispose(); // handed over: its tensors were copied into the new cache
    const n = this.config.numLayers;
    return {
      logits: out[0] as Tensor2D,
      attentionScores: out[1] as Tensor3D,
      cache: new LlamaCache(this, out.slice(2, 2 + n) as Tensor4D[], out.slice(2 + n) as Tensor4D[]),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
  }
}
