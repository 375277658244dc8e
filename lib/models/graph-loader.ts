// Loading a TF.js graph model (model.json + weight shards) from a local directory, in Node.
// TF.js has no file:// loader without tfjs-node, so this reads the files itself and hands them
// to the converter through an IOHandler. Everything is checked before any tensor is made: a
// refused directory allocates nothing.
import * as fs from 'fs';
import * as path from 'path';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { openModelFile, readJsonFileIfExists, resolveInside } from '../core/files';
import type { NodeDefJson } from '../graphdef/json';
import { checkGroupSize, checkModelJson, graphModelFromArtifacts } from './model-json';
import type { WeightReader } from './graph-matrices';

type ModelArtifacts = tf.io.ModelArtifacts;

function refuse(message: string): EntropixError {
  return new EntropixError('INVALID_ARGUMENT', message, 'dir');
}

/**
 * Loads `dir/model.json` and its weight shards as a GraphModel on the current backend. Refuses
 * (EntropixError INVALID_ARGUMENT, argument 'dir', the message says what is wrong) a missing
 * directory or model.json, a model.json that is not a graph model, weight paths that leave the
 * directory, and missing, short or long shards — before reading any weights.
 */
export async function loadGraphModelFromDir(dir: string): Promise<GraphModel> {
  return (await loadGraphModelAndNodes(dir)).model;
}

/**
 * As loadGraphModelFromDir, with the graph's nodes (model.json's modelTopology.node). `check`
 * sees the artifacts (without weightData) before any weights are read, and may throw to refuse
 * them. `take`, when given, may read the weights itself (one buffer reused, no copy of the shards
 * in memory) and set artifacts.weightData to what TF.js is to load; when it returns false the
 * shards are read whole, as without it.
 */
export async function loadGraphModelAndNodes(dir: string, check?: (artifacts: ModelArtifacts) => void,
  take?: (artifacts: ModelArtifacts, read: WeightReader) => Promise<boolean>): Promise<{ model: GraphModel; nodes: NodeDefJson[] }> {
  const { modelJson, weightSpecs, shardPaths } = await checkGraphModelDir(dir);
  const artifacts = tf.io.getModelArtifactsForJSONSync(modelJson, weightSpecs, []);
  check?.(artifacts);
  let taken = false;
  if (take) {
    const shards = await openShards(shardPaths);
    try {
      taken = await take(artifacts, shards.read);
    } finally {
      await shards.close();
    }
  }
  if (!taken) artifacts.weightData = await readShards(shardPaths);
  const model = graphModelFromArtifacts(artifacts, path.join(dir, 'model.json'), 'dir');
  return { model, nodes: (artifacts.modelTopology as { node: NodeDefJson[] }).node };
}

/** An IOHandler for `tfconv.loadGraphModel` that reads `dir` with the same checks. */
export function graphModelDirHandler(dir: string): tf.io.IOHandler {
  return { load: () => readGraphModelArtifacts(dir) };
}

/** Reads and checks model.json and its shards; the shards become weightData, one ArrayBuffer each. */
export async function readGraphModelArtifacts(dir: string): Promise<ModelArtifacts> {
  const { modelJson, weightSpecs, shardPaths } = await checkGraphModelDir(dir);
  return tf.io.getModelArtifactsForJSONSync(modelJson, weightSpecs, await readShards(shardPaths));
}

/** Checks model.json and the shards' sizes (from stat) before any weights are read. */
async function checkGraphModelDir(dir: string) {
  if (typeof dir !== 'string' || dir.length === 0) throw refuse('dir must be a non-empty path');
  const stat = await fs.promises.stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw refuse(e.code === 'ENOENT' ? `model directory ${dir} does not exist` : `cannot read ${dir}: ${e.message}`);
  });
  if (!stat.isDirectory()) throw refuse(`${dir} is not a directory`);
  const jsonPath = path.join(dir, 'model.json');
  const json = await readJsonFileIfExists(jsonPath, 'dir');
  if (json === undefined) throw refuse(`${dir} has no model.json`);
  const { modelJson, groups } = checkModelJson(json, jsonPath, 'dir');

  // Sizes first, from stat: a bad shard is refused before any weights are read.
  const root = path.resolve(dir);
  const shardPaths: string[] = [];
  for (const group of groups) {
    const sizes: number[] = [];
    for (const p of group.paths) {
      const file = resolveInside(root, p, (why) => refuse(`${jsonPath}: weight path ${JSON.stringify(p)} ${why}`));
      // Under the model-file policy: a link may not leave the directory, a FIFO is not waited on.
      const opened = await openModelFile(file, 'dir', { required: false });
      if (!opened) throw refuse(`weight shard '${p}' named in ${jsonPath} is missing`);
      await opened.handle.close();
      sizes.push(opened.size);
      shardPaths.push(file);
    }
    checkGroupSize(group, sizes, jsonPath, 'dir');
  }

  return { modelJson, weightSpecs: groups.flatMap((g) => g.weights), shardPaths };
}

/** The shards, one ArrayBuffer each. */
function readShards(shardPaths: readonly string[]): Promise<ArrayBuffer[]> {
  return Promise.all(shardPaths.map(async (file) => {
    const buf = await fs.promises.readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw refuse(`cannot read weight shard ${file}: ${e.code === 'EACCES' ? 'permission denied' : e.message}`);
    });
    // readFile gives a Buffer of its own; use its memory as is when it spans the whole ArrayBuffer.
    return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
      ? (buf.buffer as ArrayBuffer)
      : (buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  }));
}

/** The shards opened for WeightReader reads into one reused buffer. */
async function openShards(shardPaths: readonly string[]): Promise<{ read: WeightReader; close: () => Promise<void> }> {
  const opened: { handle: fs.promises.FileHandle; size: number }[] = [];
  const close = async () => {
    await Promise.all(opened.splice(0).map((o) => o.handle.close()));
  };
  try {
    for (const file of shardPaths) {
      const o = await openModelFile(file, 'dir', { required: true });
      opened.push(o!);
    }
  } catch (e) {
    await close();
    throw e;
  }
  let scratch = Buffer.alloc(0);
  const read: WeightReader = async (at, n) => {
    if (scratch.byteLength < n) scratch = Buffer.alloc(Math.max(n, 2 * scratch.byteLength));
    let i = 0;
    while (i < opened.length && at >= opened[i]!.size) at -= opened[i++]!.size;
    for (let done = 0; done < n; i++, at = 0) {
      if (i >= opened.length) throw refuse('a weight lies past the end of the shards');
      const take = Math.min(n - done, opened[i]!.size - at);
      const { bytesRead } = await opened[i]!.handle.read(scratch, done, take, at);
      if (bytesRead !== take) throw refuse(`weight shard ${shardPaths[i]} changed while it was read`);
      done += take;
    }
    return new Uint8Array(scratch.buffer, scratch.byteOffset, n);
  };
  return { read, close };
}
