// ANSI colours for streamed tokens, one per regime (--color). Browser-safe: plain strings.
import { SamplerState } from '../sampling/regimes';
import { regimeName } from './trace';

/** SGR foreground codes; Base (plain sampling, greedy, no usable logit) stays uncoloured. */
export const ANSI_CODES: Readonly<Record<SamplerState, string>> = {
  [SamplerState.Flowing]: '\x1b[32m', // green: argmax, the model is sure
  [SamplerState.Treading]: '\x1b[33m', // yellow: uncertain but consistent
  [SamplerState.Exploring]: '\x1b[36m', // cyan: widened sampling
  [SamplerState.Resampling]: '\x1b[31m', // red: hot resampling
  [SamplerState.Adaptive]: '\x1b[35m', // magenta: adaptive best-of-n
  [SamplerState.Base]: '',
};
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
  return [SamplerState.Flowing, SamplerState.Treading, SamplerState.Exploring, SamplerState.Resampling, SamplerState.Adaptive]
    .map((s) => colorize(regimeName(s), s)).join(' ');
}
