// A small typed builder for TF.js graph models: a TensorFlow GraphDef in JSON form (what
// tensorflowjs_converter writes into model.json) plus its weights, written from TypeScript so a
// model can be converted without Python. The attribute names are the ones the converter's op
// mappers read (tfjs-converter/src/operations/op_list/*); TF's own type attributes (T, Tidx, …)
// are written too, so the graph stays a faithful GraphDef.
import { EntropixError } from '../core/errors';
import {
  attr, AttrValueJson, BuildOptions, BuiltGraphModel, DEFAULT_SHARD_BYTES, GraphDType, GraphModelJson,
  NodeDefJson, TensorInfoJson, tensorShape, TF_DTYPE, WeightEntryJson,
} from './json';
import { checkDims, checkDType, checkInt, checkName, ConstantData, sameBytes, sameInts, toWeight, Weight } from './checks';
import { cutShards, floatsToHalfBytes } from './shards';

export type { ConstantData } from './checks';

// ---- Graph tensors ----

/** One node's output in a GraphBuilder's graph. Only the builder that made it accepts it. */
export class GraphTensor {
  /** @internal */
  constructor(
    readonly owner: GraphBuilder,
    /** The node's name. */
    readonly name: string,
    readonly dtype: GraphDType,
    /** Which of the node's outputs (SplitV has several). */
    readonly index = 0,
  ) {}

  /** How a node input names this tensor: `name` for output 0, `name:i` otherwise. */
  get ref(): string {
    return this.index === 0 ? this.name : `${this.name}:${this.index}`;
  }
}

/** A shape, axes or index argument: plain numbers become an int32 Const; a tensor must be int32. */
export type IntsArg = readonly number[] | GraphTensor;
export type IntArg = number | GraphTensor;

export interface StridedSliceMasks {
  beginMask?: number;
  endMask?: number;
  ellipsisMask?: number;
  newAxisMask?: number;
  shrinkAxisMask?: number;
}

/** How `constant` stores a float32 weight in the shards: as is, or as IEEE half values. */
export type WeightStorage = 'float32' | 'float16';

export interface ConstantOptions {
  /**
   * 'float16' stores a float32 constant as IEEE half values (round to nearest even; overflow →
   * ±Inf), halving its bytes; TF.js widens them back to float32 at load, so the graph sees a
   * float32 tensor holding the half-rounded values. Default 'float32' (exact).
   */
  storeAs?: WeightStorage;
}

/** Bytes a weight takes in the shards. */
function storedBytes(w: Weight): number {
  return w.storeAs === 'float16' ? w.bytes.byteLength / 2 : w.bytes.byteLength;
}

/** The bytes a weight is written as: its own, or its float32 values rounded to halves. */
function storedData(w: Weight): Uint8Array {
  if (w.storeAs !== 'float16') return w.bytes;
  return floatsToHalfBytes(new Float32Array(w.bytes.buffer, w.bytes.byteOffset, w.bytes.byteLength / 4));
}

interface NodeRecord {
  def: NodeDefJson;
  dtype: GraphDType;
  weight?: Weight;
  shape?: number[] | null; // placeholders only, for the signature
}

const FLOAT: readonly GraphDType[] = ['float32'];
const NUMERIC: readonly GraphDType[] = ['float32', 'int32'];
const ANY: readonly GraphDType[] = ['float32', 'int32', 'bool'];

/**
 * Builds a GraphDef for a TF.js GraphModel, one method per op. Every op method validates its
 * inputs' dtypes and returns a GraphTensor with the output dtype; shapes are checked by TF.js at
 * run time. Plain-number shape/axis arguments become int32 Const nodes (deduplicated), which
 * keeps them on the CPU: the converter reads them with dataSync(), and that breaks for tensors
 * that live on a GPU (webgpu in Node).
 */
