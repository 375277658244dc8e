// loadHfCheckpoint: a Hugging Face Llama-family directory (config.json + safetensors) as a native
// tf-ops CausalLM — the reference for the converted graph, and a fallback for users. Node only.
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { CausalLM, GenerationDefaults } from './causal-lm';
import type { ModelConfig } from './hf-config';
import { readHfConfig } from './hf-config-file';
import { LlamaCache, llamaForward, packedOps, WeightMatrix } from './llama';
import type { LlamaOps } from './llama-forward';
import { LlamaModel } from './llama-model';
import { assembleWeights, fuseWeight, LlamaWeights, llamaWeightSpecs, withoutTiedEmbedding } from './llama-tensors';
import { MAX_PACKED_BYTES, PackedMatrices, PackedMatrix, packedBytes, usePackedMatrices } from '../wasm/packed-matrices';
import { SafetensorsCheckpoint } from './safetensors';
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

/**
 * Loads a Hugging Face checkpoint directory as a native model. On the wasm backend the weight
 * matrices go straight from the file into PackedMatrices (no tensor copy); elsewhere every weight
 * is a tensor. Nothing stays allocated on error.
 */
export async function loadHfCheckpoint(dir: string): Promise<CausalLM> {
  const config = await readHfConfig(dir);
  const ckpt = await SafetensorsCheckpoint.open(dir);
  const specs = withoutTiedEmbedding(llamaWeightSpecs(config), config.tieWordEmbeddings);
  const matrixBytes = specs.filter((s) => s.transpose).reduce((a, s) => a + packedBytes(s.shape[0]!, s.shape[1]!), 0);
  const packed = usePackedMatrices() && matrixBytes <= MAX_PACKED_BYTES ? new PackedMatrices(matrixBytes) : null;
  const made = new Map<string, WeightMatrix>();
  try {
    for (const spec of specs) {
      const parts = new Map<string, Float32Array>();
      for (const p of spec.parts) parts.set(p.source, await readCheckedTensor(ckpt, p.source, p.sourceShape));
      const part = (p: { source: string }) => parts.get(p.source)!;
      made.set(spec.name, packed && spec.transpose
        ? packed.packColumns(spec.parts.map(part), spec.shape[0]!)
        : tf.tensor(fuseWeight(spec, part), spec.shape, 'float32'));
    }
    const { defaults } = await directoryDefaults(dir, config);
    return new NativeLlama(config, defaults, assembleWeights<Tensor, WeightMatrix>(specs, config.numLayers, (spec) => made.get(spec.name)!), packed);
  } catch (e) {
    tf.dispose([...made.values()].filter((w): w is Tensor => !(w instanceof PackedMatrix)));
    packed?.dispose();
    throw e;
  }
}

/** The native model: the decoder on eager tf ops over weights held as tensors (matrices packed on wasm). */
class NativeLlama extends LlamaModel {
  private readonly ops: LlamaOps<Tensor, number, WeightMatrix> | undefined;

  constructor(config: ModelConfig, defaults: GenerationDefaults,
    private readonly weights: LlamaWeights<Tensor, WeightMatrix>, private readonly packed: PackedMatrices | null) {
    super(config, defaults);
    this.ops = packed ? packedOps(packed) : undefined;
  }

  protected run(inputIds: Tensor2D, previous: LlamaCache | null, attentionMask: Tensor2D | null) {
    const r = llamaForward(this.shape, this.weights, this, inputIds, previous, attentionMask, this.ops);
    return { logits: r.logits, attentionScores: r.attentionScores, keys: r.cache.keys, values: r.cache.values };
  }

  protected release(): void {
    const { embed, layers, finalNorm, lmHead } = this.weights;
    const all = [...(embed ? [embed] : []), finalNorm, lmHead, ...layers.flatMap((l) => Object.values(l) as WeightMatrix[])];
    tf.dispose(all.filter((w): w is Tensor => !(w instanceof PackedMatrix)));
    this.packed?.dispose();
  }
}
