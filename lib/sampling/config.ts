// The Entropix sampler's configuration: plain JSON, so a model directory can carry it
// (entropix.json). Defaults are Entropix's own (xjdr-alt/entropix, torch sampler's SamplerConfig:
// thresholds 0.1 / 0.1 / 3.0 / 5.0 / 5.0 and the adaptive coefficients), with the fixes and
// names described in the README.
import { EntropixError } from '../core/errors';
import { describe, requireNumber } from '../core/validate';
import { REGIME_NAMES, RegimeName, RegimeThresholds } from './states';

export { REGIME_NAMES } from './states';
export type { RegimeName } from './states';

/**
 * Optional extra conditions on a regime, on the attention metrics (strict bounds, as in the
 * SmolLM port of Entropix). A row enters the regime only if all of them hold too.
 */
export interface RegimeGate {
  minAttnEntropy?: number;
  maxAttnEntropy?: number;
  minAttnVarentropy?: number;
  maxAttnVarentropy?: number;
  minAgreement?: number;
  maxAgreement?: number;
  minInteraction?: number;
  maxInteraction?: number;
}
const GATE_KEYS: readonly (keyof RegimeGate)[] = [
  'minAttnEntropy',
  'maxAttnEntropy',
  'minAttnVarentropy',
  'maxAttnVarentropy',
  'minAgreement',
  'maxAgreement',
  'minInteraction',
  'maxInteraction',
];

/** The thresholds (bits) lowEntropy … highVarentropy are the regime conditions' (states.ts). */
export interface SamplerConfig extends RegimeThresholds {
  // Base parameters (T0, topK0, topP0, minP0): plain sampling, and what regimes scale.
  temperature: number;
  topK: number; // 0: off
  topP: number; // 1: off
  minP: number; // 0: off
  /** Candidates taken per row by the single tf.topk (see the README on exactness). */
  candidateCap: number;
  /** Token emitted in the treading regime (e.g. a pause or "wait" token); null: none. */
  clarifyingTokenId: number | null;

  // treading: T = min(max, T0 · (offset + coef · attnEntropy))
  treadingTemperatureOffset: number;
  treadingTemperatureAttnEntropyCoef: number;
  treadingMaxTemperature: number;

  // exploring: T = min(max, T0 · (offset + coef · interaction));
  //            topK = max(min, ⌊topK0 · (1 + coef · (1 − agreement))⌋)
  exploringTemperatureOffset: number;
  exploringTemperatureInteractionCoef: number;
  exploringMaxTemperature: number;
  exploringTopKAgreementCoef: number;
  exploringMinTopK: number;

  // resampling: T = max(min, T0 · (offset + coef · attnVarentropy));
  //             topP = max(min, topP0 − coef · attnEntropy)
  resamplingTemperatureOffset: number;
  resamplingTemperatureAttnVarentropyCoef: number;
  resamplingMinTemperature: number;
  resamplingTopPAttnEntropyCoef: number;
  resamplingMinTopP: number;

  // adaptive: T = T0 · (1 + a·(ent + vent) + b·(attnEnt + attnVarent) − c·agreement)
  //           topP = clamp(topP0 · (1 + coef · attnVarentropy), min, max)
  //           topK = clamp(round(topK0 · (1 + i·interaction − g·agreement)), min, max)
  //           minP = clamp(adaptiveMinP · (1 − coef · (ent + vent)), min, max)
  //           draw adaptiveSamples tokens, keep the one with the highest raw log-probability
  adaptiveTemperatureLogitsCoef: number;
  adaptiveTemperatureAttnCoef: number;
  adaptiveTemperatureAgreementCoef: number;
  adaptiveTopPAttnVarentropyCoef: number;
  adaptiveMinTopP: number;
  adaptiveMaxTopP: number;
  adaptiveTopKInteractionCoef: number;
  adaptiveTopKAgreementCoef: number;
  adaptiveMinTopK: number;
  adaptiveMaxTopK: number;
  adaptiveMinP: number;
  adaptiveMinPUncertaintyCoef: number;
  adaptiveMinMinP: number;
  adaptiveMaxMinP: number;
  adaptiveSamples: number;

  /** Regimes in force; a switched-off regime's rows fall through to the next in the order. */
  enabledRegimes: RegimeName[];
  /** Optional attention gates per regime. */
  gates: Partial<Record<RegimeName, RegimeGate>>;
}

