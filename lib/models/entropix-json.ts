// entropix.json: the sampler settings and eos ids a converted model ships with, validated the same
// way whether it was read from a directory or fetched (browser-safe).
import { EntropixError } from '../core/errors';
import { resolveSamplerConfig } from '../sampling/config';
import type { GenerationDefaults } from './causal-lm';
import type { ModelConfig } from './hf-config';

/** Checks parsed entropix.json; eos ids default to the config's. `where` names it in errors. */
export function checkEntropixJson(json: unknown, where: string, config: ModelConfig): GenerationDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new EntropixError('INVALID_ARGUMENT', `${where} must hold a JSON object`, where);
  }
  const { sampler, eosTokenIds } = json as { sampler?: unknown; eosTokenIds?: unknown };
  const ids = eosTokenIds ?? config.eosTokenIds;
  if (!Array.isArray(ids) || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize)) {
    throw new EntropixError('INVALID_ARGUMENT', `${where}: eosTokenIds must be token ids below ${config.vocabSize}`, where);
  }
  if (sampler !== undefined) resolveSamplerConfig(sampler); // validates; throws with the field name
  return { sampler: sampler as GenerationDefaults['sampler'], eosTokenIds: ids as number[] };
}
