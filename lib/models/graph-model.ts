// loadModel: a directory written by convertHfCheckpoint (model.json + shards, config.json,
// entropix.json) as a CausalLM running the converted graph. Node only (reads local files).
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import type { CausalLM, GenerationDefaults } from './causal-lm';
import { loadGraphModelAndNodes } from './graph-loader';
import { CompiledGraph, compileGraph } from '../graphdef/executor';
import { directoryDefaults } from './generation-defaults';
import { ModelConfig, readHfConfig } from './hf-config';
import { LlamaCache, stepInputs, stepInputsV1 } from './llama';
import { LlamaModel } from './llama-model';
import { GRAPH_FORMAT_VERSION } from './llama-tensors';
import { checkGraphContract } from './graph-contract';
import type { NodeDefJson } from '../graphdef/json';
import * as nodePath from 'node:path';

/** Loads a converted model directory. Nothing stays allocated when it throws. */
export async function loadModel(dir: string): Promise<CausalLM> {
  const config = await readHfConfig(dir);
  const { defaults } = await directoryDefaults(dir, config);
  let format: unknown = 1;
  const { model, nodes } = await loadGraphModelAndNodes(dir, (artifacts) => {
    format = (artifacts.userDefinedMetadata as { entropixGraphFormat?: unknown } | undefined)?.entropixGraphFormat ?? 1;
    if (!(Number.isInteger(format) && (format as number) >= 1 && (format as number) <= GRAPH_FORMAT_VERSION)) {
      throw new EntropixError('INVALID_ARGUMENT',
        `${dir}/model.json has graph format ${JSON.stringify(format)}; this version reads formats 1 to ${GRAPH_FORMAT_VERSION}`, 'dir');
    }
    // Before anything is built: the graph must be one the decoder can run with this config.json.
    const nodes = (artifacts.modelTopology as { node?: NodeDefJson[] } | undefined)?.node ?? [];
    checkGraphContract(nodes, artifacts.weightSpecs ?? [], config, format as number, nodePath.join(dir, 'model.json'));
  });
  const outputs = outputNames(config.numLayers);
  let compiled: CompiledGraph | null;
  try {
    compiled = process.env.ENTROPIX_GRAPH_EXECUTOR === 'tfjs' ? null : compileGraph(nodes, model.weights, outputs);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return new ConvertedLlama(config, defaults, model, format as number, compiled);
}

/** The graph's outputs, in the order run() reads them. */
function outputNames(numLayers: number): string[] {
  const layers = Array.from({ length: numLayers }, (_, i) => i);
  return ['logits', 'attention_scores', ...layers.map((i) => `present_key_${i}`), ...layers.map((i) => `present_value_${i}`)];
}

/** The converted graph behind the CausalLM interface. */
class ConvertedLlama extends LlamaModel {
  private readonly outputNames: string[];

  constructor(
    config: ModelConfig,
    defaults: GenerationDefaults,
    private readonly model: GraphModel,
    /** 1: rope_cos/rope_sin inputs, unfused weights (converted before format 2); 2: llama-graph.ts. */
    private readonly format: number,
    /** The graph compiled for lib/graphdef/executor.ts; null: TF.js's own executor runs it. */
    private readonly compiled: CompiledGraph | null,
  ) {
    super(config, defaults);
    this.outputNames = outputNames(config.numLayers);
  }

  protected run(inputIds: Tensor2D, previous: LlamaCache | null, attentionMask: Tensor2D | null) {
    const { numLayers, numKvHeads: hkv, headDim: hd } = this.config;
    const [batch] = inputIds.shape;
    const past = previous?.length ?? 0;
    let idsOk: Tensor2D;
    let feeds: Record<string, Tensor>;
    if (this.format === 1) {
      const s = stepInputsV1(this.shape, past, inputIds, attentionMask);
      idsOk = s.idsOk;
      feeds = { input_ids: s.ids, rope_cos: s.cos, rope_sin: s.sin, attention_bias: s.bias };
    } else {
      const s = stepInputs(this.shape, past, inputIds, attentionMask);
      idsOk = s.idsOk;
      feeds = { input_ids: s.ids, rope: s.rope, attention_bias: s.bias };
    }
    const empty = previous ? null : tf.zeros([batch, hkv, 0, hd]);
    for (let i = 0; i < numLayers; i++) {
      feeds[`past_key_${i}`] = previous ? previous.keys[i]! : empty!;
      feeds[`past_value_${i}`] = previous ? previous.values[i]! : empty!;
    }
    const results = this.compiled ? this.compiled.run(feeds) : this.model.execute(feeds, this.outputNames) as Tensor[];
    return {
      logits: tf.mul(results[0]!, idsOk),
      attentionScores: results[1]!,
      keys: results.slice(2, 2 + numLayers),
      values: results.slice(2 + numLayers),
    };
  }

  protected release(): void {
    this.model.dispose();
  }
}
