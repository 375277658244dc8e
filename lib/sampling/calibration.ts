// Regime thresholds from a model's own metrics: quantiles of the entropy and varentropy it shows
// on held-out text, and the share of positions each regime then takes. Pure arithmetic on plain
// numbers (the teacher-forced run that collects them is lib/decoding/calibrate.ts).
import { EntropixError } from '../core/errors';
import { describe } from '../core/validate';
import { regimeAt, RegimeThresholds, STATE_NAMES, StateName } from './states';

/**
 * Where the thresholds sit, as fractions in [0, 1]: lowEntropy and lowVarentropy at `low`,
 * mediumEntropy at `medium`, highEntropy and highVarentropy at `high`.
 */
export interface CalibrationQuantiles {
  low: number;
  medium: number;
  high: number;
}

/** The bundled model's: the medians, the 80th and the 90th percentiles (models/kjv-tiny/README.md). */
export const DEFAULT_CALIBRATION_QUANTILES: Readonly<CalibrationQuantiles> = Object.freeze({ low: 0.5, medium: 0.8, high: 0.9 });

/** Refuses quantiles outside [0, 1] or out of order (low ≤ medium ≤ high). */
export function validateQuantiles(q: unknown, name = 'quantiles'): CalibrationQuantiles {
  if (typeof q !== 'object' || q === null) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be an object { low, medium, high }, got ${describe(q)}`, name);
  }
  const { low, medium, high } = q as Partial<CalibrationQuantiles>;
  for (const [key, v] of Object.entries({ low, medium, high })) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new EntropixError('INVALID_ARGUMENT', `${name}.${key} must be a fraction in [0, 1], got ${describe(v)}`, name);
    }
  }
  if (!(low! <= medium! && medium! <= high!)) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be in order low ≤ medium ≤ high, got ${low}, ${medium}, ${high}`, name);
  }
  return { low: low!, medium: medium!, high: high! };
}

/** The q-quantile of ascending values, interpolated linearly between ranks (NumPy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** The positions where both metrics are finite (a row with no usable logit has NaN metrics), sorted per metric. */
function finitePairs(entropy: ArrayLike<number>, varentropy: ArrayLike<number>): { entropy: Float64Array; varentropy: Float64Array } {
  if (entropy?.length === undefined || varentropy?.length === undefined) {
    throw new EntropixError('INVALID_ARGUMENT', 'entropy and varentropy must be arrays of numbers', 'entropy');
  }
  if (entropy.length !== varentropy.length) {
    throw new EntropixError('INVALID_ARGUMENT',
      `entropy has ${entropy.length} values but varentropy ${varentropy.length}: one pair per position`, 'varentropy');
  }
  const e: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < entropy.length; i++) {
    if (Number.isFinite(entropy[i]) && Number.isFinite(varentropy[i])) {
      e.push(entropy[i]!);
      v.push(varentropy[i]!);
    }
  }
  if (e.length === 0) throw new EntropixError('INVALID_ARGUMENT', 'no position has finite entropy and varentropy', 'entropy');
  return { entropy: Float64Array.from(e).sort(), varentropy: Float64Array.from(v).sort() };
}

/**
 * The five entropy/varentropy thresholds at the given quantiles of the positions' metrics
 * (positions with a non-finite metric are left out). The attention gates are not touched.
 */
export function thresholdsFromMetrics(
  entropy: ArrayLike<number>, varentropy: ArrayLike<number>,
  quantiles: CalibrationQuantiles = DEFAULT_CALIBRATION_QUANTILES,
): RegimeThresholds {
  const q = validateQuantiles(quantiles);
  const s = finitePairs(entropy, varentropy);
  return {
    lowEntropy: quantile(s.entropy, q.low),
    lowVarentropy: quantile(s.varentropy, q.low),
    mediumEntropy: quantile(s.entropy, q.medium),
    highEntropy: quantile(s.entropy, q.high),
    highVarentropy: quantile(s.varentropy, q.high),
  };
}

/**
 * The fraction of positions in each state under `thresholds`, by the regime conditions alone
 * (regimeAt: no attention gates); a position with a non-finite metric counts as 'base'.
 */
export function regimeShares(
  entropy: ArrayLike<number>, varentropy: ArrayLike<number>, thresholds: RegimeThresholds,
): Record<StateName, number> {
  if (entropy?.length === undefined || varentropy?.length !== entropy.length) {
    throw new EntropixError('INVALID_ARGUMENT', 'entropy and varentropy must be arrays of one value per position', 'varentropy');
  }
  const counts = Object.fromEntries(STATE_NAMES.map((s) => [s, 0])) as Record<StateName, number>;
  const n = entropy.length;
  for (let i = 0; i < n; i++) counts[regimeAt(entropy[i]!, varentropy[i]!, thresholds)]++;
  for (const s of STATE_NAMES) counts[s] = n > 0 ? counts[s] / n : 0;
  return counts;
}