export class GraphBuilder {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly placeholders: string[] = [];
  private readonly outputs = new Map<string, GraphTensor>();
  private readonly autoConsts = new Map<string, GraphTensor>();
  private readonly nextSuffix = new Map<string, number>();
  private readonly scopes: string[] = [];

  // ---- names ----

  /** Runs fn with auto-generated node names prefixed by `prefix/` (explicit names are kept). */
  scope<T>(prefix: string, fn: () => T): T {
    checkName(prefix, 'prefix');
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private autoName(base: string): string {
    const stem = [...this.scopes, base].join('/');
    let i = this.nextSuffix.get(stem) ?? 0;
    let name = i === 0 ? stem : `${stem}_${i}`;
    while (this.nodes.has(name)) name = `${stem}_${++i}`;
    this.nextSuffix.set(stem, i + 1);
    return name;
  }

  private claim(name: string, what: string): string {
    checkName(name, what);
    if (this.nodes.has(name)) {
      throw new EntropixError('INVALID_ARGUMENT', `${what} '${name}' is already a node of this graph`, what);
    }
    return name;
  }

  private addNode(
    name: string,
    op: string,
    inputs: readonly GraphTensor[],
    attrs: Record<string, AttrValueJson>,
    dtype: GraphDType,
    extra: Partial<NodeRecord> = {},
  ): GraphTensor {
    const def: NodeDefJson = { name, op, input: inputs.map((t) => t.ref), attr: attrs };
    this.nodes.set(name, { def, dtype, ...extra });
    return new GraphTensor(this, name, dtype);
  }

  private op(op: string, inputs: readonly GraphTensor[], attrs: Record<string, AttrValueJson>, dtype: GraphDType): GraphTensor {
    return this.addNode(this.autoName(op), op, inputs, attrs, dtype);
  }

  private own(x: unknown, what: string, dtypes: readonly GraphDType[] = ANY): GraphTensor {
    if (!(x instanceof GraphTensor) || x.owner !== this) {
      throw new EntropixError('INVALID_ARGUMENT', `${what} must be a GraphTensor of this GraphBuilder`, what);
    }
    if (!dtypes.includes(x.dtype)) {
      throw new EntropixError('INVALID_DTYPE', `${what} must be ${dtypes.join(' or ')}, got ${x.dtype} ('${x.name}')`, what);
    }
    return x;
  }

  private same(xs: readonly GraphTensor[], what: string): GraphDType {
    const dtype = xs[0]!.dtype;
    for (const x of xs) {
      if (x.dtype !== dtype) {
        throw new EntropixError('INVALID_DTYPE', `${what} need one dtype, got ${xs.map((t) => t.dtype).join(', ')}`, what);
      }
    }
    return dtype;
  }

  // ---- sources ----

  /** A graph input, fed by name. `shape` uses -1 for unknown sizes; null = unknown rank. */
  placeholder(name: string, dtype: GraphDType, shape: readonly number[] | null = null): GraphTensor {
    this.claim(name, 'placeholder');
    checkDType(dtype, 'dtype');
    if (shape !== null) checkDims(shape, 'shape', -1);
    this.placeholders.push(name);
    return this.addNode(name, 'Placeholder', [], { dtype: attr.type(dtype), shape: attr.shape(shape) }, dtype,
      { shape: shape === null ? null : [...shape] });
  }

  /**
   * A weight: a Const node whose values go into the weight shards under the same name (TF.js
   * matches Const nodes to weights by node name). Defining the same name again returns the same
   * node if dtype, shape, values and storage agree. Typed-array data is not copied (float16
   * storage rounds it at build). `options.storeAs: 'float16'` is for float32 constants only
   * (INVALID_DTYPE otherwise); any other value is INVALID_ARGUMENT, argument 'storeAs'.
   */
  constant(name: string, data: ConstantData, shape: readonly number[], dtype?: GraphDType,
    options: ConstantOptions = {}): GraphTensor {
    checkName(name, 'name');
    checkDims(shape, 'shape', 0);
    const storeAs = options.storeAs ?? 'float32';
    if (storeAs !== 'float32' && storeAs !== 'float16') {
      throw new EntropixError('INVALID_ARGUMENT', `storeAs must be 'float32' or 'float16', got ${JSON.stringify(storeAs)}`, 'storeAs');
    }
    const weight = toWeight(data, shape, dtype);
    if (storeAs === 'float16') {
      if (weight.dtype !== 'float32') {
        throw new EntropixError('INVALID_DTYPE', `only float32 constants can be stored as float16, '${name}' is ${weight.dtype}`, 'storeAs');
      }
      weight.storeAs = 'float16';
    }
    const existing = this.nodes.get(name);
    if (existing) {
      const w = existing.weight;
      if (!w || w.dtype !== weight.dtype || w.storeAs !== weight.storeAs || !sameInts(w.shape, weight.shape)
        || !sameBytes(w.bytes, weight.bytes)) {
        throw new EntropixError('INVALID_ARGUMENT', `'${name}' is already a node of this graph with other contents`, 'name');
      }
      return new GraphTensor(this, name, w.dtype);
    }
    const attrs = { dtype: attr.type(weight.dtype), value: attr.tensor(weight.dtype, weight.shape) };
    return this.addNode(name, 'Const', [], attrs, weight.dtype, { weight });
  }

  /** An int32 Const: a scalar for a number, a vector for an array. Deduplicated by value. */
  ints(values: number | readonly number[]): GraphTensor {
    return this.autoConst('int32', values);
  }

  /** A float32 Const: a scalar for a number, a vector for an array. Deduplicated by value. */
  floats(values: number | readonly number[]): GraphTensor {
    return this.autoConst('float32', values);
  }

  private autoConst(dtype: 'int32' | 'float32', values: number | readonly number[]): GraphTensor {
    const list = typeof values === 'number' ? [values] : values;
    const shape = typeof values === 'number' ? [] : [list.length];
    const key = `${dtype}[${shape}]:${list.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`;
    const hit = this.autoConsts.get(key);
    if (hit) return hit;
    const weight = toWeight(list, shape, dtype);
    const name = this.autoName(dtype === 'int32' ? 'const_i32' : 'const_f32');
    const attrs = { dtype: attr.type(dtype), value: attr.tensor(dtype, shape) };
    const t = this.addNode(name, 'Const', [], attrs, dtype, { weight });
    this.autoConsts.set(key, t);
    return t;
  }

  private intsArg(x: IntsArg, what: string): GraphTensor {
    if (x instanceof GraphTensor) return this.own(x, what, ['int32']);
    if (!Array.isArray(x)) throw new EntropixError('INVALID_ARGUMENT', `${what} must be an array of integers or an int32 GraphTensor`, what);
    x.forEach((v, i) => checkInt(v, `${what}[${i}]`));
    return this.ints(x);
  }

  private intArg(x: IntArg, what: string): GraphTensor {
    if (x instanceof GraphTensor) return this.own(x, what, ['int32']);
    checkInt(x, what);
    return this.ints(x);
  }

  // ---- outputs ----

  /** Names an output: an Identity node called `name`, listed in the signature. */
  output(name: string, x: GraphTensor): GraphTensor {
    this.claim(name, 'output');
    this.own(x, 'x');
    const t = this.addNode(name, 'Identity', [x], { T: attr.type(x.dtype) }, x.dtype);
    this.outputs.set(name, t);
    return t;
  }

  // ---- element-wise ----

  private unary(op: string, x: GraphTensor, dtypes: readonly GraphDType[]): GraphTensor {
    this.own(x, 'x', dtypes);
    return this.op(op, [x], { T: attr.type(x.dtype) }, x.dtype);
  }

  private binary(op: string, a: GraphTensor, b: GraphTensor, dtypes: readonly GraphDType[]): GraphTensor {
    this.own(a, 'a', dtypes);
    this.own(b, 'b', dtypes);
    const dtype = this.same([a, b], `${op}'s inputs`);
    return this.op(op, [a, b], { T: attr.type(dtype) }, dtype);
  }

  square(x: GraphTensor): GraphTensor { return this.unary('Square', x, NUMERIC); }
  rsqrt(x: GraphTensor): GraphTensor { return this.unary('Rsqrt', x, FLOAT); }
  sigmoid(x: GraphTensor): GraphTensor { return this.unary('Sigmoid', x, FLOAT); }
  tanh(x: GraphTensor): GraphTensor { return this.unary('Tanh', x, FLOAT); }
  /** Softmax over the last axis. */
  softmax(x: GraphTensor): GraphTensor { return this.unary('Softmax', x, FLOAT); }

  add(a: GraphTensor, b: GraphTensor): GraphTensor { return this.binary('AddV2', a, b, NUMERIC); }
  sub(a: GraphTensor, b: GraphTensor): GraphTensor { return this.binary('Sub', a, b, NUMERIC); }
  mul(a: GraphTensor, b: GraphTensor): GraphTensor { return this.binary('Mul', a, b, NUMERIC); }

  // ---- linear algebra, reductions ----

  /** MatMul of rank-2 tensors (TF.js also batches higher ranks, but TF does not). */
  matMul(a: GraphTensor, b: GraphTensor, opts: { transposeA?: boolean; transposeB?: boolean } = {}): GraphTensor {
    this.own(a, 'a', FLOAT);
    this.own(b, 'b', FLOAT);
    return this.op('MatMul', [a, b], {
      T: attr.type('float32'),
      transpose_a: attr.bool(opts.transposeA ?? false),
      transpose_b: attr.bool(opts.transposeB ?? false),
    }, 'float32');
  }

  /** BatchMatMulV2: batched matmul with broadcasting batch dims; adj = transpose for real values. */
  batchMatMul(a: GraphTensor, b: GraphTensor, opts: { adjX?: boolean; adjY?: boolean } = {}): GraphTensor {
    this.own(a, 'a', FLOAT);
    this.own(b, 'b', FLOAT);
    return this.op('BatchMatMulV2', [a, b], {
      T: attr.type('float32'),
      adj_x: attr.bool(opts.adjX ?? false),
      adj_y: attr.bool(opts.adjY ?? false),
    }, 'float32');
  }

  mean(x: GraphTensor, axes: IntsArg, opts: { keepDims?: boolean } = {}): GraphTensor {
    this.own(x, 'x', FLOAT);
    const axis = this.intsArg(axes, 'axes');
    return this.op('Mean', [x, axis], {
      T: attr.type('float32'), Tidx: attr.type('int32'), keep_dims: attr.bool(opts.keepDims ?? false),
    }, 'float32');
  }

  // ---- shapes, slicing, joining ----

  reshape(x: GraphTensor, shape: IntsArg): GraphTensor {
    this.own(x, 'x');
    const s = this.intsArg(shape, 'shape');
    return this.op('Reshape', [x, s], { T: attr.type(x.dtype), Tshape: attr.type('int32') }, x.dtype);
  }

  transpose(x: GraphTensor, perm: IntsArg): GraphTensor {
    this.own(x, 'x');
    const p = this.intsArg(perm, 'perm');
    return this.op('Transpose', [x, p], { T: attr.type(x.dtype), Tperm: attr.type('int32') }, x.dtype);
  }

  /** GatherV2: `params` indexed by int32 `indices` along `axis`, with `batchDims` leading batch dims. */
  gather(params: GraphTensor, indices: GraphTensor, opts: { axis?: IntArg; batchDims?: number } = {}): GraphTensor {
    this.own(params, 'params');
    this.own(indices, 'indices', ['int32']);
    const axis = this.intArg(opts.axis ?? 0, 'axis');
    const batchDims = opts.batchDims ?? 0;
    checkInt(batchDims, 'batchDims');
    return this.op('GatherV2', [params, indices, axis], {
      Tparams: attr.type(params.dtype), Tindices: attr.type('int32'), Taxis: attr.type('int32'),
      batch_dims: attr.int(batchDims),
    }, params.dtype);
  }

  /** ConcatV2 along `axis`. */
  concat(xs: readonly GraphTensor[], axis: IntArg): GraphTensor {
    if (!Array.isArray(xs) || xs.length === 0) {
      throw new EntropixError('INVALID_ARGUMENT', 'concat needs at least one tensor', 'xs');
    }
    xs.forEach((x, i) => this.own(x, `xs[${i}]`));
    const dtype = this.same(xs, 'concat\'s inputs');
    const a = this.intArg(axis, 'axis');
    // The converter slices the inputs to N (default 2), so N must be written.
    return this.op('ConcatV2', [...xs, a], {
      N: attr.int(xs.length), T: attr.type(dtype), Tidx: attr.type('int32'),
    }, dtype);
  }

  /** SplitV: `x` cut along `axis` into parts of the given sizes (one node, one output per part). */
  splitV(x: GraphTensor, sizes: readonly number[], axis: number): GraphTensor[] {
    this.own(x, 'x');
    if (!Array.isArray(sizes) || sizes.length === 0) {
      throw new EntropixError('INVALID_ARGUMENT', 'splitV needs at least one size', 'sizes');
    }
    sizes.forEach((v, i) => checkInt(v, `sizes[${i}]`));
    checkInt(axis, 'axis');
    const node = this.op('SplitV', [x, this.ints(sizes), this.ints(axis)], {
      T: attr.type(x.dtype), Tlen: attr.type('int32'), num_split: attr.int(sizes.length),
    }, x.dtype);
    return sizes.map((_, i) => new GraphTensor(this, node.name, x.dtype, i));
  }

  /** Pack (tf.stack) along `axis`. */
  pack(xs: readonly GraphTensor[], opts: { axis?: number } = {}): GraphTensor {
    if (!Array.isArray(xs) || xs.length === 0) {
      throw new EntropixError('INVALID_ARGUMENT', 'pack needs at least one tensor', 'xs');
    }
    xs.forEach((x, i) => this.own(x, `xs[${i}]`));
    const dtype = this.same(xs, 'pack\'s inputs');
    const axis = opts.axis ?? 0;
    checkInt(axis, 'axis');
    return this.op('Pack', [...xs], { N: attr.int(xs.length), T: attr.type(dtype), axis: attr.int(axis) }, dtype);
  }

  /**
   * StridedSlice with TF's bit masks. `strides` defaults to ones. Note: on GPU backends begin,
   * end and strides must be CPU-resident (Consts), as for every shape argument.
   */
  stridedSlice(x: GraphTensor, begin: IntsArg, end: IntsArg, strides?: IntsArg, masks: StridedSliceMasks = {}): GraphTensor {
    this.own(x, 'x');
    const b = this.intsArg(begin, 'begin');
    const e = this.intsArg(end, 'end');
    let s: GraphTensor;
    if (strides !== undefined) {
      s = this.intsArg(strides, 'strides');
    } else if (Array.isArray(begin)) {
      s = this.ints(begin.map(() => 1));
    } else {
      throw new EntropixError('INVALID_ARGUMENT', 'strides is needed when begin is a GraphTensor', 'strides');
    }
    const mask = (v: number | undefined, what: string): AttrValueJson => {
      const m = v ?? 0;
      checkInt(m, what);
      if (m < 0) throw new EntropixError('INVALID_ARGUMENT', `${what} must be a non-negative bit mask, got ${m}`, what);
      return attr.int(m);
    };
    return this.op('StridedSlice', [x, b, e, s], {
      T: attr.type(x.dtype), Index: attr.type('int32'),
      begin_mask: mask(masks.beginMask, 'beginMask'),
      end_mask: mask(masks.endMask, 'endMask'),
      ellipsis_mask: mask(masks.ellipsisMask, 'ellipsisMask'),
      new_axis_mask: mask(masks.newAxisMask, 'newAxisMask'),
      shrink_axis_mask: mask(masks.shrinkAxisMask, 'shrinkAxisMask'),
    }, x.dtype);
  }

  /** Shape: x's shape as an int32 vector (created on the CPU by the converter). */
  shape(x: GraphTensor): GraphTensor {
    this.own(x, 'x');
    return this.op('Shape', [x], { T: attr.type(x.dtype), out_type: attr.type('int32') }, 'int32');
  }

  // ---- output ----

  /**
   * model.json and the weight shards. Nodes that no output depends on are left out (placeholders
   * stay: they are the signature's inputs). Weights are concatenated in node order and cut into
   * shards of `shardBytes`, as tensorflowjs_converter does; a weight may span two shards.
   */
  build(options: BuildOptions = {}): BuiltGraphModel {
    const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
    checkInt(shardBytes, 'shardBytes');
    if (shardBytes < 1) throw new EntropixError('INVALID_ARGUMENT', `shardBytes must be positive, got ${shardBytes}`, 'shardBytes');
    const producer = options.producer ?? 1982;
    checkInt(producer, 'producer');
    if (this.outputs.size === 0) {
      throw new EntropixError('INVALID_ARGUMENT', 'the graph has no outputs: name at least one with output()', 'outputs');
    }

    const used = this.reachable();
    const kept = [...this.nodes.values()].filter((n) => used.has(n.def.name) || n.def.op === 'Placeholder');
    const weights = kept.filter((n) => n.weight !== undefined);
    const total = weights.reduce((s, n) => s + storedBytes(n.weight!), 0);
    // float16 weights are rounded one at a time, as they are copied in.
    const shards = cutShards(weights.map((n) => () => storedData(n.weight!)), total, shardBytes);
    const paths = shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`);

    const info = (name: string, dtype: GraphDType, shape?: number[] | null): TensorInfoJson => ({
      name: `${name}:0`, dtype: TF_DTYPE[dtype], ...(shape !== undefined ? { tensorShape: tensorShape(shape) } : {}),
    });
    const inputs: Record<string, TensorInfoJson> = {};
    for (const name of this.placeholders) {
      const n = this.nodes.get(name)!;
      inputs[name] = info(name, n.dtype, n.shape);
    }
    const outputs: Record<string, TensorInfoJson> = {};
    for (const [name, t] of this.outputs) outputs[name] = info(name, t.dtype);

    const modelJson: GraphModelJson = {
      format: 'graph-model',
      generatedBy: 'entropix-tfjs GraphBuilder',
      convertedBy: 'entropix-tfjs GraphBuilder',
      modelTopology: { node: kept.map((n) => structuredClone(n.def)), versions: { producer } },
      weightsManifest: [{
        paths,
        weights: weights.map((n): WeightEntryJson => ({
          name: n.def.name, shape: [...n.weight!.shape], dtype: n.weight!.dtype,
          ...(n.weight!.storeAs === 'float16'
            ? { quantization: { dtype: 'float16' as const, original_dtype: 'float32' as const } } : {}),
        })),
      }],
      signature: { inputs, outputs },
      ...(options.metadata ? { userDefinedMetadata: structuredClone(options.metadata) } : {}),
    };
    return { modelJson, weightData: shards };
  }

  /** Names of the nodes the outputs depend on. */
  private reachable(): Set<string> {
    const seen = new Set<string>();
    const stack = [...this.outputs.keys()];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      for (const input of this.nodes.get(name)!.def.input ?? []) stack.push(input.split(':')[0]!);
    }
    return seen;
  }
}
