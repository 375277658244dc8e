// JS kernels for the wasm backend: they compute on the backend's heap views (typedArrayFromHeap;
// outputs from makeOutput), with no copy and no read-back, as several of tfjs-backend-wasm's own
// kernels do. They take over the work on small tensors (selection from block maxima, the metric
// epilogue, the decision, the draw); the passes over the vocabulary stay in XNNPACK ops, which
// are several times faster per element than a scalar JS loop (benchmarks/README.md). The decision
// and the draw are host/step.ts's arithmetic, shared with the host-side baseline.
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';
import { decideRow, drawRow, RegimeArrays, RowPlan } from '../host/step';
import { REAL_THRESHOLD } from '../../special-values';
import { gumbelRow, Seed } from '../../rng';
import { attentionRow } from './attention';
import { selectTop, selectTopByBlocks } from './select';

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
export const DECIDE_DRAW = 'EntropixDecideDraw';

/** Outputs first (makeOutput may grow the heap and detach earlier views), then every view. */
function outputs(heap: WasmHeap, specs: [number[], 'float32' | 'int32'][]): TensorInfo[] {
  return specs.map(([shape, dtype]) => heap.makeOutput(shape, dtype));
}
const f32 = (heap: WasmHeap, t: TensorInfo): Float32Array => heap.typedArrayFromHeap(t) as Float32Array;
const i32 = (heap: WasmHeap, t: TensorInfo): Int32Array => heap.typedArrayFromHeap(t) as Int32Array;

/**
 * x [B, V] sanitized → values [B, k] descending (ties by index ascending), indices int32 [B, k],
 * and top [B, 1] (column 0 of values, for the entropy moments without a Slice).
 * With blockMax [B, …, m] (x folded as [B, V/m, m], maxima over the fold) the search runs
 * through the block maxima.
 */
function candidates({ inputs, backend, attrs }: Args): TensorInfo[] {
  const heap = backend as WasmHeap;
  const x = inputs.x!;
  const [batch, n] = x.shape as [number, number];
  const k = attrs!.k as number;
  const [values, indices, top] = outputs(heap, [[[batch, k], 'float32'], [[batch, k], 'int32'], [[batch, 1], 'float32']]);
  const xv = f32(heap, x);
  const vv = f32(heap, values!);
  const iv = i32(heap, indices!);
  const tv = f32(heap, top!);
  const blockMax = inputs.blockMax;
  if (blockMax) {
    const blocks = blockMax.shape[blockMax.shape.length - 1]!;
    const bv = f32(heap, blockMax);
    for (let b = 0; b < batch; b++) selectTopByBlocks(xv, b * n, n, k, bv, b * blocks, blocks, vv, iv, b * k);
  } else {
    for (let b = 0; b < batch; b++) selectTop(xv, b * n, n, k, vv, iv, b * k);
  }
  for (let b = 0; b < batch; b++) tv[b] = vv[b * k]!;
  return [values!, indices!, top!];
}

const NO_ATTENTION = [0, 0, 0, 0] as const;
const LN2 = Math.LN2;

/** Σ of row b of a pooled [B, m] view, times the fold (the pool gave means over `fold` rows). */
function pooledSum(v: Float32Array, b: number, m: number, fold: number): number {
  let acc = 0;
  for (let j = b * m, end = j + m; j < end; j++) acc += v[j]!;
  return acc * fold;
}

/**
 * The metric epilogue. Logits: p [B, V] (softmax of the sanitized logits), the candidates
 * values/ids [B, k] (column 0: each row's maximum and argmax), pd and pdd: Σ p·d and Σ p·d²
 * (d = x − max) pooled to [B, …, m] means over attrs.fold rows. Attention (optional):
 * attnClean, attnP [B·H, T] and meanP [B, …, T] (mean over heads of attnP). → the table [B, 7]
 * and the six metrics [B] (NaN entropies for a row with no usable logit; without attention
 * inputs: attention columns 0 in the table, NaN in the metrics), as metrics.ts's metricTable.
 */
