// The Llama-family decoder as a TF.js GraphDef: lib/models/llama-forward.ts's decoderForward,
// run over GraphBuilder (whose ops mirror tf's), so the native model and the graph share one
// definition. Format 2 (model.json userDefinedMetadata.entropixGraphFormat):
//
// Inputs:  input_ids int32 [B, T]; rope float32 [B, T, hd, hd] (rotaryMatrices), or for GPT-2
//          position_ids int32 [B, T] (each new token's position, real tokens counted);
//          attention_bias float32 [B, 1, g·T, S] (S = P + T, g = Hq / Hkv copies);
//          attention_bias_sliding, the same within the window (only when some layers slide: Gemma 2/3);
//          rope_sliding, the sliding layers' own rotary [B, T, hd, hd] (only Gemma 3: rope_local_base_freq);
//          past_key_{i}, past_value_{i} float32 [B, Hkv, P, hd] per layer (P may be 0).
// Outputs: logits [B, V] (last position); attention_scores [B, Hq, S] (last layer, last query
//          row, q·k/√hd before mask); present_key_{i}, present_value_{i} [B, Hkv, S, hd].
// Weights: llama-tensors.ts's layout (fused q/k/v and gate/up, projections [in, out]). Graphs
// without a format (version 1, converted before) are still read by loadModel.
import { EntropixError } from '../core/errors';
import { GraphBuilder, GraphTensor } from '../graphdef/builder';
import type { BuiltGraphModel, BuildOptions } from '../graphdef/json';
import type { ModelConfig } from './hf-config';
import { decoderForward, LlamaOps } from './llama-forward';
import { assembleWeights, GRAPH_FORMAT_VERSION, LlamaWeightSpec, llamaWeightSpecs, withoutTiedEmbedding } from './llama-tensors';

export type LlamaGraphDType = 'float32' | 'float16';

/**
 * Refuses a weight dtype the graph writer cannot store (INVALID_ARGUMENT, argument
 * 'options.dtype'): 'float32', or 'float16' (IEEE halves TF.js widens to float32 at load).
 */
export function checkGraphDType(dtype: unknown): asserts dtype is LlamaGraphDType {
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new EntropixError('INVALID_ARGUMENT', `dtype must be 'float32' or 'float16', got ${JSON.stringify(dtype)}`, 'options.dtype');
  }
}

/**
 * The decoder's ops on a GraphBuilder. Sizes known only at run time (B, T, S) are int32 scalars;
 * each distinct shape is packed once and shared, since the graph executor pays per node.
 */
function graphOps(g: GraphBuilder): LlamaOps<GraphTensor, GraphTensor> {
  const packed = new Map<string, GraphTensor>();
  const ids = new Map<GraphTensor, number>();
  const shapeOf = (dims: readonly (number | GraphTensor)[]): readonly number[] | GraphTensor => {
    if (dims.every((x) => typeof x === 'number')) return dims as number[];
    const idOf = (t: GraphTensor) => ids.get(t) ?? ids.set(t, ids.size).get(t)!;
    const key = dims.map((x) => (typeof x === 'number' ? `${x}` : `t${idOf(x)}`)).join(',');
    let shape = packed.get(key);
    if (!shape) {
      shape = g.pack(dims.map((x) => (typeof x === 'number' ? g.ints(x) : x)));
      packed.set(key, shape);
    }
    return shape;
  };
  return {
    matMul: (a, b) => g.matMul(a, b),
    batchMatMul: (a, b, transposeB = false) => g.batchMatMul(a, b, { adjY: transposeB }),
    add: (a, b) => g.add(a, b),
    sub: (a, b) => g.sub(a, b),
    mul: (a, b) => g.mul(a, b),
    square: (x) => g.square(x),
    rsqrt: (x) => g.rsqrt(x),
    sigmoid: (x) => g.sigmoid(x),
    tanh: (x) => g.tanh(x),
    softmax: (x) => g.softmax(x),
    meanLast: (x) => g.mean(x, [-1], { keepDims: true }),
    scalar: (v) => g.floats(v),
    reshape: (x, dims) => g.reshape(x, shapeOf(dims)),
    transpose: (x, perm) => g.transpose(x, perm),
    concat: (xs, axis) => g.concat(xs, axis),
    split: (x, sizes, axis) => g.splitV(x, sizes, axis),
    embed: (table, idsT) => g.gather(table, idsT),
    embedColumns: (table, idsT) => g.transpose(g.gather(table, g.reshape(idsT, shapeOf([-1])), { axis: 1 }), [1, 0]),
    takeLast: (x, axis, rank) => {
      const all = (1 << rank) - 1;
      const begin = Array.from({ length: rank }, (_, i) => (i === axis ? -1 : 0));
      return g.stridedSlice(x, begin, new Array<number>(rank).fill(0), new Array<number>(rank).fill(1),
        { beginMask: all & ~(1 << axis), endMask: all & ~(1 << axis), shrinkAxisMask: 1 << axis });
    },
  };
}

