// Writing a built graph model to a directory (Node only): model.json and its shards, staged and
// renamed into place so that no half-written model that looks valid is ever left behind.
import * as nodePath from 'path';
import { EntropixError } from '../core/errors';
import { resolveInside, stageThenRename, writeFileSynced } from '../core/files';
import { BuiltGraphModel } from './json';

export interface WriteOptions {
  /** Replace an existing model directory (it is swapped out only once the new one is complete). */
  overwrite?: boolean;
}

/**
 * Writes model.json and its shards into `dir` atomically: everything goes into a temporary
 * sibling directory (shards first, model.json last, each synced), which is then renamed to
 * `dir`. A failure leaves `dir` as it was and removes the temporary directory. A `dir` that
 * exists and is not an empty directory is refused (INVALID_ARGUMENT, argument 'dir') unless
 * `overwrite`.
 */
export async function writeGraphModel(dir: string, built: BuiltGraphModel, options: WriteOptions = {}): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', 'dir must be a non-empty path', 'dir');
  }
  shardFiles(built, dir); // refuse a bad manifest before touching the disk
  await stageThenRename(dir, (stage) => writeGraphFiles(stage, built), {
    overwrite: options.overwrite === true, argument: 'dir', hint: ' (pass overwrite to replace a model)',
  });
}

/** Writes model.json and its shards into the existing empty directory `dir` (shards first, each synced). */
export async function writeGraphFiles(dir: string, built: BuiltGraphModel): Promise<void> {
  for (const { file, data } of shardFiles(built, dir)) await writeFileSynced(file, data);
  await writeFileSynced(nodePath.join(dir, 'model.json'), JSON.stringify(built.modelJson));
}

/** The shard files a BuiltGraphModel names, each a plain file name in `dir`. */
function shardFiles(built: BuiltGraphModel, dir: string): { file: string; data: Uint8Array }[] {
  const manifest = built?.modelJson?.weightsManifest;
  if (!Array.isArray(manifest) || !Array.isArray(built.weightData)) {
    throw new EntropixError('INVALID_ARGUMENT', 'built must come from GraphBuilder.build()', 'built');
  }
  const names = manifest.flatMap((g) => g.paths);
  if (names.length !== built.weightData.length) {
    throw new EntropixError('INVALID_ARGUMENT', `the manifest names ${names.length} shards, weightData has ${built.weightData.length}`, 'built');
  }
  return names.map((name, i) => {
    const file = resolveInside(dir, name, (why) =>
      new EntropixError('INVALID_ARGUMENT', `shard name ${JSON.stringify(name)} ${why}`, 'built'));
    if (nodePath.dirname(file) !== nodePath.resolve(dir) || name === 'model.json') {
      throw new EntropixError('INVALID_ARGUMENT', `shard name ${JSON.stringify(name)} is not a plain file name`, 'built');
    }
    return { file, data: built.weightData[i]! };
  });
}
