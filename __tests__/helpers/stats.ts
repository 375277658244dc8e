// Goodness-of-fit for the sampler tests. Draws use fixed seeds, so results are deterministic; the
// threshold is the chi-square quantile at p = 1e-4, so a correct sampler fails only for a seed
// that is 1-in-10,000 unlucky, and a biased one fails by a wide margin.

/** Upper quantile of chi-square with `df` degrees of freedom (Wilson–Hilferty), z = 3.719 (p = 1e-4). */
export function chiSquareCritical(df: number, z = 3.719): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/**
 * Pearson's statistic of observed counts against expected probabilities. Bins expected below 5
 * draws are pooled into one. Observed draws in a zero-probability bin are returned separately:
 * they must never happen.
 */
export function chiSquare(counts: number[], probs: number[]): { stat: number; df: number; impossible: number } {
  const n = counts.reduce((a, b) => a + b, 0);
  let stat = 0;
  let df = -1;
  let pooledObs = 0;
  let pooledExp = 0;
  let impossible = 0;
  counts.forEach((obs, i) => {
    const exp = probs[i]! * n;
    if (probs[i] === 0) { impossible += obs; return; }
    if (exp < 5) { pooledObs += obs; pooledExp += exp; return; }
    stat += (obs - exp) ** 2 / exp;
    df++;
  });
  if (pooledExp > 0) {
    stat += (pooledObs - pooledExp) ** 2 / pooledExp;
    df++;
  }
  return { stat, df: Math.max(df, 1), impossible };
}

/** Asserts that `counts` fit `probs`; returns the statistic for messages. */
export function expectFits(counts: number[], probs: number[]): void {
  const { stat, df, impossible } = chiSquare(counts, probs);
  if (impossible > 0) throw new Error(`${impossible} draws of zero-probability tokens`);
  const critical = chiSquareCritical(df);
  if (!(stat < critical)) {
    throw new Error(`chi-square ${stat.toFixed(2)} ≥ ${critical.toFixed(2)} (df ${df}); counts ${counts} vs probs ${probs.map((p) => p.toFixed(4))}`);
  }
}

export function histogram(tokens: ArrayLike<number>, size: number): number[] {
  const h = new Array<number>(size).fill(0);
  for (let i = 0; i < tokens.length; i++) h[tokens[i]!]!++;
  return h;
}
