// The per-token trace the CLI writes with --trace: ids, text, regime and every metric.
import type { SamplerConfig } from '../config';
import { REGIME_NAMES } from '../config';
import { SamplerState } from '../regimes';

export type RegimeLabel = 'flowing' | 'treading' | 'exploring' | 'resampling' | 'adaptive' | 'base';
export const REGIME_LABELS: readonly RegimeLabel[] = [...REGIME_NAMES, 'base'];

export interface TraceToken {
  row: number;
  /** Generated position within the row, from 0. */
  step: number;
  tokenId: number;
  /** The text this token added to the stream ('' while a multi-byte character is incomplete). */
  text: string;
  state: SamplerState;
  regime: RegimeLabel;
  logprob: number;
  entropy: number;
  varentropy: number;
  attnEntropy: number;
  attnVarentropy: number;
  agreement: number;
  interactionStrength: number;
}

export type Thresholds = Pick<SamplerConfig, 'lowEntropy' | 'lowVarentropy' | 'mediumEntropy' | 'highEntropy' | 'highVarentropy'>;

export interface Trace {
  version: 1;
  model: string;
  backend: string;
  sampler: 'entropix' | 'plain' | 'greedy';
  seed: number | number[] | null;
  /** The regime thresholds in force (null for plain sampling and greedy). */
  thresholds: Thresholds | null;
  prompts: string[];
  texts: string[];
  finishReasons: (string | null)[];
  tokens: TraceToken[];
}

export function regimeName(state: SamplerState): RegimeLabel {
  return REGIME_LABELS[state] ?? 'base';
}

export function regimeCounts(tokens: readonly TraceToken[]): Record<RegimeLabel, number> {
  const counts = Object.fromEntries(REGIME_LABELS.map((r) => [r, 0])) as Record<RegimeLabel, number>;
  for (const t of tokens) counts[t.regime]++;
  return counts;
}

/** JSON of the trace; a NaN or infinite metric (a row with no usable logit) is written as null. */
export function traceToJson(trace: Trace): string {
  return `${JSON.stringify(trace, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`;
}
