// Loading a TF.js graph model (model.json + weight shards) from a local directory, in Node.
// TF.js has no file:// loader without tfjs-node, so this reads the files itself and hands them
// to the converter through an IOHandler. Everything is checked before any tensor is made: a
// refused directory allocates nothing.
import * as fs from 'fs';
import * as path from 'path';
import * as tfconv from '@tensorflow/tfjs-converter';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { openModelFile, readJsonFileIfExists, resolveInside } from '../core/files';
import { isObject } from '../core/validate';
import { NodeDefJson, weightEntryBytes } from '../graphdef/json';

type ModelArtifacts = tf.io.ModelArtifacts;
type WeightsManifestEntry = tf.io.WeightsManifestEntry;

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
 * sees the artifacts before TF.js builds anything from them, and may throw to refuse them.
 */
export async function loadGraphModelAndNodes(dir: string, check?: (artifacts: ModelArtifacts) => void):
  Promise<{ model: GraphModel; nodes: NodeDefJson[] }> {
  const artifacts = await readGraphModelArtifacts(dir);
  check?.(artifacts);
  // Synchronous on purpose: if the converter throws while building the graph, the weight
  // tensors it already made are disposed by tidy instead of leaking.
  let model: GraphModel | undefined;
  try {
    tf.tidy(() => {
      model = tfconv.loadGraphModelSync({ load: () => artifacts }) as unknown as GraphModel;
      return Object.values(model.weights).flat();
    });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw refuse(`${path.join(dir, 'model.json')} could not be loaded by TF.js: ${why}`);
  }
  // The GraphModel keeps its artifacts; the shards are in the weight tensors now, so drop them
  // (the model's whole size in JS memory otherwise, for as long as it lives).
  delete artifacts.weightData;
  return { model: model!, nodes: (artifacts.modelTopology as { node: NodeDefJson[] }).node };
}

/** An IOHandler for `tfconv.loadGraphModel` that reads `dir` with the same checks. */
export function graphModelDirHandler(dir: string): tf.io.IOHandler {
  return { load: () => readGraphModelArtifacts(dir) };
}

/** Reads and checks model.json and its shards; the shards become weightData, one ArrayBuffer each. */
export async function readGraphModelArtifacts(dir: string): Promise<ModelArtifacts> {
  if (typeof dir !== 'string' || dir.length === 0) throw refuse('dir must be a non-empty path');
  const stat = await fs.promises.stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw refuse(e.code === 'ENOENT' ? `model directory ${dir} does not exist` : `cannot read ${dir}: ${e.message}`);
  });
  if (!stat.isDirectory()) throw refuse(`${dir} is not a directory`);
  const jsonPath = path.join(dir, 'model.json');
  const json = await readJsonFileIfExists(jsonPath, 'dir');
  if (json === undefined) throw refuse(`${dir} has no model.json`);
  const { modelJson, groups } = checkModelJson(json, jsonPath);

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
    checkGroupSize(group, sizes, jsonPath);
  }

  const weightData = await Promise.all(shardPaths.map(async (file) => {
    const buf = await fs.promises.readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw refuse(`cannot read weight shard ${file}: ${e.code === 'EACCES' ? 'permission denied' : e.message}`);
    });
    // readFile gives a Buffer of its own; use its memory as is when it spans the whole ArrayBuffer.
    return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
      ? (buf.buffer as ArrayBuffer)
      : (buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  }));
  const weightSpecs = groups.flatMap((g) => g.weights);
  return tf.io.getModelArtifactsForJSONSync(modelJson, weightSpecs, weightData);
}

interface Group {
  paths: string[];
  weights: WeightsManifestEntry[];
  bytes: number; // what the weights need
}

