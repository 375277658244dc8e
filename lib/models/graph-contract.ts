// What a converted model's graph must be before anything is built from it: a graph our emitter
// could have written (known ops, every input a node, acyclic) with the inputs and outputs the
// decoder feeds and reads, and sizes that agree with config.json. model.json and config.json
// come from the same untrusted directory; either may lie, and a mismatch must be refused here,
// not met as a raw TF.js error (or a heap exhaustion) in the first forward.
import { EntropixError } from '../core/errors';
import type { NodeDefJson } from '../graphdef/json';
import type { ModelConfig } from './hf-config';

/**
 * The ops lib/graphdef/builder.ts writes. A new architecture that needs another op adds it here
 * (and in the executor).
 */
export const KNOWN_OPS: ReadonlySet<string> = new Set([
  'Placeholder', 'Const', 'Identity', 'Shape', 'StridedSlice', 'Pack', 'Reshape', 'Transpose', 'ExpandDims',
  'Tile', 'ConcatV2', 'SplitV', 'GatherV2', 'MatMul', 'BatchMatMulV2', 'Mean', 'Cast', 'Fill', 'Range', 'SelectV2',
  'AddV2', 'Sub', 'Mul', 'RealDiv', 'Maximum', 'Neg', 'Square', 'Rsqrt', 'Sigmoid', 'Tanh', 'Sin', 'Cos', 'Softmax',
  'GreaterEqual', 'Less',
]);

export interface GraphWeightInfo {
  name: string;
  shape: number[];
}

/** The placeholder's shape from its attr (-1: unknown), or null when it has none. */
function placeholderShape(node: NodeDefJson): number[] | null {
  const dims = (node.attr as { shape?: { shape?: { dim?: { size?: string | number }[] } } } | undefined)?.shape?.shape?.dim;
  return Array.isArray(dims) ? dims.map((d) => Number(d?.size ?? -1)) : null;
}

/**
 * Refuses (INVALID_ARGUMENT, argument 'dir', the message names `source`) a graph that is not
 * one the decoder can run with `config`: unknown ops, inputs naming no node, cycles (a node
 * reading itself included), missing inputs or outputs, a layer count, kv heads, head_dim or
 * vocabulary that disagree with config.json. Format 1 graphs take rope_cos/rope_sin, format 2 rope
 * (GPT-2's, position_ids).
 */
export function checkGraphContract(nodes: readonly NodeDefJson[], weights: readonly GraphWeightInfo[],
  config: ModelConfig, format: number, source: string): void {
  const refuse = (why: string) => new EntropixError('INVALID_ARGUMENT', `${source}: ${why}`, 'dir');
  const byName = new Map<string, NodeDefJson>();
  for (const node of nodes) {
    if (typeof node?.name !== 'string' || typeof node.op !== 'string') throw refuse('a node has no name or op');
    if (byName.has(node.name)) throw refuse(`two nodes are named '${node.name}'`);
    if (!KNOWN_OPS.has(node.op)) throw refuse(`node '${node.name}' has op '${node.op}', which this library does not write or run`);
    byName.set(node.name, node);
  }
  // Inputs, then a topological order (Kahn): what is never ordered lies on a cycle.
  const readers = new Map<string, string[]>();
  const pending = new Map<string, number>();
  for (const node of nodes) {
    const inputs = node.input ?? [];
    if (!Array.isArray(inputs)) throw refuse(`node '${node.name}' has inputs that are not a list`);
    pending.set(node.name, inputs.length);
    for (const input of inputs) {
      const from = typeof input === 'string' ? input.replace(/^\^/, '').split(':')[0]! : '';
      if (!byName.has(from)) throw refuse(`node '${node.name}' reads '${String(input)}', which is no node of the graph`);
      readers.set(from, [...(readers.get(from) ?? []), node.name]);
    }
  }
  const ready = nodes.filter((n) => pending.get(n.name) === 0).map((n) => n.name);
  let ordered = 0;
  while (ready.length > 0) {
    const name = ready.pop()!;
    ordered++;
    for (const r of readers.get(name) ?? []) {
      const left = pending.get(r)! - 1;
      pending.set(r, left);
      if (left === 0) ready.push(r);
    }
  }
  if (ordered < nodes.length) {
    const stuck = nodes.find((n) => pending.get(n.name)! > 0)!;
    throw refuse(`the graph has a cycle (through '${stuck.name}')`);
  }

  // The decoder's inputs and outputs, and the layer count they imply.
  const placeholders = new Map(nodes.filter((n) => n.op === 'Placeholder').map((n) => [n.name, n]));
  const positional = config.gpt2 ? ['position_ids'] : format === 1 ? ['rope_cos', 'rope_sin'] : ['rope'];
  const required = ['input_ids', 'attention_bias', ...positional,
    ...(config.slidingLayers ? ['attention_bias_sliding'] : []), ...(config.ropeLocalTheta !== undefined ? ['rope_sliding'] : [])];
  for (const name of required) if (!placeholders.has(name)) throw refuse(`the graph has no input '${name}'`);
  const layers = [...placeholders.keys()].filter((n) => /^past_key_\d+$/.test(n)).length;
  if (layers !== config.numLayers) {
    throw refuse(`the graph has ${layers} layers (past_key_i inputs), config.json says num_hidden_layers ${config.numLayers}`);
  }
  for (let i = 0; i < layers; i++) {
    for (const kind of ['key', 'value']) {
      const node = placeholders.get(`past_${kind}_${i}`);
      if (!node) throw refuse(`the graph has no input 'past_${kind}_${i}'`);
      const shape = placeholderShape(node);
      if (shape && shape.length !== 4) throw refuse(`input 'past_${kind}_${i}' has rank ${shape.length}, not 4`);
      if (shape && shape[1] !== -1 && shape[1] !== config.numKvHeads) {
        throw refuse(`input 'past_${kind}_${i}' has ${shape[1]} kv heads, config.json says num_key_value_heads ${config.numKvHeads}`);
      }
      if (shape && shape[3] !== -1 && shape[3] !== config.headDim) {
        throw refuse(`input 'past_${kind}_${i}' has head size ${shape[3]}, config.json implies head_dim ${config.headDim}`);
      }
    }
  }
  const outputs = ['logits', 'attention_scores', ...Array.from({ length: layers }, (_, i) => [`present_key_${i}`, `present_value_${i}`]).flat()];
  for (const name of outputs) if (!byName.has(name)) throw refuse(`the graph has no output '${name}'`);

  // The vocabulary: the embedding's rows and the logits' width.
  const weight = new Map(weights.map((w) => [w.name, w.shape]));
  const embed = weight.get('model.embed_tokens.weight');
  if (embed && (embed[0] !== config.vocabSize || embed[1] !== config.hiddenSize)) {
    throw refuse(`the embedding is [${embed}], config.json implies [${config.vocabSize}, ${config.hiddenSize}] (vocab_size, hidden_size)`);
  }
  const head = weight.get('lm_head.weight');
  if (head && !head.includes(config.vocabSize)) {
    throw refuse(`lm_head is [${head}], its logits do not have config.json's vocab_size ${config.vocabSize}`);
  }
}
