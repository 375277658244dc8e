// The CLI's colour per sampler state: ANSI for streamed tokens (--color), hex for the SVG plot
// (--plot). Browser-safe: plain strings.
import { SamplerState, SAMPLER_STATES, STATE_NAMES, stateName, StateName } from '../sampling/states';

/** One row per state. Base (plain sampling, greedy, no usable logit) gets no ANSI colour. */
const COLORS: Readonly<Record<StateName, { ansi: string; svg: string }>> = {
  flowing: { ansi: '\x1b[32m', svg: '#2e7d32' }, // green: argmax, the model is sure
  treading: { ansi: '\x1b[33m', svg: '#f9a825' }, // yellow: uncertain but consistent
  exploring: { ansi: '\x1b[36m', svg: '#00838f' }, // cyan: widened sampling
  resampling: { ansi: '\x1b[31m', svg: '#c62828' }, // red: hot resampling
  adaptive: { ansi: '\x1b[35m', svg: '#6a1b9a' }, // magenta: adaptive best-of-n
  base: { ansi: '', svg: '#546e7a' },
};

/** Fill colour of each state in the plot. */
export const REGIME_COLORS: Readonly<Record<StateName, string>> = Object.fromEntries(
  STATE_NAMES.map((name) => [name, COLORS[name].svg]),
) as Record<StateName, string>;

/** SGR foreground code of each state ('' for Base). */
export const ANSI_CODES: Readonly<Record<SamplerState, string>> = Object.fromEntries(
  SAMPLER_STATES.map((s) => [s, COLORS[stateName(s)].ansi]),
) as Record<SamplerState, string>;
export const ANSI_RESET = '\x1b[0m';

/**
 * One token's text in its regime's colour, reset right after it, so a colour never leaks into the
 * next token or past the end of the stream. Base, unknown states and empty text are returned as is.
 */
export function colorize(text: string, state: SamplerState): string {
  const code = ANSI_CODES[state] ?? '';
  return code && text ? `${code}${text}${ANSI_RESET}` : text;
}

/** "flowing treading exploring resampling adaptive", each word in its colour. */
export function colorLegend(): string {
  return SAMPLER_STATES.filter((s) => s !== SamplerState.Base)
    .map((s) => colorize(stateName(s), s))
    .join(' ');
}
