// The sampling backend strategy: one place that decides how a sampling step is computed on the
// current TF.js backend (in the spirit of vLLM's sampler choosing forward_cuda / forward_native).
//
// Interface (every implementation gives the same results as the generic one; tested):
//   sanitize(x)                  NaN/−Inf → MASKED, +Inf → FLOAT32_MAX (special-values.ts)
//   candidates(clean, k)         each row's k highest sanitized logits, sorted by logit descending,
//                                ties by token id ascending: { values [B, k], indices int32 [B, k] }
//   metricTable(clean, cand, rowIds, scores, keyMask)
//                                the metric table [B, 7] (six metrics, then the usable-logit flag)
//                                and the public Metrics ([B] each), as metrics.ts's metricTable;
//                                cand's column 0 is each row's maximum and argmax; scores null:
//                                attention columns 0 in the table, NaN in Metrics
//   decideRegimes(table, m)      every row's state (int32 [B]) and parameters ([B, 1] columns)
//                                from the compiled RegimeTable and the metric table, as
//                                regimes.ts's decideRegimes
//   drawTokens(inputs, plan)     temperature → min-p → top-k (ties kept) → top-p → Gumbel-max
//                                draw on the candidates, then the clarifying rule, as
//                                sample-tokens.ts's drawTokens: int32 [B], −1 for an unusable row
// All are called inside the caller's tf.tidy, never read a value back to the host (but the host
// strategy's whole steps: see below), and return tensors the tidy owns. An implementation may compute any of them with its own kernels; what it
// does not fuse it takes from the generic strategy.
//
// Implementations: 'generic' (tf ops; webgl, and the reference everywhere), 'wasm' (JS kernels
// on the wasm heap, backends/wasm/), 'webgpu' (WGSL programs for whole steps, backends/webgpu/;
// its pieces are the generic ones) and 'host' (cpu and tensorflow, backends/host/strategy.ts:
// whole steps in plain JS after one read of each input tensor). The host strategy is the one
// exception to "never read back": on cpu a read is the tensor's own array and on tensorflow one
// copy out of libtensorflow, while the generic step is ~150 tf ops that cost 10–45× (cpu) and
// 1.2–3× (tensorflow, small steps; larger ones stay generic) the whole JS step there
// (benchmarks/README.md, "The host strategy"). The
// tf.env() flag ENTROPIX_GENERIC_SAMPLING (or the environment variable of that name in Node, or
// ?tfjsflags=ENTROPIX_GENERIC_SAMPLING:true in a browser) forces the generic path everywhere.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../../core/tf';
import type { Candidates } from '../candidates';
import type { Metrics } from '../metrics';
import type { RegimeDecision, RegimeTable } from '../regimes';
import type { DrawInputs, DrawPlan, ValidatedParams } from '../sample-tokens';
import type { Seed } from '../rng';
import type { OpTuning } from './tuning';
import { PLAIN_TUNING, WASM_TUNING } from './tuning';
import { genericStrategy } from './generic';
import { wasmStrategy } from './wasm/strategy';
import { webgpuStrategy } from './webgpu/strategy';
import { hostStrategy, TENSORFLOW_LIMITS } from './host/strategy';

export type StrategyName = 'generic' | 'wasm' | 'webgpu' | 'host';

export interface SamplingStrategy {
  readonly name: StrategyName;
  /** The op choices the generic parts use on this backend. */
  readonly tuning: OpTuning;
  sanitize<T extends Tensor>(x: T): T;
  candidates(clean: Tensor2D, k: number): Candidates;
  metricTable(
    clean: Tensor2D, cand: Candidates, rowIds: Tensor2D, attentionScores: Tensor | null, keyMask: Tensor2D | undefined,
  ): { table: Tensor2D; metrics: Metrics };
  decideRegimes(table: RegimeTable, metrics: Tensor2D): RegimeDecision;
  drawTokens(inputs: DrawInputs, plan: DrawPlan): Tensor1D;
  /**
   * Optional whole steps, for a backend that pays per dispatch (webgpu: a few fused programs) or
   * whose tensors live in host memory (cpu, tensorflow: one read of each input, then JS):
   * computeMetrics, sampleTokens and EntropixSampler.sample, on validated inputs inside the
   * caller's tidy. They return null (allocating nothing) for a shape they do not handle,
   * and the caller then runs the pieces above.
   */
  computeMetrics?(logits: Tensor2D, attentionScores: Tensor | null, keyMask: Tensor2D | undefined): Metrics | null;
  sampleTokens?(logits: Tensor2D, params: ValidatedParams, seed: Seed, k: number): Tensor1D | null;
  sampleStep?(step: StepInputs): StepResult | null;
}

/** EntropixSampler.sample's validated inputs, for a whole-step path. k = min(candidateCap, V). */
export interface StepInputs {
  logits: Tensor2D;
  scores: Tensor | null; // null: logits only (table is then the logits-only one)
  keyMask?: Tensor2D;
  lastTokens?: Tensor1D;
  seed: Seed;
  table: RegimeTable;
  k: number;
  clarifyingTokenId: number | null;
}

export type StepResult = { tokens: Tensor1D; states: Tensor1D; metrics: Metrics };

export const GENERIC_FLAG = 'ENTROPIX_GENERIC_SAMPLING';
tf.env().registerFlag(GENERIC_FLAG, () => {
  const v = typeof process !== 'undefined' ? process.env?.[GENERIC_FLAG] : undefined;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
});

/** Makes a backend's fused strategy from the generic one (which it falls back to for what it does not fuse). */
export type StrategyFactory = (generic: SamplingStrategy) => SamplingStrategy;

/** tfjs-node-gpu on a GPU: its tensors are not in host memory. */
const onGpu = (): boolean => (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;

/**
 * The fused strategies, by backend name; the others (webgl) run the generic one. cpu takes the
 * host step at every shape, tensorflow on the CPU up to TENSORFLOW_LIMITS (from the numbers in
 * benchmarks/README.md, "The host strategy"), tensorflow on a GPU the generic one.
 */
const FUSED: Partial<Record<string, StrategyFactory>> = {
  wasm: wasmStrategy,
  webgpu: webgpuStrategy,
  cpu: (generic) => hostStrategy(generic),
  tensorflow: (generic) => (onGpu() ? generic : hostStrategy(generic, TENSORFLOW_LIMITS)),
};

const cache = new Map<string, SamplingStrategy>();

/** The strategy for the current backend (chosen once per backend and flag value). */
export function samplingStrategy(): SamplingStrategy {
  const backend = tf.getBackend();
  const forceGeneric = tf.env().getBool(GENERIC_FLAG);
  const key = `${backend}:${forceGeneric}`;
  let s = cache.get(key);
  if (!s) {
    const generic = genericStrategy(backend === 'wasm' ? WASM_TUNING : PLAIN_TUNING);
    const factory = forceGeneric ? undefined : FUSED[backend];
    s = factory ? factory(generic) : generic;
    cache.set(key, s);
  }
  return s;
}
