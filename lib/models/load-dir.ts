// loadModel in Node: a directory written by convertHfCheckpoint (model.json + shards,
// config.json, entropix.json) as a CausalLM running the converted graph.
import type { CausalLM } from './causal-lm';
import { loadGraphModelFromDir } from './graph-loader';
import { readGenerationDefaults } from './hf-checkpoint';
import { readHfConfig } from './hf-config-file';
import { convertedLlama } from './graph-model';

/** Loads a converted model directory. Nothing stays allocated when it throws. */
export async function loadModel(dir: string): Promise<CausalLM> {
  const config = await readHfConfig(dir);
  const defaults = await readGenerationDefaults(dir, config);
  const model = await loadGraphModelFromDir(dir);
  return convertedLlama(config, defaults, model);
}
