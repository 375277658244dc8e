// ANSI colours for streamed tokens, one per regime (--color).
import { SamplerState } from '../regimes';

const CODES: Record<SamplerState, string> = {
  [SamplerState.Flowing]: '\x1b[32m', // green: argmax, the model is sure
  [SamplerState.Treading]: '\x1b[33m', // yellow: uncertain but consistent
  [SamplerState.Exploring]: '\x1b[36m', // cyan: widened sampling
  [SamplerState.Resampling]: '\x1b[31m', // red: hot resampling
  [SamplerState.Adaptive]: '\x1b[35m', // magenta: adaptive best-of-n
  [SamplerState.Base]: '',
};
const RESET = '\x1b[0m';

export function colorize(text: string, state: SamplerState): string {
  const code = CODES[state] ?? '';
  return code && text ? `${code}${text}${RESET}` : text;
}

export function colorLegend(): string {
  return [SamplerState.Flowing, SamplerState.Treading, SamplerState.Exploring, SamplerState.Resampling, SamplerState.Adaptive]
    .map((s) => colorize(SamplerState[s]!.toLowerCase(), s)).join(' ');
}