/** Checks the fields GraphModel relies on; returns the manifest groups with their byte counts. */
function checkModelJson(json: unknown, where: string): { modelJson: tf.io.ModelJSON; groups: Group[] } {
  if (!isObject(json)) throw refuse(`${where} must hold a JSON object`);
  if (json.format !== undefined && json.format !== 'graph-model') {
    throw refuse(`${where} has format ${JSON.stringify(json.format)}, not "graph-model"`);
  }
  const topology = json.modelTopology;
  if (!isObject(topology)) throw refuse(`${where} has no modelTopology`);
  if (!Array.isArray(topology.node)) throw refuse(`${where}: modelTopology.node must be a list of nodes`);
  // GraphModel reads versions.producer unconditionally.
  if (!isObject(topology.versions)) throw refuse(`${where}: modelTopology.versions is missing`);
  if (!Array.isArray(json.weightsManifest)) throw refuse(`${where} has no weightsManifest list`);

  const groups: Group[] = json.weightsManifest.map((g: unknown, gi: number) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw refuse(`${where}: weightsManifest[${gi}] needs paths and weights lists`);
    }
    let bytes = 0;
    for (const w of g.weights as unknown[]) bytes += weightBytes(w, `${where}: weightsManifest[${gi}]`);
    for (const p of g.paths as unknown[]) {
      if (typeof p !== 'string') throw refuse(`${where}: weightsManifest[${gi}].paths must hold strings`);
    }
    return { paths: g.paths as string[], weights: g.weights as WeightsManifestEntry[], bytes };
  });

  // Graph structure the converter would otherwise trip over with a TypeError.
  const names = new Set<string>();
  for (const [i, node] of (topology.node as unknown[]).entries()) {
    if (!isObject(node) || typeof node.name !== 'string' || typeof node.op !== 'string') {
      throw refuse(`${where}: modelTopology.node[${i}] needs a name and an op`);
    }
    if (names.has(node.name)) throw refuse(`${where}: two nodes are named '${node.name}'`);
    names.add(node.name);
  }
  const weightNames = new Set(groups.flatMap((g) => g.weights.map((w) => w.name)));
  for (const node of topology.node as { name: string; op: string; input?: unknown }[]) {
    if (node.input !== undefined && !Array.isArray(node.input)) throw refuse(`${where}: node '${node.name}' has a bad input list`);
    for (const input of (node.input ?? []) as unknown[]) {
      const source = typeof input === 'string' ? input.replace(/^\^/, '').split(':')[0]! : '';
      if (!names.has(source)) throw refuse(`${where}: node '${node.name}' reads ${JSON.stringify(input)}, which is no node`);
    }
    // TF.js takes a Const's value from the weight of the same name; without one it fails at run time.
    if (node.op === 'Const' && !weightNames.has(node.name)) {
      throw refuse(`${where}: Const node '${node.name}' has no weight in weightsManifest`);
    }
  }
  return { modelJson: json as unknown as tf.io.ModelJSON, groups };
}

/** Bytes a manifest entry takes in the shards. */
function weightBytes(w: unknown, where: string): number {
  if (!isObject(w) || typeof w.name !== 'string') throw refuse(`${where}: a weight has no name`);
  const shape = w.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw refuse(`${where}: weight '${w.name}' has a bad shape ${JSON.stringify(shape)}`);
  }
  const q = w.quantization;
  const bytes = weightEntryBytes({ shape: shape as number[], dtype: String(w.dtype),
    ...(isObject(q) ? { quantization: { dtype: String(q.dtype) } } : {}) });
  if (bytes === undefined) {
    // Strings are length-prefixed: their size is not in the manifest, so they cannot be checked.
    throw refuse(`${where}: weight '${w.name}' has an unsupported dtype ${JSON.stringify(isObject(q) ? q.dtype : w.dtype)}`);
  }
  return bytes;
}

/** A group's shards must hold exactly the bytes its weights need. */
function checkGroupSize(group: Group, sizes: readonly number[], where: string): void {
  const have = sizes.reduce((a, b) => a + b, 0);
  if (have === group.bytes) return;
  const last = group.paths.length - 1;
  if (last < 0) throw refuse(`${where}: a manifest group needs ${group.bytes} bytes of weights but names no shard`);
  if (have < group.bytes) {
    // The converter cuts shards to one size, the last one no longer: name the first that breaks that.
    const full = Math.max(...sizes);
    const short = sizes.findIndex((s, i) => i < last && s < full);
    const shard = group.paths[short === -1 ? last : short]!;
    throw refuse(`weight shard '${shard}' is short: its group's weights need ${group.bytes} bytes, its shards hold ${have}`);
  }
  throw refuse(`weight shard '${group.paths[last]}' is too long: its group's weights need ${group.bytes} bytes, its shards hold ${have}`);
}
