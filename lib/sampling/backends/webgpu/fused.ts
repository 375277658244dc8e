// The fused webgpu sampling step: computeMetrics in 2 dispatches, sampleTokens in 1,
// EntropixSampler.sample in 2 (attention metrics, then the row program), whatever B and V.
// Each function takes validated inputs, must run inside a tf.tidy on the webgpu backend, and
// returns null when the shape is outside what the programs handle (the caller then takes the
// generic path): a candidate cap above MAX_SORTED, more than MAX_HEADS heads, or a vocabulary
// of 2^31 or more.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';
import { backendInfo } from '../../../core/backend';
import type { Metrics } from '../../metrics';
import type { RegimeTable } from '../../regimes';
import type { StepInputs, StepResult } from '../strategy';
import { gumbelNoise, Seed } from '../../rng';
import type { ValidatedParams } from '../../sample-tokens';
import { FLOAT32_MAX } from '../../special-values';
import { attentionProgram, MAX_HEADS } from './attention-program';
import { deviceLimits, unpack, words } from './dispatch';
import { MAX_SORTED, ParamSource, ROW_UNIFORMS, rowProgram, RowProgramShape } from './row-program';

/**
 * Threads per workgroup (one workgroup works on one row): as many as the device allows up to
 * ENTROPIX_WEBGPU_WORKGROUP (default 1024 on a GPU, 256 on a software adapter, where each barrier
 * costs a loop over the threads), a power of two, with the workgroup memory the row program needs
 * (four reduction arrays of that many words, the sorted candidates, the histogram). At B = 1 one
 * workgroup does the whole row, so more threads are more memory requests in flight.
 */
function workgroupSize(sorted = MAX_SORTED): number {
  const limits = deviceLimits();
  const env = typeof process !== 'undefined' ? Number(process.env?.ENTROPIX_WEBGPU_WORKGROUP) : NaN;
  const fallback = backendInfo().adapter?.software ? 256 : 1024;
  let n = 2 ** Math.floor(Math.log2(Math.min(Number.isInteger(env) && env > 0 ? env : fallback, limits.invocations)));
  while (n > 64 && 16 * n + 12 * sorted + 1024 + 256 > limits.sharedBytes) n /= 2;
  return n;
}

function sortedSize(k: number): number {
  return Math.max(2, 2 ** Math.ceil(Math.log2(k)));
}

/** Whether the fused programs handle this shape. */
export function fusedSupports(vocab: number, k: number, heads = 1): boolean {
  return k <= MAX_SORTED && heads <= MAX_HEADS && vocab < 2 ** 31 && vocab >= 1;
}

function idBits(vocab: number): number {
  return Math.max(1, Math.ceil(Math.log2(vocab)));
}

type Uniforms = Partial<Record<(typeof ROW_UNIFORMS)[number], number>>;

function rowUniforms(values: Uniforms): Uint32Array {
  return words(ROW_UNIFORMS.map((name) => {
    const v = values[name] ?? 0;
    if (name === 'invT' || name === 'minPs' || name === 'kLimit' || name === 'topPs') return ['f', v];
    if (name === 'clarifyingId') return ['i', v];
    return ['u', v];
  }));
}

const placeholder = (): Tensor => tf.tensor1d([0]);

/** The four attention metrics as a [4, B] tensor; without scores, 0s (uploaded; the logits-only table ignores them). */
function attention(scores: Tensor | null, keyMask: Tensor2D | undefined, wg: number, batch: number): Tensor {
  return scores ? attentionProgram(scores, keyMask ?? null, placeholder(), wg) : tf.zeros([4 * batch]);
}

/** The attention metrics as the caller sees them: the program's, or NaN without scores. */
function attentionMetrics(attn: Tensor, batch: number, scores: Tensor | null): Tensor1D[] {
  // Uploaded rather than filled: no dispatch.
  if (!scores) return Array.from({ length: 4 }, () => tf.tensor1d(new Float32Array(batch).fill(NaN)));
  return unpack(attn, batch, ['float32', 'float32', 'float32', 'float32']) as Tensor1D[];
}

/** computeMetrics(logits, attentionScores, { keyMask }), fused: 2 dispatches. */
export function fusedComputeMetrics(logits: Tensor2D, scores: Tensor | null, keyMask?: Tensor2D): Metrics | null {
  const [batch, vocab] = logits.shape;
  if (!fusedSupports(vocab, 1, scores?.shape[1] ?? 1)) return null;
  const wg = workgroupSize();
  const attn = attention(scores, keyMask, wg, batch);
  const shape: RowProgramShape = {
    wg, sorted: 2, metrics: true, draw: false, regimes: false,
    params: ['uniform', 'uniform', 'uniform', 'uniform'], lastTokens: false,
  };
  const packed = rowProgram(shape, [logits], batch, 2, rowUniforms({ batch, vocab, k: 1, samples: 1, idBits: idBits(vocab) }));
  const [entropy, varentropy] = unpack(packed, batch, ['float32', 'float32']) as Tensor1D[];
  const [attnEntropy, attnVarentropy, agreement, interactionStrength] = attentionMetrics(attn, batch, scores);
  return {
    entropy: entropy!, varentropy: varentropy!, attnEntropy: attnEntropy!, attnVarentropy: attnVarentropy!,
    agreement: agreement!, interactionStrength: interactionStrength!,
  };
}

