// JS kernels for the wasm backend: they compute on the backend's heap views (typedArrayFromHeap;
// outputs from makeOutput), with no copy and no read-back, as several of tfjs-backend-wasm's own
// kernels do. The arithmetic is host/step.ts's, shared with the host-side baseline.
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';
import {
  attentionMetrics, decideRow, drawRow, logitMoments, RegimeArrays, RowPlan, selectTop, selectTopByBlocks,
} from '../host/step';

/** The part of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}
type Args = { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap };

export const CANDIDATES = 'EntropixTopCandidates';
export const METRIC_TABLE = 'EntropixMetricTable';
export const DECIDE = 'EntropixDecideRegimes';
export const DRAW = 'EntropixDraw';

/** Outputs first (makeOutput may grow the heap and detach earlier views), then every view. */
function outputs(heap: WasmHeap, specs: [number[], 'float32' | 'int32'][]): TensorInfo[] {
  return specs.map(([shape, dtype]) => heap.makeOutput(shape, dtype));
}
const f32 = (heap: WasmHeap, t: TensorInfo): Float32Array => heap.typedArrayFromHeap(t) as Float32Array;
const i32 = (heap: WasmHeap, t: TensorInfo): Int32Array => heap.typedArrayFromHeap(t) as Int32Array;

/**
 * x [B, V] sanitized → values [B, k] descending (ties by index ascending), indices int32 [B, k].
 * With blockMax [B, …, m] (x folded as [B, V/m, m], maxima over the fold) the search runs
 * through the block maxima.
 */
function candidates({ inputs, backend, attrs }: Args): TensorInfo[] {
  const heap = backend as WasmHeap;
  const x = inputs.x!;
  const [batch, n] = x.shape as [number, number];
  const k = attrs!.k as number;
  const [values, indices] = outputs(heap, [[[batch, k], 'float32'], [[batch, k], 'int32']]);
  const xv = f32(heap, x);
  const vv = f32(heap, values!);
  const iv = i32(heap, indices!);
  const blockMax = inputs.blockMax;
  if (blockMax) {
    const blocks = blockMax.shape[blockMax.shape.length - 1]!;
    const bv = f32(heap, blockMax);
    for (let b = 0; b < batch; b++) selectTopByBlocks(xv, b * n, n, k, bv, b * blocks, blocks, vv, iv, b * k);
  } else {
    for (let b = 0; b < batch; b++) selectTop(xv, b * n, n, k, vv, iv, b * k);
  }
  return [values!, indices!];
}

const NO_ATTENTION = [0, 0, 0, 0] as const;

/**
 * The metric epilogue: clean and p [B, V] (p = softmax(clean)), candidates [B, k] (column 0:
 * each row's maximum), attention clean and p
 * [B·H, T] → the table [B, 7] and the six metrics [B] (NaN entropies for a row with no usable logit).
 * Without attnClean/attnP (no scores): attention columns 0 in the table, NaN in the metrics.
 */
function metricTable({ inputs, backend, attrs }: Args): TensorInfo[] {
  const heap = backend as WasmHeap;
  const { clean, p, candidates: cand, attnClean, attnP } = inputs as Record<string, TensorInfo>;
  const [batch, n] = clean!.shape as [number, number];
  const heads = attrs!.heads as number;
  const keys = attnClean ? attnClean.shape[1]! : 0; // no attention inputs: logits only
  const outs = outputs(heap, [[[batch, 7], 'float32'], ...Array.from({ length: 6 }, () => [[batch], 'float32'] as [number[], 'float32'])]);
  const xv = f32(heap, clean!);
  const pv = f32(heap, p!);
  const cv = f32(heap, cand!);
  const k = cand!.shape[1]!;
  const sv = attnClean ? f32(heap, attnClean) : null;
  const spv = attnP ? f32(heap, attnP) : null;
  const table = f32(heap, outs[0]!);
  const cols = outs.slice(1).map((o) => f32(heap, o));
  const scratch = new Float32Array(keys);
  for (let b = 0; b < batch; b++) {
    const m = logitMoments(xv, b * n, n, cv[b * k]!, pv);
    const a = sv ? attentionMetrics(sv, b * heads * keys, heads, keys, spv!, scratch) : NO_ATTENTION;
    const row = [m.entropy, m.varentropy, ...a, m.real];
    for (let c = 0; c < 7; c++) table[b * 7 + c] = row[c]!;
    const empty = m.real ? 1 : NaN;
    cols[0]![b] = m.entropy * empty;
    cols[1]![b] = m.varentropy * empty;
    for (let c = 0; c < 4; c++) cols[2 + c]![b] = sv ? a[c]! : NaN;
  }
  return outs;
}

