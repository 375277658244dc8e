// Finds, in a converted graph, the three chains that lib/wasm/fused.ts runs as one op (RMSNorm,
// SwiGLU, the masked softmax) and names each chain's last node with the op that replaces it and
// the chain's inputs, so that the executor runs the fused op there and never reaches the nodes
// in between (unless something else reads them: the last layer's scaled scores do). The graph
// file is not changed: TF.js's executor, or an older version of ours, still runs every node.
// Matched by structure only: the nodes lib/models/llama-forward.ts emits through GraphBuilder.
import type { NodeDefJson } from './json';

/** A fused op: its inputs (graph input references), and the constants the chain had (`axis` as written: −1 or ≥ 0). */
export type Fused =
  | { op: 'rmsNorm'; inputs: [string, string]; eps: number; axis: number }
  | { op: 'swiglu'; inputs: [string]; axis: number; half: number }
  | { op: 'maskedSoftmax'; inputs: [string, string]; scale: number };

const nodeOf = (input: string) => {
  const [name, index] = input.split(':');
  return { name: name!, index: index === undefined ? 0 : Number(index) };
};

/**
 * The fused ops by the name of the node each replaces. `constant` gives a small Const's values
 * (null for another node, or a large one).
 */
export function findFusions(nodes: readonly NodeDefJson[], constant: (name: string) => number[] | null): Map<string, Fused> {
  const one = (input: string | undefined): number | null => {
    const v = input === undefined || input.startsWith('^') || nodeOf(input).index !== 0 ? null : constant(nodeOf(input).name);
    return v && v.length === 1 ? v[0]! : null;
  };
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // The node an input names when it is output 0 of an `op` node (control inputs never match).
  const producer = (input: string | undefined, op: string, index = 0): NodeDefJson | null => {
    if (input === undefined || input.startsWith('^')) return null;
    const ref = nodeOf(input);
    const n = byName.get(ref.name);
    return n && n.op === op && ref.index === index ? n : null;
  };
  const same = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && nodeOf(a).name === nodeOf(b).name
    && nodeOf(a).index === nodeOf(b).index;
  const found = new Map<string, Fused>();
  // A fused op would drop the ordering a control input asks for: none where the graph has one.
  if (nodes.some((n) => (n.input ?? []).some((i) => i.startsWith('^')))) return found;
  for (const n of nodes) {
    const [a, b] = n.input ?? [];
    if (n.op === 'Mul' && n.input?.length === 2) {
      // RMSNorm: Mul(Mul(x, Rsqrt(AddV2(Mean(Square(x), last axis, keep_dims), eps))), w)
      const scaled = producer(a, 'Mul');
      const rsqrt = producer(scaled?.input?.[1], 'Rsqrt');
      const add = producer(rsqrt?.input?.[0], 'AddV2');
      const mean = producer(add?.input?.[0], 'Mean');
      const square = producer(mean?.input?.[0], 'Square');
      const eps = one(add?.input?.[1]);
      const meanAxis = one(mean?.input?.[1]);
      const keep = mean?.attr?.keep_dims;
      if (scaled && square && keep && 'b' in keep && keep.b && meanAxis !== null && same(scaled.input![0], square.input![0])
        && eps !== null && b !== undefined) {
        found.set(n.name, { op: 'rmsNorm', inputs: [scaled.input![0]!, b], eps, axis: meanAxis });
        continue;
      }
      // SwiGLU: Mul(Mul(g, Sigmoid(g)), u) with g, u = SplitV(x, [I, I], last axis):0 and :1
      const act = producer(a, 'Mul');
      const sigmoid = producer(act?.input?.[1], 'Sigmoid');
      const split = act?.input?.[0] !== undefined ? byName.get(nodeOf(act.input[0]).name) : undefined;
      const sizes = split?.op === 'SplitV' && split.input?.length === 3 ? constant(nodeOf(split.input[1]!).name) : null;
      const splitAxis = split?.op === 'SplitV' ? one(split.input?.[2]) : null;
      if (act && sigmoid && split && sizes?.length === 2 && sizes[0] === sizes[1] && sizes[0]! > 0 && splitAxis !== null
        && same(act.input![0], sigmoid.input![0]) && nodeOf(act.input![0]!).index === 0
        && b !== undefined && !b.startsWith('^') && nodeOf(b).name === split.name && nodeOf(b).index === 1) {
        found.set(n.name, { op: 'swiglu', inputs: [split.input![0]!], axis: splitAxis, half: sizes[0]! });
      }
    } else if (n.op === 'Softmax' && n.input?.length === 1) {
      // softmax(AddV2(Mul(s, scale), bias))
      const add = producer(a, 'AddV2');
      const mul = producer(add?.input?.[0], 'Mul');
      const scale = one(mul?.input?.[1]);
      if (mul && scale !== null && add!.input![1] !== undefined && !add!.input![1].startsWith('^')) {
        found.set(n.name, { op: 'maskedSoftmax', inputs: [mul.input![0]!, add!.input![1]!], scale });
      }
    }
  }
  return found;
}