function metricTable({ inputs, backend, attrs }: Args): TensorInfo[] {
  const heap = backend as WasmHeap;
  const { p, candidates: cand, candidateIds, pd, pdd, attnClean, attnP, meanP } = inputs as Record<string, TensorInfo>;
  const [batch, n] = p!.shape as [number, number];
  const heads = attrs!.heads as number;
  const fold = attrs!.fold as number;
  const keys = attnClean ? attnClean.shape[1]! : 0; // no attention inputs: logits only
  const outs = outputs(heap, [[[batch, 7], 'float32'], ...Array.from({ length: 6 }, () => [[batch], 'float32'] as [number[], 'float32'])]);
  const pv = f32(heap, p!);
  const cv = f32(heap, cand!);
  const iv = i32(heap, candidateIds!);
  const k = cand!.shape[1]!;
  const pdv = f32(heap, pd!);
  const pddv = f32(heap, pdd!);
  const m = pd!.shape[pd!.shape.length - 1]!;
  const sv = attnClean ? f32(heap, attnClean) : null;
  const spv = attnP ? f32(heap, attnP) : null;
  const mv = meanP ? f32(heap, meanP) : null;
  const table = f32(heap, outs[0]!);
  const cols = outs.slice(1).map((o) => f32(heap, o));
  for (let b = 0; b < batch; b++) {
    // H = −log p_max − E_p[d], Var = E_p[d²] − E_p[d]² (nats → bits), as metrics.ts's logitColumns.
    const meanD = pooledSum(pdv, b, m, fold);
    const meanD2 = pooledSum(pddv, b, m, fold);
    const pMax = pv[b * n + iv[b * k]!]!;
    const entropy = -(Math.log(pMax) + meanD) / LN2;
    const varentropy = Math.max(meanD2 - meanD * meanD, 0) / (LN2 * LN2);
    const real = cv[b * k]! > REAL_THRESHOLD ? 1 : 0;
    const a = sv ? attentionRow(sv, spv!, b * heads * keys, heads, keys, mv!, b * keys) : NO_ATTENTION;
    const o = b * 7;
    table[o] = entropy;
    table[o + 1] = varentropy;
    for (let c = 0; c < 4; c++) table[o + 2 + c] = a[c]!;
    table[o + 6] = real;
    cols[0]![b] = real ? entropy : NaN;
    cols[1]![b] = real ? varentropy : NaN;
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

/**
 * The regime decision and the draw of EntropixSampler.sample in one kernel: the metric table
 * [B, 7] and candidates values/indices [B, k] (lastTokens int32 [B] optional) → tokens and states
 * int32 [B], as decide then draw (with the clarifying rule when attrs.clarifyingId ≥ 0). Each row
 * makes its own noise from attrs.seed (gumbelRow: the numbers of gumbelNoise(seed, B, samples,
 * k)), and only the samples it draws, and none for an argmax row. For tables whose top-k is never
 * off (no full-vocabulary mass needed).
 */
const drawBuffers = { noise: new Float32Array(0), scratch: new Float32Array(0) };
function decideDraw({ inputs, backend, attrs }: Args): TensorInfo[] {
  const heap = backend as WasmHeap;
  const { metrics, values, indices, lastTokens } = inputs as Record<string, TensorInfo>;
  const [batch, k] = values!.shape as [number, number];
  const [tokensOut, statesOut] = outputs(heap, [[[batch], 'int32'], [[batch], 'int32']]);
  const mv = f32(heap, metrics!);
  const vv = f32(heap, values!);
  const iv = i32(heap, indices!);
  const last = lastTokens ? i32(heap, lastTokens) : null;
  const tokens = i32(heap, tokensOut!);
  const states = i32(heap, statesOut!);
  const a = attrs as Record<string, unknown>;
  const table = a.table as unknown as RegimeArrays;
  const seed = a.seed as Seed;
  const sampleCount = a.samples as number;
  const clarifyingId = a.clarifyingId as number;
  if (drawBuffers.noise.length < sampleCount * k) drawBuffers.noise = new Float32Array(sampleCount * k);
  if (drawBuffers.scratch.length < 2 * k) drawBuffers.scratch = new Float32Array(2 * k);
  const { noise, scratch } = drawBuffers;
  const tensors = { temperature: true, topK: true, topP: true, minP: true };
  for (let b = 0; b < batch; b++) {
    const d = decideRow(table, mv, b * 7);
    states[b] = d.state;
    const plan: RowPlan = {
      temperature: d.temperature, topK: d.topK, topP: d.topP, minP: d.minP, samples: d.samples, tensors, topPOn: true,
    };
    let token: number;
    if (!(vv[b * k]! > REAL_THRESHOLD)) token = -1;
    else if (!(plan.temperature > 0)) token = iv[b * k]!;
    else {
      const drawn = Math.max(1, Math.min(sampleCount, plan.samples));
      gumbelRow(seed, b, drawn * k, noise);
      token = drawRow(vv, iv, b * k, k, noise, 0, drawn, plan, scratch);
    }
    if (clarifyingId >= 0 && d.clarify > 0.5 && (!last || last[b] !== clarifyingId)) token = clarifyingId;
    tokens[b] = token;
  }
  return [tokensOut!, statesOut!];
}

const KERNELS: [string, (args: Args) => TensorInfo | TensorInfo[]][] = [
  [CANDIDATES, candidates], [METRIC_TABLE, metricTable], [DECIDE, decide], [DRAW, draw], [DECIDE_DRAW, decideDraw],
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
