// The generic strategy: the sampling step as tf ops, on every backend; the reference that every
// fused path is tested against.
import type { Tensor } from '@tensorflow/tfjs-core';
import { topCandidates } from '../candidates';
import { metricTable } from '../metrics';
import { decideRegimes } from '../regimes';
import { drawTokens } from '../sample-tokens';
import { sanitizeScores } from '../special-values';
import type { SamplingStrategy } from './strategy';
import type { OpTuning } from './tuning';

export function genericStrategy(tuning: OpTuning): SamplingStrategy {
  return {
    name: 'generic',
    tuning,
    sanitize: <T extends Tensor>(x: T): T => sanitizeScores(x, tuning),
    candidates: (clean, k) => topCandidates(clean, k, tuning),
    metricTable: (clean, cand, rowIds, scores, keyMask) => metricTable(clean, cand, rowIds, scores, keyMask, tuning),
    decideRegimes: (table, metrics) => decideRegimes(table, metrics),
    drawTokens: (inputs, plan) => drawTokens(inputs, plan),
  };
}