/** sampleTokens(logits, params, seed, { candidateCap }) with k = min(cap, V), fused: 1 dispatch. */
export function fusedSampleTokens(
  logits: Tensor2D, p: ValidatedParams, seed: Seed, k: number,
): Tensor1D | null {
  const [batch, vocab] = logits.shape;
  if (!fusedSupports(vocab, k)) return null;
  const wg = workgroupSize();
  const source = (x: number | Tensor): ParamSource =>
    typeof x === 'number' ? 'uniform' : x.dtype === 'int32' ? 'i32' : 'f32';
  const params = [p.temperature, p.topK, p.topP, p.minP];
  const shape: RowProgramShape = {
    wg, sorted: sortedSize(k), metrics: false, draw: true, regimes: false,
    params: params.map(source) as RowProgramShape['params'], lastTokens: false,
  };
  // The number branches of drawTokens, computed on the host in double and rounded to float32
  // once, as tf does with a scalar.
  const u: Uniforms = { batch, vocab, k, samples: 1, idBits: idBits(vocab), kLimit: 1e30 };
  if (typeof p.temperature === 'number') {
    u.argmaxAll = p.temperature <= 0 ? 1 : 0;
    u.invT = 1 / Math.min(Math.max(p.temperature, 1e-6), 1e6);
  }
  if (typeof p.topK === 'number') {
    u.kLimit = p.topK > 0 && p.topK < k ? p.topK : 1e30;
    u.kOff = p.topK <= 0 ? 1 : 0;
  }
  if (typeof p.topP === 'number') {
    u.topPOn = p.topP < 1 ? 1 : 0;
    u.topPs = p.topP * (1 + 1e-6);
  }
  if (typeof p.minP === 'number') u.minPs = p.minP * (1 - 1e-6);
  const noise = tf.tensor1d(gumbelNoise(seed, batch, 1, k));
  const inputs = [logits, noise, ...params.map((x) => typeof x === 'number' ? placeholder() : x)];
  const packed = rowProgram(shape, inputs, batch, 1, rowUniforms(u));
  return unpack(packed, batch, ['int32'])[0] as Tensor1D;
}

/** The regime table as one float32 array (bounds, weights, clamps), infinities as ±FLOAT32_MAX. */
export function regimeTableData(table: RegimeTable): Float32Array {
  const data = new Float32Array(42 + 42 + 252 + 36 + 36);
  let at = 0;
  for (const part of [table.lower, table.upper, table.weights, table.lo, table.hi]) {
    for (const v of part) data[at++] = v === Infinity ? FLOAT32_MAX : v === -Infinity ? -FLOAT32_MAX : v;
  }
  return data;
}

/** One EntropixSampler.sample step, fused: 2 dispatches. */
export function fusedSampleStep(s: StepInputs): StepResult | null {
  const [batch, vocab] = s.logits.shape;
  const { k } = s;
  if (!fusedSupports(vocab, k, s.scores?.shape[1] ?? 1)) return null;
  const wg = workgroupSize();
  const attn = attention(s.scores, s.keyMask, wg, batch);
  const samples = s.table.adaptiveSamples;
  const clarifies = s.table.clarifies && s.clarifyingTokenId !== null;
  const shape: RowProgramShape = {
    wg, sorted: sortedSize(k), metrics: true, draw: true, regimes: true,
    params: ['uniform', 'uniform', 'uniform', 'uniform'], lastTokens: !!s.lastTokens,
  };
  const noise = tf.tensor1d(gumbelNoise(s.seed, batch, samples, k));
  const table = tf.tensor1d(regimeTableData(s.table));
  const inputs = [s.logits, attn, table, s.lastTokens ?? tf.tensor1d([0], 'int32'), noise];
  const packed = rowProgram(shape, inputs, batch, 4, rowUniforms({
    batch, vocab, k, samples, idBits: idBits(vocab),
    clarifyingId: s.clarifyingTokenId ?? 0, clarifies: clarifies ? 1 : 0,
    topKMayBeOff: s.table.topKMayBeOff ? 1 : 0,
  }));
  const [tokens, states, entropy, varentropy] = unpack(packed, batch, ['int32', 'int32', 'float32', 'float32']) as Tensor1D[];
  const [attnEntropy, attnVarentropy, agreement, interactionStrength] = attentionMetrics(attn, batch, s.scores);
  return {
    tokens: tokens!, states: states!,
    metrics: {
      entropy: entropy!, varentropy: varentropy!, attnEntropy: attnEntropy!, attnVarentropy: attnVarentropy!,
      agreement: agreement!, interactionStrength: interactionStrength!,
    },
  };
}