/**
 * Emits the decoder for `config`. `weight(spec)` returns a weight's float32 values in the
 * forward's layout (the caller has checked them); the arrays are not copied until `build`. With
 * dtype 'float16' the weights are stored as IEEE halves (rounded to nearest even); the graph's
 * own scalars (eps, 1/√hd) and int32 shapes stay float32/int32.
 */
export function buildLlamaGraph(
  config: ModelConfig, weight: (spec: LlamaWeightSpec) => Float32Array, dtype: LlamaGraphDType = 'float32',
  buildOptions: BuildOptions = {},
): BuiltGraphModel {
  checkGraphDType(dtype);
  const g = new GraphBuilder();
  const { numKvHeads: hkv, headDim: hd } = config;
  const weights = assembleWeights(withoutTiedEmbedding(llamaWeightSpecs(config), config.tieWordEmbeddings), config.numLayers,
    (spec) => g.constant(spec.name, weight(spec), spec.shape, 'float32', { storeAs: dtype }));

  const ids = g.placeholder('input_ids', 'int32', [-1, -1]);
  // GPT-2 adds learned position embeddings where the others rotate q and k.
  const positional = config.gpt2
    ? { positions: g.placeholder('position_ids', 'int32', [-1, -1]) }
    : { rope: g.placeholder('rope', 'float32', [-1, -1, hd, hd]) };
  const bias = g.placeholder('attention_bias', 'float32', [-1, 1, -1, -1]);
  const slidingBias = config.slidingLayers ? g.placeholder('attention_bias_sliding', 'float32', [-1, 1, -1, -1]) : null;
  const ropeSliding = config.ropeLocalTheta !== undefined ? g.placeholder('rope_sliding', 'float32', [-1, -1, hd, hd]) : null;
  const keys: GraphTensor[] = [];
  const values: GraphTensor[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    keys.push(g.placeholder(`past_key_${i}`, 'float32', [-1, hkv, -1, hd]));
    values.push(g.placeholder(`past_value_${i}`, 'float32', [-1, hkv, -1, hd]));
  }
  // B and T from input_ids [B, T], S from attention_bias [B, 1, g·T, S]: int32 scalars.
  const { B, T, S } = g.scope('dims', () => {
    const dim = (shape: GraphTensor, i: number) => g.stridedSlice(shape, [i], [i + 1], [1], { shrinkAxisMask: 1 });
    const idsShape = g.shape(ids);
    return { B: dim(idsShape, 0), T: dim(idsShape, 1), S: dim(g.shape(bias), 3) };
  });
  const out = decoderForward(graphOps(g), config, weights, {
    ids, ...positional, bias, ...(slidingBias ? { slidingBias } : {}), ...(ropeSliding ? { ropeSliding } : {}), past: { keys, values }, batch: B, steps: T, total: S,
  });
  g.output('logits', out.logits);
  g.output('attention_scores', out.attentionScores);
  out.keys.forEach((k, i) => g.output(`present_key_${i}`, k));
  out.values.forEach((v, i) => g.output(`present_value_${i}`, v));
  return g.build({ ...buildOptions, metadata: { ...buildOptions.metadata, entropixGraphFormat: GRAPH_FORMAT_VERSION } });
}
