// Calibrating a model's regime thresholds: held-out windows of a tokenized text, run teacher-forced
// (teacher-forcing.ts), and the thresholds set at quantiles of the model's own entropy and
// varentropy there (sampling/calibration.ts). Entropix's defaults (0.1 / 3 / 5 bits) suit Llama 3's
// 128k vocabulary; another vocabulary or model lives on another scale.
import { EntropixError } from '../core/errors';
import { requireNumber } from '../core/validate';
import {
  CalibrationQuantiles, DEFAULT_CALIBRATION_QUANTILES, regimeShares, thresholdsFromMetrics, validateQuantiles,
} from '../sampling/calibration';
import type { RegimeThresholds, StateName } from '../sampling/states';
import type { CausalLM } from '../models/causal-lm';
import { PositionMetrics, teacherForcedMetrics, TeacherForcingOptions } from './teacher-forcing';

/**
 * Windows of `window` tokens cut from a token stream. When it holds at most maxTokens, all of it,
 * in consecutive windows (a last, shorter one kept if it has 2 tokens or more); otherwise
 * ⌊maxTokens / window⌋ windows spread evenly over it (start i · stride, stride = max(window,
 * ⌊(length − window) / count⌋)), so a capped run still sees the whole text, not its beginning.
 */
export function corpusWindows(ids: ArrayLike<number>, window: number, maxTokens = Infinity): number[][] {
  requireNumber(window, 'window', { min: 2, integer: true });
  if (maxTokens !== Infinity) requireNumber(maxTokens, 'maxTokens', { min: 2, integer: true });
  const length = ids?.length;
  if (typeof length !== 'number' || length < 2) {
    throw new EntropixError('INVALID_ARGUMENT', `the text has ${length ?? 0} tokens; calibration needs at least 2`, 'ids');
  }
  const slice = (start: number, size: number) => Array.from({ length: size }, (_, i) => ids[start + i]!);
  if (length <= maxTokens) {
    const out: number[][] = [];
    for (let start = 0; start < length; start += window) {
      const size = Math.min(window, length - start);
      if (size >= 2) out.push(slice(start, size));
    }
    return out;
  }
  const size = Math.min(window, maxTokens);
  const count = Math.max(1, Math.floor(maxTokens / size));
  const stride = Math.max(size, Math.floor((length - size) / count));
  return Array.from({ length: count }, (_, i) => slice(i * stride, size));
}

export interface CalibrateOptions extends TeacherForcingOptions {
  /** Default DEFAULT_CALIBRATION_QUANTILES: low 0.5, medium 0.8, high 0.9. */
  quantiles?: CalibrationQuantiles;
}

export interface Calibration {
  /** lowEntropy, lowVarentropy, mediumEntropy, highEntropy, highVarentropy (bits, bits²), unrounded. */
  thresholds: RegimeThresholds;
  /** The fraction of positions each state takes under those thresholds (teacher-forced, no attention gates). */
  shares: Record<StateName, number>;
  /** Every position's six metrics. */
  metrics: PositionMetrics;
}

/**
 * Runs the sequences teacher-forced and sets the five entropy/varentropy thresholds at the
 * quantiles of the metrics the model shows there (the attention gates are left alone).
 * Validates everything before the first forward.
 */
export async function calibrate(model: CausalLM, sequences: number[][], options: CalibrateOptions = {}): Promise<Calibration> {
  const quantiles = validateQuantiles(options?.quantiles ?? DEFAULT_CALIBRATION_QUANTILES, 'options.quantiles');
  const metrics = await teacherForcedMetrics(model, sequences, options);
  const thresholds = thresholdsFromMetrics(metrics.entropy, metrics.varentropy, quantiles);
  return { thresholds, shares: regimeShares(metrics.entropy, metrics.varentropy, thresholds), metrics };
}
