// The checks a converted graph model passes before any tensor is made, wherever it comes from
// (a directory in Node, a URL in a browser): model.json's fields, its manifest's byte counts, the
// shards' sizes against them, and building the GraphModel from checked artifacts.
import * as tfconv from '@tensorflow/tfjs-converter';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { isObject } from '../core/validate';
import { weightEntryBytes } from '../graphdef/json';

type WeightsManifestEntry = tf.io.WeightsManifestEntry;

/** `argument`: what the caller passed ('dir' or 'url'). */
function refuser(argument: string): (message: string) => EntropixError {
  return (message) => new EntropixError('INVALID_ARGUMENT', message, argument);
}

/**
 * The GraphModel of checked artifacts. Synchronous on purpose: if the converter throws while
 * building the graph, the weight tensors it already made are disposed by tidy instead of leaking.
 */
export function graphModelFromArtifacts(artifacts: tf.io.ModelArtifacts, where: string, argument: string): GraphModel {
  let model: GraphModel | undefined;
  try {
    tf.tidy(() => {
      model = tfconv.loadGraphModelSync({ load: () => artifacts }) as unknown as GraphModel;
      return Object.values(model.weights).flat();
    });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw refuser(argument)(`${where} could not be loaded by TF.js: ${why}`);
  }
  // The GraphModel keeps its artifacts; the shards are in the weight tensors now, so drop them
  // (the model's whole size in JS memory otherwise, for as long as it lives).
  delete artifacts.weightData;
  return model!;
}

export interface Group {
  paths: string[];
  weights: WeightsManifestEntry[];
  bytes: number; // what the weights need
}

/** Checks the fields GraphModel relies on; returns the manifest groups with their byte counts. */
export function checkModelJson(json: unknown, where: string, argument: string): { modelJson: tf.io.ModelJSON; groups: Group[] } {
  const refuse = refuser(argument);
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
    for (const w of g.weights as unknown[]) bytes += weightBytes(w, `${where}: weightsManifest[${gi}]`, refuse);
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
function weightBytes(w: unknown, where: string, refuse: (message: string) => EntropixError): number {
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
export function checkGroupSize(group: Group, sizes: readonly number[], where: string, argument: string): void {
  const refuse = refuser(argument);
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
