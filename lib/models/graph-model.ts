// A converted model (the graph of convertHfCheckpoint, its config.json and entropix.json) as a
// CausalLM. Browser-safe: load-dir.ts (Node) and load-url.ts read the files, then check the graph
// here before TF.js builds anything from it.
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { CausalLM, GenerationDefaults } from './causal-lm';
import { CompiledGraph, compileGraph } from '../graphdef/executor';
import type { ModelConfig } from './hf-config';
import { LlamaCache, stepInputs, stepInputsV1, stepInputsWithoutRope } from './llama';
import { LlamaModel } from './llama-model';
import { GRAPH_FORMAT_VERSION } from './llama-tensors';
import { checkGraphContract } from './graph-contract';
import type { NodeDefJson } from '../graphdef/json';
import type { GraphMatrices } from './graph-matrices';

/**
 * Checks read artifacts before anything is built: a graph format this version reads, and a graph
 * the decoder can run with this config.json. `where` names model.json; `argument` is the loader's
 * ('dir' or 'url'). Returns the graph format.
 */
export function checkConvertedArtifacts(artifacts: tf.io.ModelArtifacts, config: ModelConfig, where: string, argument: string): number {
  const format = (artifacts.userDefinedMetadata as { entropixGraphFormat?: unknown } | undefined)?.entropixGraphFormat ?? 1 as unknown;
  if (!(Number.isInteger(format) && (format as number) >= 1 && (format as number) <= GRAPH_FORMAT_VERSION)) {
    throw new EntropixError('INVALID_ARGUMENT',
      `${where} has graph format ${JSON.stringify(format)}; this version reads formats 1 to ${GRAPH_FORMAT_VERSION}`, argument);
  }
  const nodes = (artifacts.modelTopology as { node?: NodeDefJson[] } | undefined)?.node ?? [];
  try {
    checkGraphContract(nodes, artifacts.weightSpecs ?? [], config, format as number, where);
  } catch (e) {
    throw e instanceof EntropixError && argument !== 'dir' ? new EntropixError(e.code, e.message, argument) : e;
  }
  return format as number;
}

/**
 * The CausalLM over a loaded, checked graph, with the weight matrices packGraphMatrices took out
 * of it (or null). Both are taken over: disposed with it, also when this throws.
 */
export function convertedLlama(config: ModelConfig, defaults: GenerationDefaults, model: GraphModel,
  nodes: readonly NodeDefJson[], format: number, matrices: GraphMatrices | null = null): CausalLM {
  const outputs = outputNames(config.numLayers);
  let compiled: CompiledGraph | null;
  try {
    const env = typeof process !== 'undefined' ? process.env : undefined; // none in a browser
    const weights = matrices ? { ...model.weights, ...Object.fromEntries([...matrices.byName].map(([k, m]) => [k, [m]])) } : model.weights;
    compiled = env?.ENTROPIX_GRAPH_EXECUTOR === 'tfjs' && !matrices ? null : compileGraph(nodes as NodeDefJson[], weights, outputs);
    if (!compiled && matrices) throw new Error('convertedLlama: packed matrices need the graph executor');
  } catch (e) {
    model.dispose();
    matrices?.packed.dispose();
    throw e;
  }
  // With the graph compiled, TF.js's GraphModel (its own parsed copy of the graph: ~10 MB of JS
  // heap for a 30-layer model) is not needed: only its weight tensors are kept.
  return new ConvertedLlama(config, defaults, compiled ? Object.values(model.weights).flat() : model, format, compiled, matrices);
}

/** The graph's outputs, in the order run() reads them. */
function outputNames(numLayers: number): string[] {
  const layers = Array.from({ length: numLayers }, (_, i) => i);
  return ['logits', 'attention_scores', ...layers.map((i) => `present_key_${i}`), ...layers.map((i) => `present_value_${i}`)];
}

/** The converted graph behind the CausalLM interface. */
class ConvertedLlama extends LlamaModel {
  private readonly outputNames: string[];
  private readonly pastNames: ReadonlySet<string>;

  constructor(
    config: ModelConfig,
    defaults: GenerationDefaults,
    /** TF.js's model when its executor runs the graph, else just the weight tensors the compiled graph reads. */
    private readonly model: GraphModel | Tensor[],
    /** 1: rope_cos/rope_sin inputs, unfused weights (converted before format 2); 2: llama-graph.ts. */
    private readonly format: number,
    /** The graph compiled for lib/graphdef/executor.ts; null: TF.js's own executor runs it. */
    private readonly compiled: CompiledGraph | null,
    private readonly matrices: GraphMatrices | null,
  ) {
    super(config, defaults);
    this.outputNames = outputNames(config.numLayers);
    const layers = Array.from({ length: config.numLayers }, (_, i) => i);
    this.pastNames = new Set(layers.flatMap((i) => [`past_key_${i}`, `past_value_${i}`]));
  }

  protected run(inputIds: Tensor2D, previous: LlamaCache | null, attentionMask: Tensor2D | null) {
    const { numLayers, numKvHeads: hkv, headDim: hd } = this.config;
    const [batch] = inputIds.shape;
    const past = previous?.length ?? 0;
    let idsOk: Tensor2D;
    let feeds: Record<string, Tensor>;
    if (this.shape.gpt2) { // position_ids whatever the format says (the contract checked the input)
      const s = stepInputsWithoutRope(this.shape, past, inputIds, attentionMask);
      idsOk = s.idsOk;
      feeds = { input_ids: s.ids, position_ids: tf.cast(s.positions, 'int32'), attention_bias: s.bias };
    } else if (this.format === 1) {
      const s = stepInputsV1(this.shape, past, inputIds, attentionMask);
      idsOk = s.idsOk;
      feeds = { input_ids: s.ids, rope_cos: s.cos, rope_sin: s.sin, attention_bias: s.bias };
    } else {
      const s = stepInputs(this.shape, past, inputIds, attentionMask);
      idsOk = s.idsOk;
      feeds = { input_ids: s.ids, rope: s.rope, attention_bias: s.bias };
      if (s.slidingBias) feeds.attention_bias_sliding = s.slidingBias;
      if (s.ropeSliding) feeds.rope_sliding = s.ropeSliding;
    }
    const empty = previous ? null : tf.zeros([batch, hkv, 0, hd]);
    for (let i = 0; i < numLayers; i++) {
      feeds[`past_key_${i}`] = previous ? previous.keys[i]! : empty!;
      feeds[`past_value_${i}`] = previous ? previous.values[i]! : empty!;
    }
    // The handed-over cache goes layer by layer (CausalLM); TF.js's executor frees it after.
    const results = this.compiled ? this.compiled.run(feeds, previous ? this.pastNames : undefined)
      : (this.model as GraphModel).execute(feeds, this.outputNames) as Tensor[];
    return {
      logits: tf.mul(results[0]!, idsOk),
      attentionScores: results[1]!,
      keys: results.slice(2, 2 + numLayers),
      values: results.slice(2 + numLayers),
    };
  }

  protected release(): void {
    if (Array.isArray(this.model)) tf.dispose(this.model);
    else this.model.dispose();
    this.matrices?.packed.dispose();
  }
}
