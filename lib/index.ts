// The public API of entropix-tfjs.
export { tf } from './tf';
export { useBackend, BACKEND_NAMES } from './backend';
export type { BackendName } from './backend';
export { EntropixError } from './errors';
export type { EntropixErrorCode } from './errors';
export { computeMetrics } from './metrics';
export type { Metrics, MetricsOptions } from './metrics';
export { sampleTokens, DEFAULT_CANDIDATE_CAP } from './kernels';
export type { SamplingParams, SampleOptions, RowParam } from './kernels';
export type { Seed } from './rng';
export { SamplerState } from './regimes';
export { DEFAULT_SAMPLER_CONFIG, REGIME_NAMES, resolveSamplerConfig } from './config';
export type { SamplerConfig, RegimeName, RegimeGate } from './config';
export { EntropixSampler } from './sampler';
export type { SampleStepOptions, SampleResult } from './sampler';
