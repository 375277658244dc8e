// The sampler's states, defined once: the five Entropix regimes in precedence order, then Base
// (no regime). Their names, numbers and entry conditions on (entropy, varentropy) live here; the
// config, the compiled regime table, the CLI trace, colours and plot all derive from this file.
// Plain data and arithmetic: no tf, no node: imports.

/** A row's state as the sampler returns it (int32): the regime that applied, or Base. */
export enum SamplerState {
  Flowing = 0,
  Treading = 1,
  Exploring = 2,
  Resampling = 3,
  Adaptive = 4,
  /** No regime applied: plain sampling with the base parameters (also plain sampling, greedy). */
  Base = 5,
}

/** The regimes in precedence order: a row takes the first whose conditions hold. */
const NAMES = ['flowing', 'treading', 'exploring', 'resampling', 'adaptive'] as const;
export type RegimeName = (typeof NAMES)[number];
export const REGIME_NAMES: readonly RegimeName[] = NAMES;
/** A state's name: a regime's, or 'base'. */
export type StateName = RegimeName | 'base';
/** Every state's name, indexed by SamplerState. */
export const STATE_NAMES: readonly StateName[] = [...REGIME_NAMES, 'base'];
/** Every state, in SamplerState order. */
export const SAMPLER_STATES: readonly SamplerState[] = STATE_NAMES.map((_, s) => s as SamplerState);

/** The name of a state; anything that is not a SamplerState counts as 'base'. */
export function stateName(state: number): StateName {
  return Number.isInteger(state) ? (STATE_NAMES[state] ?? 'base') : 'base';
}

/** The state a regime puts its rows in. */
export function regimeState(name: RegimeName): SamplerState {
  return REGIME_NAMES.indexOf(name) as SamplerState;
}

export function isStateName(x: unknown): x is StateName {
  return typeof x === 'string' && (STATE_NAMES as readonly string[]).includes(x);
}

/** The entropy/varentropy thresholds (bits) the regime conditions read. */
export interface RegimeThresholds {
  lowEntropy: number;
  lowVarentropy: number;
  mediumEntropy: number;
  highEntropy: number;
  highVarentropy: number;
}

/** Strict bounds: lower < value < upper (±Infinity: no bound). */
export type Interval = readonly [lower: number, upper: number];
export interface RegimeCondition {
  entropy: Interval;
  varentropy: Interval;
}

const ANY: Interval = [-Infinity, Infinity];

/**
 * Each regime's condition on (entropy, varentropy), from Entropix: flowing: ent < low, vent < low;
 * treading: ent > medium, vent < low; exploring: ent < high, vent > high; resampling: ent > high,
 * vent > high; adaptive: anything (the rest, by precedence).
 */
export function regimeConditions(th: RegimeThresholds): Record<RegimeName, RegimeCondition> {
  return {
    flowing: { entropy: [-Infinity, th.lowEntropy], varentropy: [-Infinity, th.lowVarentropy] },
    treading: { entropy: [th.mediumEntropy, Infinity], varentropy: [-Infinity, th.lowVarentropy] },
    exploring: { entropy: [-Infinity, th.highEntropy], varentropy: [th.highVarentropy, Infinity] },
    resampling: { entropy: [th.highEntropy, Infinity], varentropy: [th.highVarentropy, Infinity] },
    adaptive: { entropy: ANY, varentropy: ANY },
  };
}

const inside = (v: number, [lower, upper]: Interval): boolean => v > lower && v < upper;

/**
 * The regime the entropy/varentropy conditions alone give a point: the first enabled one, in
 * precedence order, whose conditions hold; 'base' if none does (adaptive switched off, or a NaN
 * metric). The sampler's decision adds attention gates and needs a usable logit on top.
 */
export function regimeAt(
  entropy: number,
  varentropy: number,
  th: RegimeThresholds,
  enabled: readonly RegimeName[] = REGIME_NAMES,
): StateName {
  const conditions = regimeConditions(th);
  return (
    REGIME_NAMES.find(
      (name) =>
        enabled.includes(name) &&
        inside(entropy, conditions[name].entropy) &&
        inside(varentropy, conditions[name].varentropy),
    ) ?? 'base'
  );
}
