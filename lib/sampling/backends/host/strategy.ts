// The host strategy, for backends whose tensors live in host memory (cpu, tensorflow): each whole
// step reads its inputs back once (dataSync: the logits, the attention scores, keyMask,
// lastTokens and per-row parameter tensors, each once) and runs the plain-JS step of step.ts,
// then uploads its results as tensors. On cpu a read is the tensor's own array (no copy); on
// tensorflow one copy out of libtensorflow (~0.1 ms for 128256 logits). Both then pay far less
// than ~150 small tf ops: measured in benchmarks/README.md ("The host strategy").
//
// Same results as the generic path (tested): the candidate order, the filter chain and the draw
// round to float32 where the tf ops do (step.ts), so tokens and states are equal and metrics agree
// within 1e-4 (the moments are summed in float64 here, in float32 by the tf ops).
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';
import type { Metrics } from '../../metrics';
import { gumbelNoise, Seed } from '../../rng';
import type { RegimeTable } from '../../regimes';
import type { ValidatedParams } from '../../sample-tokens';
import type { SamplingStrategy, StepInputs, StepResult } from '../strategy';
import { MASKED, REAL_THRESHOLD } from '../../special-values';
import { attentionMetrics, decideRow, drawRow, fullMassRow, logitMoments, RowPlan, sanitize, selectTop } from './step';

const f = Math.fround;
const MASKED32 = f(MASKED);
const F32 = { minT: f(1e-6), maxT: f(1e6), minPFactor: f(1 - 1e-6), minTopP: f(1e-7) };

/**
 * The largest step the host runs, in entries it reads (larger ones take the generic path, which
 * returns the same results): logits B·V and attention scores B·H·T (last query row) for
 * computeMetrics, EntropixSampler.sample and a sampleTokens that needs top-p's mass over the
 * whole vocabulary (top-k off: one pass of exp); logits B·V for a sampleTokens with top-k set
 * (a compare per logit, no exp).
 */
export interface HostLimits { stepLogits: number; stepScores: number; topKLogits: number }

/** cpu: every shape (its tf ops are JS loops too, one pass each; the host step measured 8–70× faster). */
export const NO_LIMITS: HostLimits = Object.freeze({ stepLogits: Infinity, stepScores: Infinity, topKLogits: Infinity });

/**
 * tensorflow: libtensorflow's kernels are SIMD and use every core, so past these sizes its ~150
 * ops catch up with one JS thread (benchmarks/README.md, "The host strategy": the host step is
 * faster at B = 1 up to V = 128256 with 32 × 4096 scores, level with the generic one from B = 2
 * at V = 128256; sampleTokens with top-k faster up to B·V = 10^6).
 */
export const TENSORFLOW_LIMITS: HostLimits = Object.freeze({ stepLogits: 2 ** 17, stepScores: 2 ** 17, topKLogits: 2 ** 20 });

const scoreEntries = (scores: Tensor | null): number =>
  scores ? scores.shape[0]! * scores.shape[1]! * scores.shape[scores.rank - 1]! : 0;

export function hostStrategy(generic: SamplingStrategy, limits: HostLimits = NO_LIMITS): SamplingStrategy {
  const stepFits = (logits: Tensor2D, scores: Tensor | null) =>
    logits.size <= limits.stepLogits && scoreEntries(scores) <= limits.stepScores;
  return {
    ...generic,
    name: 'host',
    computeMetrics: (logits, scores, keyMask) => (stepFits(logits, scores) ? hostComputeMetrics(logits, scores, keyMask) : null),
    sampleTokens: (logits, params, seed, k) => {
      const topKOnly = typeof params.topK === 'number' && params.topK > 0;
      return logits.size <= (topKOnly ? limits.topKLogits : limits.stepLogits) ? hostSampleTokens(logits, params, seed, k) : null;
    },
    sampleStep: (step) => (stepFits(step.logits, step.scores) ? hostSampleStep(step) : null),
  };
}

/** A tensor's values as read back (the one read of that tensor in a step). */
const read = (t: Tensor): Float32Array | Int32Array | Uint8Array => t.dataSync() as Float32Array | Int32Array | Uint8Array;

/** The logits and attention metrics of every row, read back once, as [B] arrays. */
interface RowMetrics {
  /** Per row: max sanitized logit (the candidates' column 0) is in `top`. */
  top: Float32Array;
  /** entropy, varentropy (NaN on a row with no usable logit), then the four attention metrics (NaN without scores). */
  metrics: Float32Array[];
  /** The metric table rows [B, 7] as decideRow reads them: finite, attention columns 0 without scores. */
  table: Float32Array;
}

