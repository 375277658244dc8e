// Reading a model directory's config.json (Node only); hf-config.ts validates it.
import * as nodePath from 'path';
import { readJsonFile } from '../core/files';
import { ModelConfig, parseHfConfig } from './hf-config';

/** Reads `dir/config.json`; errors name the file. */
export async function readHfConfig(dir: string): Promise<ModelConfig> {
  const path = nodePath.join(dir, 'config.json');
  return parseHfConfig(await readJsonFile(path), path);
}
