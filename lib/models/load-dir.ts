// loadModel in Node: a directory written by convertHfCheckpoint (model.json + shards,
// config.json, entropix.json) as a CausalLM running the converted graph.
import * as nodePath from 'node:path';
import type { CausalLM } from './causal-lm';
import { directoryDefaults } from './generation-defaults';
import { loadGraphModelAndNodes } from './graph-loader';
import { checkConvertedArtifacts, convertedLlama } from './graph-model';
import { GraphMatrices, packGraphMatrices } from './graph-matrices';
import { packedWeights, WeightsOption } from './weights-option';
import { readHfConfig } from './hf-config-file';
import type { NodeDefJson } from '../graphdef/json';

/**
 * Loads a converted model directory (`weights: 'packed'`: its matrices in PackedMatrices, read
 * through one reused buffer; weights-option.ts). Nothing stays allocated when it throws.
 */
export async function loadModel(dir: string, options: WeightsOption = {}): Promise<CausalLM> {
  const pack = packedWeights(options);
  const config = await readHfConfig(dir);
  const { defaults } = await directoryDefaults(dir, config);
  let format = 1;
  let matrices: GraphMatrices | null = null;
  try {
    const { model, nodes } = await loadGraphModelAndNodes(dir, (artifacts) => {
      format = checkConvertedArtifacts(artifacts, config, nodePath.join(dir, 'model.json'), 'dir');
    }, pack ? async (artifacts, read) => {
      matrices = await packGraphMatrices(artifacts, (artifacts.modelTopology as { node: NodeDefJson[] }).node, read);
      return matrices !== null;
    } : undefined);
    return convertedLlama(config, defaults, model, nodes, format, matrices);
  } catch (e) {
    (matrices as GraphMatrices | null)?.packed.dispose(); // convertedLlama disposes what it took over; twice is harmless
    throw e;
  }
}