/**
 * The last query row of each head of batch row b, sanitized, masked keys MASKED, into s [H, T]
 * (as metrics.ts's attentionSoftmax: keyMask ≤ 0, NaN and −Inf become MASKED, +Inf FLOAT32_MAX).
 */
function rowScores(
  scores: Float32Array, b: number, heads: number, queries: number, keys: number,
  keyMask: ArrayLike<number> | null, s: Float32Array,
): void {
  for (let h = 0; h < heads; h++) {
    const from = ((b * heads + h) * queries + queries - 1) * keys;
    for (let t = 0; t < keys; t++) {
      const masked = keyMask !== null && !(Number(keyMask[b * keys + t]) > 0);
      s[h * keys + t] = masked ? MASKED32 : sanitize(scores[from + t]!);
    }
  }
}

/**
 * Every row's metrics from the logits x [B, V] (tops: each row's maximum, already selected) and
 * the attention scores (null: logits only), as metricTable computes them.
 */
function rowMetrics(
  x: Float32Array, batch: number, vocab: number, top: Float32Array,
  scores: Tensor | null, keyMask: Tensor2D | undefined,
): RowMetrics {
  const metrics = Array.from({ length: 6 }, () => new Float32Array(batch));
  const table = new Float32Array(batch * 7);
  const s = scores ? read(scores) as Float32Array : null;
  const mask = scores && keyMask ? read(keyMask) : null;
  const heads = scores?.shape[1] ?? 0;
  const queries = scores?.rank === 4 ? scores.shape[2]! : 1;
  const keys = scores ? scores.shape[scores.rank - 1]! : 0;
  const rowS = new Float32Array(heads * keys);
  const meanScratch = new Float32Array(keys);
  for (let b = 0; b < batch; b++) {
    const m = logitMoments(x, b * vocab, vocab, top[b]!);
    table[b * 7] = m.entropy;
    table[b * 7 + 1] = m.varentropy;
    table[b * 7 + 6] = m.real;
    metrics[0]![b] = m.real ? m.entropy : NaN;
    metrics[1]![b] = m.real ? m.varentropy : NaN;
    if (s) {
      rowScores(s, b, heads, queries, keys, mask, rowS);
      const a = attentionMetrics(rowS, 0, heads, keys, undefined, meanScratch);
      for (let c = 0; c < 4; c++) {
        table[b * 7 + 2 + c] = a[c]!;
        metrics[2 + c]![b] = a[c]!;
      }
    } else {
      for (let c = 0; c < 4; c++) metrics[2 + c]![b] = NaN; // the table's attention columns stay 0
    }
  }
  return { top, metrics, table };
}

/** Each row's maximum sanitized logit (the first candidate of every path). */
function rowMaxima(x: Float32Array, batch: number, vocab: number): Float32Array {
  const top = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    let m = MASKED32;
    for (let i = b * vocab, end = i + vocab; i < end; i++) { const v = x[i]!; if (v > m) m = v; }
    top[b] = sanitize(m);
  }
  return top;
}

const asMetrics = (m: Float32Array[]): Metrics => {
  const [entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength] = m.map((a) => tf.tensor1d(a));
  return {
    entropy: entropy!, varentropy: varentropy!, attnEntropy: attnEntropy!, attnVarentropy: attnVarentropy!,
    agreement: agreement!, interactionStrength: interactionStrength!,
  };
};

/** computeMetrics on the host. */
export function hostComputeMetrics(logits: Tensor2D, scores: Tensor | null, keyMask: Tensor2D | undefined): Metrics {
  const [batch, vocab] = logits.shape;
  const x = read(logits) as Float32Array;
  return asMetrics(rowMetrics(x, batch, vocab, rowMaxima(x, batch, vocab), scores, keyMask).metrics);
}

/** One parameter for every row: a number as given, or a tensor's values as float32, cleaned as planFromParams. */
interface ParamRows { value: (b: number) => number; tensor: boolean }

function paramRows(p: number | Tensor1D, clean: (v: number) => number): ParamRows {
  if (typeof p === 'number') return { value: () => p, tensor: false };
  const v = read(p);
  return { value: (b) => clean(f(v[b]!)), tensor: true };
}

const clip = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

