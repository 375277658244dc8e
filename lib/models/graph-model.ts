// A converted model (the graph of convertHfCheckpoint, its config.json and entropix.json) as a
// CausalLM. Browser-safe: load-dir.ts (Node) and load-url.ts read the files and check them.
import type { Tensor, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { CausalLM, ForwardOptions, ForwardResult, GenerationDefaults, KVCache } from './causal-lm';
import type { ModelConfig } from './hf-config';
import { forwardShape, LlamaCache, LlamaShape, stepInputs, validateForward } from './llama';

/** The CausalLM over a loaded graph (taken over: disposed with the model). */
export function convertedLlama(config: ModelConfig, defaults: GenerationDefaults, model: GraphModel): CausalLM {
  return new ConvertedLlama(config, defaults, model);
}

/** The converted graph behind the CausalLM interface, validating and caching like NativeLlama. */
class ConvertedLlama implements CausalLM {
  private readonly shape: LlamaShape;
  private readonly outputNames: string[];
  private disposed = false;

  constructor(
    readonly config: ModelConfig,
    readonly generationDefaults: GenerationDefaults,
    private readonly model: GraphModel,
  ) {
    this.shape = forwardShape(config);
    const layers = Array.from({ length: config.numLayers }, (_, i) => i);
    this.outputNames = ['logits', 'attention_scores',
      ...layers.map((i) => `present_key_${i}`), ...layers.map((i) => `present_value_${i}`)];
  }

  forward(inputIds: Tensor2D, cache?: KVCache | null, options: ForwardOptions = {}): ForwardResult {
    if (this.disposed) throw new EntropixError('INVALID_ARGUMENT', 'the model has been disposed', 'model');
    validateForward(this.shape, this, inputIds, cache, options?.attentionMask);
    const previous = (cache ?? null) as LlamaCache | null;
    const { numLayers, numKvHeads: hkv, headDim: hd } = this.config;
    const out = tf.tidy(() => {
      const [batch] = inputIds.shape;
      const past = previous?.length ?? 0;
      const { ids, idsOk, cos, sin, bias } = stepInputs(this.shape, past, inputIds, options.attentionMask ?? null);
      const empty = previous ? null : tf.zeros([batch, hkv, 0, hd]);
      const feeds: Record<string, Tensor> = { input_ids: ids, rope_cos: cos, rope_sin: sin, attention_bias: bias };
      for (let i = 0; i < numLayers; i++) {
        feeds[`past_key_${i}`] = previous ? previous.keys[i]! : empty!;
        feeds[`past_value_${i}`] = previous ? previous.values[i]! : empty!;
      }
      const results = this.model.execute(feeds, this.outputNames) as Tensor[];
      return [tf.mul(results[0]!, idsOk), ...results.slice(1)];
    });
    previous?.dispose(); // handed over: the graph copied its tensors into the new cache
    const keys = out.slice(2, 2 + numLayers) as Tensor4D[];
    const values = out.slice(2 + numLayers) as Tensor4D[];
    return {
      logits: out[0] as Tensor2D,
      attentionScores: out[1] as Tensor3D,
      cache: new LlamaCache(this, keys, values),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}
