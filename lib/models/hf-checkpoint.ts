// loadHfCheckpoint: a Hugging Face Llama-family or GPT-2 directory (config.json + safetensors) as a native
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
import { MAX_PACKED_BYTES, PackedMatrices, PackedMatrix, packedBytes } from '../wasm/packed-matrices';
import { packedWeights, WeightsOption } from './weights-option';
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

/** The weights that are matrices: the products' right operands (the forward's matMul). */
const MATRIX_KEYS = new Set(['qkv', 'o', 'gateUp', 'down', 'lmHead']);

/**
 * Loads a Hugging Face checkpoint directory as a native model, every weight a tensor; with
 * `weights: 'packed'` (wasm only, weights-option.ts) the matrices go from the file into
 * PackedMatrices instead (no tensor copy, no XNNPACK copy). Nothing stays allocated on error.
 */
export async function loadHfCheckpoint(dir: string, options: WeightsOption = {}): Promise<CausalLM> {
  const pack = packedWeights(options);
  const config = await readHfConfig(dir);
  const ckpt = await SafetensorsCheckpoint.open(dir);
  const specs = withoutTiedEmbedding(withCheckpointNames(llamaWeightSpecs(config), (name) => ckpt.has(name)), config.tieWordEmbeddings);
  const matrices = specs.filter((s) => MATRIX_KEYS.has(s.key) && s.shape.length === 2 && s.offset === undefined);
  const matrixBytes = matrices.reduce((a, s) => a + packedBytes(s.shape[0]!, s.shape[1]!), 0);
  // Past wasm32's 4 GiB the matrices stay tensors (tf.matMul).
  const packed = pack && matrixBytes <= MAX_PACKED_BYTES ? new PackedMatrices(matrixBytes) : null;
  const isMatrix = new Set(packed ? matrices.map((s) => s.name) : []);
  const made = new Map<string, WeightMatrix>();
  try {
    for (const spec of specs) {
      const parts = new Map<string, Float32Array>();
      for (const p of spec.parts) parts.set(p.source, await readCheckedTensor(ckpt, p.source, p.sourceShape));
      const part = (p: { source: string }) => parts.get(p.source)!;
      const [k, n] = spec.shape as [number, number];
      // HF's [out, in] parts become columns as they are; a GPT-2 Conv1D is [in, out] already.
      made.set(spec.name, !packed || !isMatrix.has(spec.name) ? tf.tensor(fuseWeight(spec, part), spec.shape, 'float32')
        : spec.transpose ? packed.packColumns(spec.parts.map(part), k) : packed.packRows(fuseWeight(spec, part), k, n));
    }
    const { defaults } = await directoryDefaults(dir, config);
    return new NativeLlama(config, defaults, assembleWeights<Tensor, WeightMatrix>(specs, config.numLayers, (spec) => made.get(spec.name)!), packed);
  } catch (e) {
    tf.dispose([...made.values()].filter((w): w is Tensor => !(w instanceof PackedMatrix)));
    packed?.dispose();
    throw e;
  }
}

/** The native model: the decoder on eager tf ops over weights held as tensors (or its matrices packed). */
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
    const { layers, ...top } = this.weights;
    const all = [...Object.values(top), ...layers.flatMap((l) => Object.values(l))] as (WeightMatrix | undefined)[];
    tf.dispose(all.filter((w): w is Tensor => w !== undefined && !(w instanceof PackedMatrix)));
    this.packed?.dispose();
  }
}
