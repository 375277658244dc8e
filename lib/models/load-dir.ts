// loadModel in Node: a directory written by convertHfCheckpoint (model.json + shards,
// config.json, entropix.json) as a CausalLM running the converted graph.
import * as nodePath from 'node:path';
import type { CausalLM } from './causal-lm';
import { directoryDefaults } from './generation-defaults';
import { loadGraphModelAndNodes } from './graph-loader';
import { checkConvertedArtifacts, convertedLlama } from './graph-model';
import { readHfConfig } from './hf-config-file';

/** Loads a converted model directory. Nothing stays allocated when it throws. */
export async function loadModel(dir: string): Promise<CausalLM> {
  const config = await readHfConfig(dir);
  const { defaults } = await directoryDefaults(dir, config);
  let format = 1;
  const { model, nodes } = await loadGraphModelAndNodes(dir, (artifacts) => {
    format = checkConvertedArtifacts(artifacts, config, nodePath.join(dir, 'model.json'), 'dir');
  });
  return convertedLlama(config, defaults, model, nodes, format);
}