export const DEFAULT_SAMPLER_CONFIG: Readonly<SamplerConfig> = Object.freeze({
  temperature: 0.666,
  topK: 27,
  topP: 0.9,
  minP: 0,
  candidateCap: 256,
  clarifyingTokenId: null,

  lowEntropy: 0.1,
  lowVarentropy: 0.1,
  mediumEntropy: 3.0,
  highEntropy: 5.0,
  highVarentropy: 5.0,

  treadingTemperatureOffset: 1.3,
  treadingTemperatureAttnEntropyCoef: 0.2,
  treadingMaxTemperature: 1.5,

  exploringTemperatureOffset: 1.2,
  exploringTemperatureInteractionCoef: 0.3,
  exploringMaxTemperature: 1.5,
  exploringTopKAgreementCoef: 0.5,
  exploringMinTopK: 5,

  resamplingTemperatureOffset: 2.0,
  resamplingTemperatureAttnVarentropyCoef: 0.5,
  resamplingMinTemperature: 2.0,
  resamplingTopPAttnEntropyCoef: 0.2,
  resamplingMinTopP: 0.5,

  adaptiveTemperatureLogitsCoef: 0.3,
  adaptiveTemperatureAttnCoef: 0.2,
  adaptiveTemperatureAgreementCoef: 0.2,
  adaptiveTopPAttnVarentropyCoef: 0.1,
  adaptiveMinTopP: 0.1,
  adaptiveMaxTopP: 1.0,
  adaptiveTopKInteractionCoef: 0.3,
  adaptiveTopKAgreementCoef: 0.2,
  adaptiveMinTopK: 1,
  adaptiveMaxTopK: 100,
  adaptiveMinP: 0.03,
  adaptiveMinPUncertaintyCoef: 0.5,
  adaptiveMinMinP: 0.01,
  adaptiveMaxMinP: 0.5,
  adaptiveSamples: 5,

  enabledRegimes: [...REGIME_NAMES],
  gates: {},
}) as Readonly<SamplerConfig>;

const MAX_ADAPTIVE_SAMPLES = 64;

/** Merges `partial` over the defaults and validates every field. Throws EntropixError. */
export function resolveSamplerConfig(partial: unknown = {}): SamplerConfig {
  if (partial === undefined || partial === null) partial = {};
  if (typeof partial !== 'object' || Array.isArray(partial)) {
    throw new EntropixError('INVALID_ARGUMENT', `config must be an object, got ${describe(partial)}`, 'config');
  }
  const given = partial as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULT_SAMPLER_CONFIG)) {
      throw new EntropixError('INVALID_ARGUMENT', `config.${key} is not a sampler setting`, `config.${key}`);
    }
  }
  const c = { ...DEFAULT_SAMPLER_CONFIG, ...given } as SamplerConfig;
  const num = (key: keyof SamplerConfig, rule: Parameters<typeof requireNumber>[2] = {}): void => {
    requireNumber(c[key], `config.${key}`, rule);
  };
  const numericKeys = Object.keys(DEFAULT_SAMPLER_CONFIG).filter(
    (k) => typeof DEFAULT_SAMPLER_CONFIG[k as keyof SamplerConfig] === 'number',
  ) as (keyof SamplerConfig)[];
  for (const key of numericKeys) num(key);
  num('topK', { min: 0, integer: true });
  num('topP', { min: 0, minExclusive: true, max: 1 });
  num('minP', { min: 0, max: 1 });
  num('candidateCap', { min: 1, integer: true });
  num('exploringMinTopK', { min: 0, integer: true });
  num('adaptiveMinTopK', { min: 0, integer: true });
  num('adaptiveMaxTopK', { min: c.adaptiveMinTopK, integer: true });
  num('resamplingMinTopP', { min: 0, minExclusive: true, max: 1 });
  num('adaptiveMinTopP', { min: 0, minExclusive: true, max: 1 });
  num('adaptiveMaxTopP', { min: c.adaptiveMinTopP, max: 1 });
  num('adaptiveMinMinP', { min: 0, max: 1 });
  num('adaptiveMaxMinP', { min: c.adaptiveMinMinP, max: 1 });
  num('adaptiveSamples', { min: 1, max: MAX_ADAPTIVE_SAMPLES, integer: true });
  if (c.clarifyingTokenId !== null) {
    requireNumber(c.clarifyingTokenId, 'config.clarifyingTokenId', { min: 0, max: 2 ** 31 - 1, integer: true }); // an int32 id
  }
  if (!Array.isArray(c.enabledRegimes) || c.enabledRegimes.some((r) => !REGIME_NAMES.includes(r))) {
    throw new EntropixError(
      'INVALID_ARGUMENT',
      `config.enabledRegimes must be an array of ${REGIME_NAMES.join(', ')}`,
      'config.enabledRegimes',
    );
  }
  if (typeof c.gates !== 'object' || c.gates === null || Array.isArray(c.gates)) {
    throw new EntropixError('INVALID_ARGUMENT', 'config.gates must be an object', 'config.gates');
  }
  for (const [regime, gate] of Object.entries(c.gates)) {
    const where = `config.gates.${regime}`;
    if (!REGIME_NAMES.includes(regime as RegimeName)) {
      throw new EntropixError('INVALID_ARGUMENT', `${where}: unknown regime`, where);
    }
    if (typeof gate !== 'object' || gate === null) {
      throw new EntropixError('INVALID_ARGUMENT', `${where} must be an object`, where);
    }
    for (const [key, value] of Object.entries(gate)) {
      if (!GATE_KEYS.includes(key as keyof RegimeGate)) {
        throw new EntropixError('INVALID_ARGUMENT', `${where}.${key} is not a gate`, `${where}.${key}`);
      }
      if (value !== undefined) requireNumber(value, `${where}.${key}`);
    }
  }
  return { ...c, enabledRegimes: [...c.enabledRegimes], gates: structuredClone(c.gates) };
}
