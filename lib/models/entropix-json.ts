// entropix.json: the sampler settings and eos ids a converted model ships with, checked the same
// way whether it was read from a directory (generation-defaults.ts) or fetched (load-url.ts).
// Browser-safe. `path` names the file in errors.
import { EntropixError } from '../core/errors';
import { isObject } from '../core/validate';
import { resolveSamplerConfig } from '../sampling/config';
import type { GenerationDefaults } from './causal-lm';
import type { ModelConfig } from './hf-config';

export function checkEntropixJson(json: unknown, path: string, config: ModelConfig): GenerationDefaults {
  if (!isObject(json)) throw new EntropixError('INVALID_ARGUMENT', `${path} must hold a JSON object`, path);
  const { sampler, eosTokenIds } = json as { sampler?: unknown; eosTokenIds?: unknown };
  const ids = eosTokenIds ?? config.eosTokenIds;
  if (!Array.isArray(ids) || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize)) {
    throw new EntropixError('INVALID_ARGUMENT', `${path}: eosTokenIds must be token ids below ${config.vocabSize}`, path);
  }
  if (sampler !== undefined) {
    const { clarifyingTokenId } = resolveSamplerConfig(sampler); // validates; throws with the field name
    if (clarifyingTokenId !== null && clarifyingTokenId >= config.vocabSize) {
      throw new EntropixError('INVALID_ARGUMENT',
        `${path}: sampler.clarifyingTokenId ${clarifyingTokenId} is not a token id below ${config.vocabSize}`, path);
    }
  }
  return { sampler: sampler as GenerationDefaults['sampler'], eosTokenIds: ids as number[] };
}
