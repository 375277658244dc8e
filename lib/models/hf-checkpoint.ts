// loadHfCheckpoint: a Hugging Face Llama-family directory (config.json + safetensors) as a native
// tf-ops CausalLM — the reference for the converted graph, and a fallback for users. Node only.
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { resolveSamplerConfig } from '../sampling/config';
import type { CausalLM, ForwardOptions, ForwardResult, GenerationDefaults, KVCache } from './causal-lm';
import type { ModelConfig } from './hf-config';
import { readHfConfig } from './hf-config-file';
import { forwardShape, isProjectionWeight, LlamaCache, llamaForward, LlamaLayerWeights, LlamaShape, LlamaWeights, validateForward } from './llama';
import { SafetensorsCheckpoint } from './safetensors';
import { readJsonFile } from '../core/files';

/** The Hugging Face tensor names of one layer, with the shape each must have. */
function layerTensors(c: ModelConfig, i: number): Record<keyof LlamaLayerWeights, [string, number[]] | null> {
  const p = `model.layers.${i}.`;
  const { hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter } = c;
  return {
    inputNorm: [`${p}input_layernorm.weight`, [d]],
    q: [`${p}self_attn.q_proj.weight`, [hq * hd, d]],
    k: [`${p}self_attn.k_proj.weight`, [hkv * hd, d]],
    v: [`${p}self_attn.v_proj.weight`, [hkv * hd, d]],
    o: [`${p}self_attn.o_proj.weight`, [d, hq * hd]],
    qBias: c.attentionBias ? [`${p}self_attn.q_proj.bias`, [hq * hd]] : null,
    kBias: c.attentionBias ? [`${p}self_attn.k_proj.bias`, [hkv * hd]] : null,
    vBias: c.attentionBias ? [`${p}self_attn.v_proj.bias`, [hkv * hd]] : null,
    oBias: c.attentionOutputBias ? [`${p}self_attn.o_proj.bias`, [d]] : null,
    postNorm: [`${p}post_attention_layernorm.weight`, [d]],
    gate: [`${p}mlp.gate_proj.weight`, [inter, d]],
    up: [`${p}mlp.up_proj.weight`, [inter, d]],
    down: [`${p}mlp.down_proj.weight`, [d, inter]],
  };
}

/** Reads one tensor, checking its shape first; the result is float32 whatever the file's dtype. */
async function readTensor(ckpt: SafetensorsCheckpoint, name: string, shape: number[]): Promise<Tensor> {
  const info = ckpt.tensor(name);
  if (info.shape.length !== shape.length || info.shape.some((s, i) => s !== shape[i])) {
    throw new EntropixError(
      'INVALID_SHAPE', `${info.path}: tensor ${name} has shape [${info.shape}], the config implies [${shape}]`, name);
  }
  return tf.tensor(await ckpt.read(name), shape, 'float32');
}

/** Loads a Hugging Face checkpoint directory as a native model. Nothing stays allocated on error. */
export async function loadHfCheckpoint(dir: string): Promise<CausalLM> {
  const config = await readHfConfig(dir);
  const ckpt = await SafetensorsCheckpoint.open(dir);
  const made: Tensor[] = [];
  const load = async (name: string, shape: number[]) => {
    let t = await readTensor(ckpt, name, shape);
    if (isProjectionWeight(name)) {
      const stored = t;
      t = tf.transpose(stored); // held as [in, out] (see llama.ts)
      stored.dispose();
    }
    made.push(t);
    return t;
  };
  try {
    const { vocabSize: v, hiddenSize: d } = config;
    const embed = await load('model.embed_tokens.weight', [v, d]) as Tensor2D;
    const layers: LlamaLayerWeights[] = [];
    for (let i = 0; i < config.numLayers; i++) {
      const layer: Partial<Record<keyof LlamaLayerWeights, Tensor>> = {};
      for (const [key, spec] of Object.entries(layerTensors(config, i))) {
        if (spec) layer[key as keyof LlamaLayerWeights] = await load(spec[0], spec[1]);
      }
      layers.push(layer as unknown as LlamaLayerWeights);
    }
    const finalNorm = await load('model.norm.weight', [d]) as Tensor1D;
    let lmHead: Tensor2D;
    if (config.tieWordEmbeddings) {
      lmHead = tf.transpose(embed); // a [D, V] copy: x·W is much faster than x·Wᵀ on wasm
      made.push(lmHead);
    } else {
      lmHead = await load('lm_head.weight', [v, d]) as Tensor2D;
    }
    const defaults = await readGenerationDefaults(dir, config);
    return new NativeLlama(config, defaults, { embed, layers, finalNorm, lmHead });
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
}

/** entropix.json next to the weights, if any; eos ids default to the config's. */
export async function readGenerationDefaults(dir: string, config: ModelConfig): Promise<GenerationDefaults> {
  const path = nodePath.join(dir, 'entropix.json');
  try {
    await fs.access(path);
  } catch {
    return { eosTokenIds: config.eosTokenIds };
  }
  const json = await readJsonFile(path);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EntropixError('INVALID_ARGUMENT', `${path} must hold a JSON object`, path);
  }
  const { sampler, eosTokenIds } = json as { sampler?: unknown; eosTokenIds?: unknown };
  const ids = eosTokenIds ?? config.eosTokenIds;
  if (!Array.isArray(ids) || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize)) {
    throw new EntropixError('INVALID_ARGUMENT', `${path}: eosTokenIds must be token ids below ${config.vocabSize}`, path);
  }
  if (sampler !== undefined) resolveSamplerConfig(sampler); // validates; throws with the field name
  return { sampler: sampler as GenerationDefaults['sampler'], eosTokenIds: ids as number[] };
}

/** The native model: llamaForward over weights held as tensors. */
class NativeLlama implements CausalLM {
  private readonly shape: LlamaShape;
  private disposed = false;

  constructor(
    readonly config: ModelConfig,
    readonly generationDefaults: GenerationDefaults,
    private readonly weights: LlamaWeights,
  ) {
    this.shape = forwardShape(config);
  }

  forward(inputIds: Tensor2D, cache?: KVCache | null, options: ForwardOptions = {}): ForwardResult {
    if (this.disposed) throw new EntropixError('INVALID_ARGUMENT', 'the model has been disposed', 'model');
    validateForward(this.shape, this, inputIds, cache, options?.attentionMask);
    const previous = (cache ?? null) as LlamaCache | null;
    const out = tf.tidy(() => {
      const r = llamaForward(this.shape, this.weights, this, inputIds, previous, options.attentionMask ?? null);
      return { logits: r.logits, scores: r.attentionScores, keys: r.cache.keys, values: r.cache.values };
    });
    previous?.dispose(); // handed over: its tensors were copied into the new cache
    return {
      logits: out.logits as Tensor2D,
      attentionScores: out.scores as Tensor3D,
      cache: new LlamaCache(this, out.keys as Tensor4D[], out.values as Tensor4D[]),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const { embed, layers, finalNorm, lmHead } = this.weights;
    tf.dispose([embed, finalNorm, lmHead, ...layers.flatMap((l) => Object.values(l))]);
  }
}
