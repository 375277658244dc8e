// loadHfCheckpoint: a Hugging Face Llama-family or GPT-2 directory (config.json + safetensors) as a native
// tf-ops CausalLM — the reference for the converted graph, and a fallback for users. Node only.
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { CausalLM, GenerationDefaults } from './causal-lm';
import type { ModelConfig } from './hf-config';
import { readHfConfig } from './hf-config-file';
import { LlamaCache, llamaForward, LlamaWeights } from './llama';
import { LlamaModel } from './llama-model';
import { assembleWeights, fuseWeight, llamaWeightSpecs, withoutTiedEmbedding } from './llama-tensors';
import { SafetensorsCheckpoint } from './safetensors';
import { withCheckpointNames } from './gpt2-tensors';
import { directoryDefaults } from './generation-defaults';

/** Reads one tensor, checking its shape first; the result is float32 whatever the file's dtype. */
async function readCheckedTensor(ckpt: SafetensorsCheckpoint, name: string, shape: readonly number[]): Promise<Float32Array> {
  const info = ckpt.tensor(name); // refuses a missing tensor, argument = name
  if (info.shape.length !== shape.length || info.shape.some((s, i) => s !== shape[i])) {
    throw new EntropixError(
      'INVALID_SHAPE', `${info.path}: tensor ${name} has shape [${info.shape}], the config implies [${shape}]`, name);
  }
  return ckpt.read(name);
}

/** Loads a Hugging Face checkpoint directory as a native model. Nothing stays allocated on error. */
export async function loadHfCheckpoint(dir: string): Promise<CausalLM> {
  const config = await readHfConfig(dir);
  const ckpt = await SafetensorsCheckpoint.open(dir);
  const specs = withoutTiedEmbedding(withCheckpointNames(llamaWeightSpecs(config), (name) => ckpt.has(name)), config.tieWordEmbeddings);
  const made = new Map<string, Tensor>();
  try {
    for (const spec of specs) {
      const parts = new Map<string, Float32Array>();
      for (const p of spec.parts) parts.set(p.source, await readCheckedTensor(ckpt, p.source, p.sourceShape));
      made.set(spec.name, tf.tensor(fuseWeight(spec, (p) => parts.get(p.source)!), spec.shape, 'float32'));
    }
    const { defaults } = await directoryDefaults(dir, config);
    return new NativeLlama(config, defaults, assembleWeights(specs, config.numLayers, (spec) => made.get(spec.name)!));
  } catch (e) {
    tf.dispose([...made.values()]);
    throw e;
  }
}

/** The native model: the decoder on eager tf ops over weights held as tensors. */
class NativeLlama extends LlamaModel {
  constructor(config: ModelConfig, defaults: GenerationDefaults, private readonly weights: LlamaWeights) {
    super(config, defaults);
  }

  protected run(inputIds: Tensor2D, previous: LlamaCache | null, attentionMask: Tensor2D | null) {
    const r = llamaForward(this.shape, this.weights, this, inputIds, previous, attentionMask);
    return { logits: r.logits, attentionScores: r.attentionScores, keys: r.cache.keys, values: r.cache.values };
  }

  protected release(): void {
    const { layers, ...top } = this.weights;
    tf.dispose([...(Object.values(top) as (Tensor | undefined)[]).filter((t) => t !== undefined), ...layers.flatMap((l) => Object.values(l) as Tensor[])]);
  }
}
