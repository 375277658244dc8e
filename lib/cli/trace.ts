// The per-token trace the CLI writes with --trace: ids, text, regime and every metric.
// Browser-safe: plain data and JSON, no node: imports.
import { isStateName, RegimeThresholds, SamplerState, STATE_NAMES, StateName } from '../sampling/states';

/** A trace's name for a state (`regime` in the JSON): the state's name, 'base' for anything else. */
export { stateName as regimeName } from '../sampling/states';

/**
 * One generated token. The six metrics and `logprob` are NaN on a row that had no usable logit
 * (all -Inf or NaN); in the JSON written by traceToJson every non-finite number is null, so a
 * reader of a trace file must expect `number | null` for those fields.
 */
export interface TraceToken {
  row: number;
  /** Generation step (the same for every row of a batch step), from 0. */
  step: number;
  /** −1 on a row that had no usable logit (finish reason 'invalid'). */
  tokenId: number;
  /** The text this token added to the stream ('' while a multi-byte character is incomplete). */
  text: string;
  state: SamplerState;
  regime: StateName;
  /** log p(token) under the raw logits (temperature 1). */
  logprob: number;
  /** Entropy and varentropy of the next-token distribution, in bits. */
  entropy: number;
  varentropy: number;
  attnEntropy: number;
  attnVarentropy: number;
  agreement: number;
  interactionStrength: number;
}

export type Thresholds = RegimeThresholds;

export interface Trace {
  version: 1;
  model: string;
  backend: string;
  sampler: 'entropix' | 'plain' | 'greedy';
  seed: number | number[] | null;
  /** The regime thresholds in force (null for plain sampling and greedy: no regimes). */
  thresholds: Thresholds | null;
  prompts: string[];
  texts: string[];
  finishReasons: (string | null)[];
  tokens: TraceToken[];
  /** Present when the generation was interrupted (Ctrl-C, SIGTERM): the tokens are those so far. */
  aborted?: true;
}

/** Tokens per state name (every name present, 0 when absent); unknown names are ignored. */
export function regimeCounts(tokens: readonly TraceToken[]): Record<StateName, number> {
  const counts = Object.fromEntries(STATE_NAMES.map((r) => [r, 0])) as Record<StateName, number>;
  for (const t of tokens) if (isStateName(t.regime)) counts[t.regime]++;
  return counts;
}

/**
 * The trace as JSON (one trailing newline). JSON has no NaN or Infinity, and JSON.stringify would
 * write them as null anyway, without saying so; here that is the documented contract: every
 * non-finite number (a NaN metric of a row that had no usable logit, a -Infinity log-probability)
 * is written as null. Nothing is dropped: the token stays, with its field set to null.
 */
export function traceToJson(trace: Trace): string {
  return `${JSON.stringify(trace, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`;
}
