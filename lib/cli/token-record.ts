// What the CLI remembers of the generated tokens: the regime counts for the summary always, and
// the tokens themselves only when an output (--trace, --plot) needs them, so a long run without
// one holds constant memory.
import { STATE_NAMES, StateName } from '../sampling/states';
import type { TraceToken } from './trace';

export class TokenRecord {
  /** The tokens, in order; empty unless kept. */
  readonly tokens: TraceToken[] = [];
  readonly counts = Object.fromEntries(STATE_NAMES.map((r) => [r, 0])) as Record<StateName, number>;
  generated = 0;

  constructor(readonly keepTokens: boolean) {}

  add(token: TraceToken): void {
    this.generated++;
    if (token.regime in this.counts) this.counts[token.regime]++;
    if (this.keepTokens) this.tokens.push(token);
  }
}
