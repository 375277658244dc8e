// How the generic (tf ops) path adapts its op choices to a backend, without changing results.
// Chosen once per backend by strategy.ts; the tf-ops code never asks which backend runs.

export interface OpTuning {
  /** clipByValue maps NaN to the lower bound (XNNPACK's clamp on wasm), so sanitizing needs no isNaN pass. */
  clampMapsNaN: boolean;
  /**
   * Row reductions as pooling: on wasm a reduction along the last axis is a scalar loop, while
   * pooling over the height of an NHWC tensor is SIMD across its channels. GPU backends pay per
   * dispatch and keep the one-kernel reduction.
   */
  poolReductions: boolean;
  /** Candidates by the two-stage block search for B > 1 (cheaper than one tf.topk on wasm). */
  twoStageCandidates: boolean;
}

export const PLAIN_TUNING: Readonly<OpTuning> = Object.freeze({
  clampMapsNaN: false, poolReductions: false, twoStageCandidates: false,
});

export const WASM_TUNING: Readonly<OpTuning> = Object.freeze({
  clampMapsNaN: true, poolReductions: true, twoStageCandidates: true,
});
