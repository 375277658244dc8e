// The demo's run settings and the sampler they make: shared by the page (main.ts) and the browser
// test, which replays the same run in Node to compare.
import { EntropixSampler, resolveSamplerConfig } from '../../lib';
import type { CausalLM, GenerateOptions, RegimeThresholds, SamplerConfig } from '../../lib';

export type SamplerChoice = 'entropix' | 'plain' | 'greedy';

export interface RunSettings {
  prompt: string;
  seed: number;
  maxNewTokens: number;
  sampler: SamplerChoice;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  thresholds: RegimeThresholds;
}

export const THRESHOLD_KEYS = ['lowEntropy', 'mediumEntropy', 'highEntropy', 'lowVarentropy', 'highVarentropy'] as const;

/** The sampler config of `s` over the model's own defaults (entropix.json). */
export function samplerConfig(model: CausalLM, s: RunSettings): SamplerConfig {
  return resolveSamplerConfig({
    ...model.generationDefaults.sampler,
    temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP, ...s.thresholds,
  });
}

/** What generate() gets for `s` (a fresh EntropixSampler per run). */
export function generateOptions(model: CausalLM, s: RunSettings, signal?: AbortSignal): GenerateOptions & { contextOverflow: 'slide' } {
  const config = samplerConfig(model, s);
  const sampler = s.sampler === 'entropix' ? new EntropixSampler(config)
    : s.sampler === 'greedy' ? 'greedy' as const
      : { temperature: config.temperature, topK: config.topK, topP: config.topP, minP: config.minP };
  return { maxNewTokens: s.maxNewTokens, seed: s.seed, sampler, signal, contextOverflow: 'slide' };
}