/** metric table [B, 7] → states int32 [B] and temperature, topK, topP, minP, samples, clarify [B, 1]. */
function decide({ inputs, backend, attrs }: Args): TensorInfo[] {
  const heap = backend as WasmHeap;
  const m = inputs.metrics!;
  const batch = m.shape[0]!;
  const outs = outputs(heap, [[[batch], 'int32'], ...Array.from({ length: 6 }, () => [[batch, 1], 'float32'] as [number[], 'float32'])]);
  const mv = f32(heap, m);
  const states = i32(heap, outs[0]!);
  const cols = outs.slice(1).map((o) => f32(heap, o));
  const table = attrs!.table as unknown as RegimeArrays;
  for (let b = 0; b < batch; b++) {
    const d = decideRow(table, mv, b * 7);
    states[b] = d.state;
    [d.temperature, d.topK, d.topP, d.minP, d.samples, d.clarify].forEach((v, c) => { cols[c]![b] = v; });
  }
  return outs;
}

/**
 * The draw: candidates values/indices [B, k], noise [B, S, k], per-row parameter columns [B, 1]
 * (temperature, topK, topP, minP, samples, fullMass: each an input or a number attribute) →
 * tokens int32 [B]; then the clarifying rule when attrs.clarifyingId is set (clarify [B, 1],
 * lastTokens int32 [B]).
 */
function draw({ inputs, backend, attrs }: Args): TensorInfo {
  const heap = backend as WasmHeap;
  const { values, indices, noise } = inputs as Record<string, TensorInfo>;
  const [batch, k] = values!.shape as [number, number];
  const sampleCount = noise!.shape[1]!;
  const [out] = outputs(heap, [[[batch], 'int32']]);
  const vv = f32(heap, values!);
  const iv = i32(heap, indices!);
  const nv = f32(heap, noise!);
  const tokens = i32(heap, out!);
  const a = attrs as Record<string, unknown>;
  const column = (name: string): ((b: number) => number) | null => {
    const t = inputs[name];
    if (!t) return null;
    const view = f32(heap, t);
    return (b) => view[b]!;
  };
  const param = (name: string, fallback: number): [(b: number) => number, boolean] => {
    const c = column(name);
    if (c) return [c, true];
    const v = typeof a[name] === 'number' ? (a[name] as number) : fallback;
    return [() => v, false];
  };
  const [temperature, tT] = param('temperature', 1);
  const [topK, kT] = param('topK', 0);
  const [topP, pT] = param('topP', 1);
  const [minP, mT] = param('minP', 0);
  const [samples] = param('samples', 1);
  const fullMass = column('fullMass');
  const clarify = column('clarify');
  const lastTokens = inputs.lastTokens ? i32(heap, inputs.lastTokens) : null;
  const clarifyingId = a.clarifyingId as number | undefined;
  const scratch = new Float32Array(2 * k);
  const tensors = { temperature: tT, topK: kT, topP: pT, minP: mT };
  for (let b = 0; b < batch; b++) {
    const plan: RowPlan = {
      temperature: temperature(b), topK: topK(b), topP: topP(b), minP: minP(b), samples: samples(b),
      tensors, topPOn: a.topPOn as boolean, fullMass: fullMass ? fullMass(b) : undefined,
    };
    let token = drawRow(vv, iv, b * k, k, nv, b * sampleCount * k, sampleCount, plan, scratch);
    if (clarify && clarifyingId !== undefined && clarify(b) > 0.5 && (!lastTokens || lastTokens[b] !== clarifyingId)) {
      token = clarifyingId;
    }
    tokens[b] = token;
  }
  return out!;
}

const KERNELS: [string, (args: Args) => TensorInfo | TensorInfo[]][] = [
  [CANDIDATES, candidates], [METRIC_TABLE, metricTable], [DECIDE, decide], [DRAW, draw],
];

let registered = false;
/** Registers the kernels for backendName 'wasm' (once; the wasm package itself is not needed for this). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc } as unknown as KernelConfig);
  }
}