/** sampleTokens on the host: candidates by partial selection, then drawTokens row by row. */
export function hostSampleTokens(logits: Tensor2D, p: ValidatedParams, seed: Seed, k: number): Tensor1D {
  const [batch, vocab] = logits.shape;
  const x = read(logits) as Float32Array;
  // planFromParams's cleaning: NaN temperature → argmax, NaN topK → off (floored), NaN topP → off
  // and topP ≤ 0 → argmax's limit (1e-7), NaN minP → off, minP into [0, 1].
  const temperature = paramRows(p.temperature, (v) => (Number.isNaN(v) ? 0 : v));
  const topK = paramRows(p.topK, (v) => (Number.isNaN(v) ? 0 : Math.floor(v)));
  const topP = paramRows(p.topP, (v) => (Number.isNaN(v) ? 1 : clip(v, F32.minTopP, 1)));
  const minP = paramRows(p.minP, (v) => (Number.isNaN(v) ? 0 : clip(v, 0, 1)));
  const tensors = { temperature: temperature.tensor, topK: topK.tensor, topP: topP.tensor, minP: minP.tensor };
  const topPOn = topP.tensor || (p.topP as number) < 1;
  const topKMayBeOff = topK.tensor || (p.topK as number) <= 0;
  const argmaxOnly = !temperature.tensor && !((p.temperature as number) > 0);
  const width = argmaxOnly ? 1 : k; // the argmax is candidate 0 of any width
  const noise = argmaxOnly ? new Float32Array(batch) : gumbelNoise(seed, batch, 1, k);
  const values = new Float32Array(batch * width);
  const indices = new Int32Array(batch * width);
  const scratch = new Float32Array(2 * width);
  const tokens = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    selectTop(x, b * vocab, vocab, width, values, indices, b * width);
    const plan: RowPlan = {
      temperature: temperature.value(b), topK: topK.value(b), topP: topP.value(b), minP: minP.value(b),
      samples: 1, tensors, topPOn,
    };
    if (topPOn && topKMayBeOff && plan.topK <= 0 && plan.temperature > 0) {
      plan.fullMass = fullMass(x, b * vocab, vocab, values[b * width]!, plan);
    }
    tokens[b] = drawRow(values, indices, b * width, width, noise, b * width, 1, plan, scratch);
  }
  return tf.tensor1d(tokens, 'int32');
}

/** fullVocabularyMass for one row, with 1/T and min-p rounded as drawRow rounds them. */
function fullMass(x: Float32Array, offset: number, vocab: number, top: number, plan: RowPlan): number {
  if (!(top > REAL_THRESHOLD)) return 0;
  const invT = plan.tensors.temperature
    ? f(1 / clip(plan.temperature, F32.minT, F32.maxT))
    : f(1 / clip(plan.temperature, 1e-6, 1e6));
  const minP = plan.tensors.minP ? f(plan.minP * F32.minPFactor) : f(plan.minP * (1 - 1e-6));
  return fullMassRow(x, offset, vocab, top, invT, minP);
}

/** EntropixSampler.sample on the host: metrics, regime, parameters, draw, clarifying rule. */
export function hostSampleStep(step: StepInputs): StepResult {
  const { logits, scores, keyMask, lastTokens, seed, table, k, clarifyingTokenId } = step;
  const [batch, vocab] = logits.shape;
  const x = read(logits) as Float32Array;
  const samples = table.adaptiveSamples;
  const noise = gumbelNoise(seed, batch, samples, k);
  const values = new Float32Array(batch * k);
  const indices = new Int32Array(batch * k);
  for (let b = 0; b < batch; b++) selectTop(x, b * vocab, vocab, k, values, indices, b * k);
  const top = Float32Array.from({ length: batch }, (_, b) => values[b * k]!);
  const rows = rowMetrics(x, batch, vocab, top, scores, keyMask);
  const last = lastTokens ? read(lastTokens) : null;
  const tokens = new Int32Array(batch);
  const states = new Int32Array(batch);
  const scratch = new Float32Array(2 * k);
  const tensors = { temperature: true, topK: true, topP: true, minP: true }; // decideRegimes' [B, 1] columns
  for (let b = 0; b < batch; b++) {
    const d = decideRow(table, rows.table, b * 7);
    states[b] = d.state;
    const plan: RowPlan = {
      temperature: f(d.temperature), topK: d.topK, topP: f(d.topP), minP: f(d.minP), samples: d.samples,
      tensors, topPOn: true,
    };
    if (table.topKMayBeOff && plan.topK <= 0 && plan.temperature > 0) {
      plan.fullMass = fullMass(x, b * vocab, vocab, top[b]!, plan);
    }
    let token = drawRow(values, indices, b * k, k, noise, b * samples * k, samples, plan, scratch);
    if (clarifies(table, clarifyingTokenId) && d.clarify > 0.5 && (!last || last[b] !== clarifyingTokenId)) {
      token = clarifyingTokenId!;
    }
    tokens[b] = token;
  }
  return { tokens: tf.tensor1d(tokens, 'int32'), states: tf.tensor1d(states, 'int32'), metrics: asMetrics(rows.metrics) };
}

const clarifies = (table: RegimeTable, id: number | null): boolean => table.clarifies && id !== null;
