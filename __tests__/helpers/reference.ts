// Float64 JS references, written from the README's definitions, for the tests.

export interface RefParams { temperature: number; topK: number; topP: number; minP: number }

/**
 * The exact distribution sampleTokens draws from for one row: temperature → min-p → top-k →
 * top-p over the whole vocabulary, then limited to the `cap` most likely tokens. Ties are not
 * supported (tests use distinct logits). NaN counts as −Inf.
 */
export function referenceDistribution(logits: number[], p: RefParams, cap = 256): number[] {
  const v = logits.map((x) => (Number.isNaN(x) ? -Infinity : x));
  const order = v.map((_, i) => i).filter((i) => v[i]! > -Infinity).sort((a, b) => v[b]! - v[a]!);
  const out = new Array<number>(v.length).fill(0);
  if (order.length === 0) return out;
  if (p.temperature <= 0) {
    out[order[0]!] = 1;
    return out;
  }
  const top = v[order[0]!]!;
  let kept = order.map((i) => ({ i, w: Math.exp((v[i]! - top) / p.temperature) }));
  if (p.minP > 0) kept = kept.filter((c) => c.w >= p.minP);
  const k = p.topK > 0 ? Math.min(p.topK, cap) : Infinity;
  kept = kept.slice(0, k);
  const mass = kept.reduce((s, c) => s + c.w, 0);
  if (p.topP < 1) {
    let before = 0;
    const nucleus = [];
    for (const c of kept) {
      if (before >= p.topP * mass) break;
      nucleus.push(c);
      before += c.w;
    }
    kept = nucleus;
  }
  kept = kept.slice(0, cap);
  const z = kept.reduce((s, c) => s + c.w, 0);
  for (const c of kept) out[c.i] = c.w / z;
  return out;
}

/** The distribution of the most likely of n independent draws from `dist` (ranked by logit). */
export function bestOfN(dist: number[], logits: number[], n: number): number[] {
  const order = dist.map((_, i) => i).filter((i) => dist[i]! > 0).sort((a, b) => logits[b]! - logits[a]!);
  const out = new Array<number>(dist.length).fill(0);
  let tail = 1; // P(a draw ranks at or below the current token)
  for (const i of order) {
    const below = Math.max(0, tail - dist[i]!);
    out[i] = tail ** n - below ** n;
    tail = below;
  }
  return out;
}

/** Entropy and varentropy in bits of softmax(logits). */
export function logitEntropy(logits: number[]): { entropy: number; varentropy: number } {
  const m = Math.max(...logits);
  const w = logits.map((x) => Math.exp(x - m));
  const z = w.reduce((a, b) => a + b, 0);
  let h = 0;
  const lp = w.map((x) => Math.log2(x / z));
  lp.forEach((l, i) => { if (w[i]! > 0) h -= (w[i]! / z) * l; });
  let v = 0;
  lp.forEach((l, i) => { if (w[i]! > 0) v += (w[i]! / z) * (l + h) ** 2; });
  return { entropy: h, varentropy: v };
}
