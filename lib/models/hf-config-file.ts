// Reading a model directory's config.json (Node only); hf-config.ts validates it.
import * as nodePath from 'path';
import { EntropixError } from '../core/errors';
import { readJsonFile } from '../core/files';
import { describe } from '../core/validate';
import { ModelConfig, parseHfConfig } from './hf-config';

/** Reads `dir/config.json`; errors name the file. */
export async function readHfConfig(dir: string): Promise<ModelConfig> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', `the model directory must be a non-empty path, got ${describe(dir)}`, 'dir');
  }
  const path = nodePath.join(dir, 'config.json');
  return parseHfConfig(await readJsonFile(path), path);
}
