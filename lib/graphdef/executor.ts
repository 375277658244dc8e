// A lean executor for the GraphDefs this package writes: the graph is compiled once into a list
// of steps (inputs resolved to slots, attributes decoded, each intermediate freed after its last
// use), and run with one tf op per node. TF.js's GraphExecutor pays far more per node (name
// parsing, parameter look-up and disposal bookkeeping on every call): on wasm it made the
// converted graph 2–3× slower than the same ops run eagerly (benchmarks/model.ts). Shape
// bookkeeping (Shape, StridedSlice and Pack of shapes, shape Consts) runs on the host, with no
// kernels. A graph with an op this executor does not know is left to TF.js (compileGraph: null).
// On wasm the weight matrices may be PackedMatrix constants (lib/models/graph-matrices.ts):
// MatMul and the tied head's column GatherV2 run on them there.
import type { Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { concatOnHeap, splitOnHeap, transposeOnHeap } from '../wasm/layout';
import { PackedMatrix } from '../wasm/packed-matrices';
import { batchedMatMul } from '../wasm/attention';
import type { AttrValueJson, NodeDefJson } from './json';
import { findFusions, Fused } from './fusion';
import { maskedSoftmax, rmsNorm, swiglu } from '../wasm/fused';

/** A value in the executor: a tensor, a packed weight matrix, or a small int32 array known on the host (shapes, axes). */
type Value = Tensor | PackedMatrix | HostInts;

class HostInts {
  constructor(readonly values: number[], readonly scalar: boolean) {}
  toTensor(): Tensor {
    return this.scalar ? tf.scalar(this.values[0]!, 'int32') : tf.tensor1d(this.values, 'int32');
  }
}

type Attrs = Record<string, AttrValueJson>;
type OpFn = (inputs: Value[], attrs: Attrs) => Value[];

const int = (a: Attrs, k: string, d = 0): number => (a[k] && 'i' in a[k]! ? Number((a[k] as { i: string }).i) : d);
const bool = (a: Attrs, k: string): boolean => (a[k] && 'b' in a[k]! ? (a[k] as { b: boolean }).b : false);
const tensor = (v: Value): Tensor => {
  if (v instanceof PackedMatrix) throw new EntropixError('INVALID_ARGUMENT', 'a packed weight matrix feeds an op other than MatMul', 'graph');
  return v instanceof HostInts ? v.toTensor() : v;
};
const ints = (v: Value): number[] => (v instanceof HostInts ? v.values : Array.from(tensor(v).dataSync()));
const one = (v: Value): number => ints(v)[0]!;
const unary = (f: (x: Tensor) => Tensor): OpFn => ([x]) => [f(tensor(x!))];
const binary = (f: (a: Tensor, b: Tensor) => Tensor): OpFn => ([a, b]) => [f(tensor(a!), tensor(b!))];

/** StridedSlice of a host vector (shape arithmetic): rank 1, no ellipsis or new axes. */
function hostStridedSlice(x: HostInts, begin: number[], end: number[], strides: number[], a: Attrs): HostInts | null {
  if (x.scalar || begin.length !== 1 || int(a, 'ellipsis_mask') !== 0 || int(a, 'new_axis_mask') !== 0) return null;
  const n = x.values.length;
  const stride = strides[0] ?? 1;
  if (stride !== 1) return null;
  const clamp = (i: number) => Math.min(n, Math.max(0, i < 0 ? i + n : i));
  let b = int(a, 'begin_mask') & 1 ? 0 : clamp(begin[0]!);
  const shrink = (int(a, 'shrink_axis_mask') & 1) !== 0;
  if (shrink) {
    b = begin[0]! < 0 ? begin[0]! + n : begin[0]!;
    return b >= 0 && b < n ? new HostInts([x.values[b]!], true) : null;
  }
  const e = int(a, 'end_mask') & 1 ? n : clamp(end[0]!);
  return new HostInts(x.values.slice(b, Math.max(b, e)), false);
}

// The ops the graphs of lib/models/llama-graph.ts use, and those of format 1 (Neg, ExpandDims).
const OPS: Record<string, OpFn> = {
  Identity: ([x]) => [x!],
  Shape: ([x]) => [new HostInts(tensor(x!).shape.slice(), false)],
  StridedSlice: ([x, b, e, s], a) => {
    const [begin, end, strides] = [ints(b!), ints(e!), ints(s!)];
    const host = x instanceof HostInts ? hostStridedSlice(x, begin, end, strides, a) : null;
    if (host) return [host];
    return [tf.stridedSlice(tensor(x!), begin, end, strides, int(a, 'begin_mask'), int(a, 'end_mask'),
      int(a, 'ellipsis_mask'), int(a, 'new_axis_mask'), int(a, 'shrink_axis_mask'))];
  },
  Pack: (xs, a) => {
    const axis = int(a, 'axis');
    if (axis === 0 && xs.every((x) => x instanceof HostInts && x.scalar)) {
      return [new HostInts(xs.map((x) => (x as HostInts).values[0]!), false)];
    }
    return [tf.stack(xs.map(tensor), axis)];
  },
  Reshape: ([x, s]) => [tf.reshape(tensor(x!), ints(s!))],
  Transpose: ([x, p]) => [transposeOnHeap(tensor(x!), ints(p!))],
  ExpandDims: ([x, axis]) => [tf.expandDims(tensor(x!), one(axis!))],
  ConcatV2: (xs, a) => {
    const n = int(a, 'N', xs.length - 1);
    const t = xs.slice(0, n).map(tensor);
    const axis = one(xs[n]!);
    return [concatOnHeap(t, axis < 0 && t[0] ? axis + t[0].rank : axis)];
  },
  SplitV: ([x, sizes, axis]) => {
    const t = tensor(x!);
    const a = one(axis!);
    return splitOnHeap(t, ints(sizes!), a < 0 ? a + t.rank : a);
  },
  GatherV2: ([p, i, axis], a) => {
    if (p instanceof PackedMatrix) { // columns of W [k, n]: [k, ...ids.shape]
      if (one(axis!) !== 1 || int(a, 'batch_dims') !== 0) throw new EntropixError('INVALID_ARGUMENT', 'GatherV2 of a packed matrix reads columns', 'graph');
      const ids = tensor(i!);
      return [tf.tidy(() => tf.reshape(tf.transpose(p.owner.columns(p, ids)), [p.k, ...ids.shape]))];
    }
    return [tf.gather(tensor(p!), tensor(i!), one(axis!), int(a, 'batch_dims'))];
  },
  MatMul: ([x, y], a) => {
    if (y instanceof PackedMatrix && !bool(a, 'transpose_a') && !bool(a, 'transpose_b')) return [y.owner.matMul(tensor(x!), y)];
    return [tf.matMul(tensor(x!), tensor(y!), bool(a, 'transpose_a'), bool(a, 'transpose_b'))];
  },
  BatchMatMulV2: ([x, y], a) => [bool(a, 'adj_x') ? tf.matMul(tensor(x!), tensor(y!), true, bool(a, 'adj_y'))
    : batchedMatMul(tensor(x!), tensor(y!), bool(a, 'adj_y'))],
  Mean: ([x, axes], a) => [tf.mean(tensor(x!), ints(axes!), bool(a, 'keep_dims'))],
  AddV2: binary(tf.add),
  Sub: binary(tf.sub),
  Mul: binary(tf.mul),
  Neg: unary(tf.neg),
  Square: unary(tf.square),
  Rsqrt: unary(tf.rsqrt),
  Sigmoid: unary(tf.sigmoid),
  Tanh: unary(tf.tanh),
  Softmax: unary((x) => tf.softmax(x)),
};

/** The op that runs a fused chain (fusion.ts), with the chain's own ops where the fused one does not apply. */
function fusedOp(f: Fused): OpFn {
  const lastAxis = (t: Tensor, axis: number) => (axis < 0 ? axis + t.rank : axis) === t.rank - 1;
  switch (f.op) {
    case 'rmsNorm':
      return ([x, w]) => {
        const t = tensor(x!);
        if (lastAxis(t, f.axis)) return [rmsNorm(t, tensor(w!), f.eps)];
        return [tf.tidy(() => tf.mul(tf.mul(t, tf.rsqrt(tf.add(tf.mean(tf.square(t), f.axis, true), tf.scalar(f.eps)))), tensor(w!)))];
      };
    case 'swiglu':
      return ([x]) => {
        const t = tensor(x!);
        const axis = f.axis < 0 ? f.axis + t.rank : f.axis;
        if (axis < 0 || axis >= t.rank || t.shape[axis] !== 2 * f.half) {
          throw new EntropixError('INVALID_ARGUMENT', `SplitV of [${t.shape}] into ${f.half} + ${f.half} along ${f.axis}`, 'graph');
        }
        if (axis === t.rank - 1) return [swiglu(t)];
        return [tf.tidy(() => {
          const [g, u] = splitOnHeap(t, [f.half, f.half], axis) as [Tensor, Tensor];
          return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
        })];
      };
    case 'maskedSoftmax':
      return ([x, bias]) => [maskedSoftmax(tensor(x!), f.scale, tensor(bias!))];
  }
}

interface Step {
  fn: OpFn;
  attrs: Attrs;
  inputs: [number, number][]; // [value slot of the producing node, output index]
  /** Outputs (slot · 65536 + index) whose last use is this step, freed after it. */
  frees: number[];
  /** Feeds (slots) whose last use is this step: freed after it when run() is told they are consumed. */
  feedsDone: number[];
}

/**
 * A compiled graph: run(feeds) returns the named outputs, in order; the caller owns them. Feeds
 * named in `consumed` are disposed after their last reader (a handed-over KV cache: each layer's
 * old keys go once the new ones exist); each must be a tensor of its own.
 */
export interface CompiledGraph {
  run(feeds: Record<string, Tensor>, consumed?: ReadonlySet<string>): Tensor[];
}

/** Whether compileGraph runs every node of `nodes` (no op it does not know, no control inputs). */
export function executorRuns(nodes: readonly NodeDefJson[]): boolean {
  return nodes.every((n) => n.op === 'Placeholder' || n.op === 'Const'
    || (OPS[n.op] !== undefined && !(n.input ?? []).some((i) => i.startsWith('^'))));
}

/**
 * Compiles `nodes` for the outputs `outputNames` (node names), with Const values taken from
 * `weights` (by node name, as TF.js loads them, or packed matrices). Returns null when a node
 * needed has an op this executor does not run, or control inputs.
 */
export function compileGraph(nodes: readonly NodeDefJson[], weights: Record<string, (Tensor | PackedMatrix)[]>,
  outputNames: readonly string[]): CompiledGraph | null {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // Chains run as one op (fusion.ts): their last node reads the chain's inputs instead.
  const fusions = findFusions(nodes, (name) => {
    const w = byName.get(name)?.op === 'Const' ? weights[name]?.[0] : undefined;
    return w && !(w instanceof PackedMatrix) && w.size <= 16 && w.dtype !== 'string' ? Array.from(w.dataSync() as ArrayLike<number>) : null;
  });
  const inputsOf = (node: NodeDefJson): readonly string[] => fusions.get(node.name)?.inputs ?? node.input ?? [];
  // Topological order of what the outputs need (depth-first, inputs first).
  const order: NodeDefJson[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new EntropixError('INVALID_ARGUMENT', `the graph has a cycle through '${name}'`, 'graph');
    const node = byName.get(name);
    if (!node) throw new EntropixError('INVALID_ARGUMENT', `the graph has no node '${name}'`, 'graph');
    state.set(name, 'visiting');
    for (const input of inputsOf(node)) visit(input.replace(/^\^/, '').split(':')[0]!);
    state.set(name, 'done');
    order.push(node);
  };
  for (const name of outputNames) visit(name);

  const slot = new Map(order.map((n, i) => [n.name, i]));
  const kinds: ('feed' | 'const' | 'op')[] = [];
  const constants: (Value | null)[] = [];
  const feedNames: (string | null)[] = [];
  const steps: (Step | null)[] = [];
  for (const node of order) {
    const attrs = node.attr ?? {};
    if (node.op === 'Placeholder') {
      kinds.push('feed'); constants.push(null); feedNames.push(node.name); steps.push(null);
      continue;
    }
    if (node.op === 'Const') {
      const w = weights[node.name]?.[0];
      if (!w) return null;
      // Small int32 consts are shapes and axes: kept on the host as well.
      const host = !(w instanceof PackedMatrix) && w.dtype === 'int32' && w.size <= 16
        ? new HostInts(Array.from(w.dataSync()), w.rank === 0) : null;
      kinds.push('const'); constants.push(host ?? w); feedNames.push(null); steps.push(null);
      continue;
    }
    const fused = fusions.get(node.name);
    const fn = fused ? fusedOp(fused) : OPS[node.op];
    if (!fn || inputsOf(node).some((i) => i.startsWith('^'))) return null;
    const inputs = inputsOf(node).map((i): [number, number] => {
      const [name, index] = i.split(':');
      return [slot.get(name!)!, index === undefined ? 0 : Number(index)];
    });
    kinds.push('op'); constants.push(null); feedNames.push(null); steps.push({ fn, attrs, inputs, frees: [], feedsDone: [] });
  }
  // Each op output is freed after its last reader, unless it is a graph output. Identity only
  // aliases its input, so its readers count as readers of the output it passes through.
  const key = (at: number, index: number) => at * 65536 + index;
  const root = new Map<number, number>(); // Identity slot → the key it passes through
  order.forEach((n, i) => {
    if (n.op !== 'Identity' || steps[i]!.inputs.length !== 1) return;
    const [from, index] = steps[i]!.inputs[0]!;
    root.set(i, root.get(from) ?? key(from, index));
  });
  const rootOf = (at: number, index: number) => root.get(at) ?? key(at, index);
  const kept = new Set(outputNames.map((n) => rootOf(slot.get(n)!, 0)));
  const lastUse = new Map<number, number>();
  steps.forEach((s, i) => s?.inputs.forEach(([from, index]) => lastUse.set(rootOf(from, index), i)));
  for (const [k, at] of lastUse) {
    const from = Math.floor(k / 65536);
    if (kinds[from] === 'op' && !root.has(from) && !kept.has(k)) steps[at]!.frees.push(k);
    else if (kinds[from] === 'feed' && !kept.has(k)) steps[at]!.feedsDone.push(from);
  }
  const outputs = outputNames.map((n) => slot.get(n)!);

  return {
    run(feeds: Record<string, Tensor>, consumed?: ReadonlySet<string>): Tensor[] {
      const values: (Value[] | null)[] = new Array(order.length).fill(null);
      for (let i = 0; i < order.length; i++) {
        const kind = kinds[i];
        if (kind === 'feed') {
          const t = feeds[feedNames[i]!];
          if (!t) throw new EntropixError('INVALID_ARGUMENT', `the graph needs an input '${feedNames[i]}'`, 'feeds');
          values[i] = [t];
          continue;
        }
        if (kind === 'const') {
          values[i] = [constants[i]!];
          continue;
        }
        const step = steps[i]!;
        const args: Value[] = new Array(step.inputs.length);
        for (let j = 0; j < args.length; j++) {
          const [from, k] = step.inputs[j]!;
          args[j] = values[from]![k]!;
        }
        values[i] = step.fn(args, step.attrs);
        for (const k of step.frees) {
          const v = values[Math.floor(k / 65536)]![k % 65536];
          if (v && !(v instanceof HostInts) && !(v instanceof PackedMatrix)) v.dispose();
        }
        if (consumed) for (const f of step.feedsDone) if (consumed.has(feedNames[f]!)) (values[f]![0] as Tensor).dispose();
      }
      return outputs.map((i) => tensor(values[i]![0]!));
    },
  };
}
