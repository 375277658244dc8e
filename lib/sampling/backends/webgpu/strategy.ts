// The webgpu strategy: whole steps as WGSL programs (fused.ts) — computeMetrics in 2 dispatches,
// sampleTokens in 1, EntropixSampler.sample in 2 — and the generic pieces for everything else
// (and for the shapes the programs leave to it: see fused.ts).
import type { SamplingStrategy } from '../strategy';
import { fusedComputeMetrics, fusedSampleStep, fusedSampleTokens } from './fused';

export function webgpuStrategy(generic: SamplingStrategy): SamplingStrategy {
  return {
    ...generic,
    name: 'webgpu',
    computeMetrics: fusedComputeMetrics,
    sampleTokens: fusedSampleTokens,
    sampleStep: fusedSampleStep,
  };
}
