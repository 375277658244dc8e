// The attention metrics of one batch row in one JS pass over the heads' scores and softmax,
// for the wasm metric kernel. XNNPACK has already done what needs an exponential (the softmax per
// head) and the mean of p over heads (one average pool); these passes do the rest, as metrics.ts's
// attentionColumns defines it. Written for V8: Math.abs (a ternary abs mispredicts on random
// signs), two accumulators per sum, no allocation.
import { REAL_THRESHOLD as REAL_THRESHOLD_ } from '../../special-values';

const REAL_THRESHOLD = REAL_THRESHOLD_; // module-local: a hot loop pays a property load per imported binding
const LN2 = Math.LN2;

/** attnEntropy, attnVarentropy, agreement, interactionStrength. */
export type AttentionColumns = [number, number, number, number];

let bits = new Float64Array(0);

/**
 * log Σ e^s of one head from its softmax: s_t − log p_t at any key whose p_t is a normal float32
 * (the first such key; p at the maximum is ≥ 1/T), so that no pass looks for the maximum.
 */
function logSumExp(s: Float32Array, p: Float32Array, o: number, keys: number): number {
  for (let t = 0; t < keys; t++) {
    const q = p[o + t]!;
    if (q > 1e-30) return s[o + t]! - Math.log(q);
  }
  return s[o]! - Math.log(p[o]!); // unreachable for a head with a real key
}
let mean = new Float64Array(0);

/**
 * s, p: sanitized scores (masked keys MASKED) and their softmax per head, [H, T] at offset;
 * meanP: mean over all H heads of p, [T] at meanOffset. Per head H_h = max − log p_max − Σ p·s
 * (bits; 0 for a head with no real key); their mean and unbiased variance; agreement = mean over
 * real (head, key) pairs of |p_h − mean_h p| (a head with no real key counts as p = 0: its uniform
 * softmax is taken back out of meanP); interaction strength = mean over real pairs of |s|.
 */
export function attentionRow(
  s: Float32Array, p: Float32Array, offset: number, heads: number, keys: number,
  meanP: Float32Array, meanOffset: number,
): AttentionColumns {
  if (bits.length < heads) bits = new Float64Array(heads);
  if (mean.length < keys) mean = new Float64Array(keys);
  // Empty heads first (a head is real from its first real key on, usually key 0), so that the
  // corrected mean is known before the one pass below.
  let emptyHeads = 0;
  for (let h = 0; h < heads; h++) {
    const o = offset + h * keys;
    let t = 0;
    while (t < keys && !(s[o + t]! > REAL_THRESHOLD)) t++;
    if (t === keys) emptyHeads++;
  }
  // mean_h p without the empty heads' uniform softmax (1/T each).
  const correction = emptyHeads / (heads * keys);
  for (let t = 0; t < keys; t++) mean[t] = meanP[meanOffset + t]! - correction;
  const odd = keys & 1;
  let realPairs = 0;
  let strength = 0;
  let spread = 0;
  for (let h = 0; h < heads; h++) {
    const o = offset + h * keys;
    const end = o + keys - odd;
    let ps0 = 0;
    let ps1 = 0;
    let st0 = 0;
    let st1 = 0;
    let sp0 = 0;
    let sp1 = 0;
    let real = 0;
    for (let i = o, t = 0; i < end; i += 2, t += 2) {
      const v0 = s[i]!;
      const v1 = s[i + 1]!;
      const q0 = p[i]!;
      const q1 = p[i + 1]!;
      ps0 += q0 * v0;
      ps1 += q1 * v1;
      if (v0 > REAL_THRESHOLD && v1 > REAL_THRESHOLD) {
        real += 2;
        st0 += Math.abs(v0);
        st1 += Math.abs(v1);
        sp0 += Math.abs(q0 - mean[t]!);
        sp1 += Math.abs(q1 - mean[t + 1]!);
      } else {
        if (v0 > REAL_THRESHOLD) { real++; st0 += Math.abs(v0); sp0 += Math.abs(q0 - mean[t]!); }
        if (v1 > REAL_THRESHOLD) { real++; st1 += Math.abs(v1); sp1 += Math.abs(q1 - mean[t + 1]!); }
      }
    }
    if (odd) {
      const v = s[end]!;
      const q = p[end]!;
      ps0 += q * v;
      if (v > REAL_THRESHOLD) { real++; st0 += Math.abs(v); sp0 += Math.abs(q - mean[keys - 1]!); }
    }
    realPairs += real;
    strength += st0 + st1;
    spread += sp0 + sp1;
    bits[h] = real > 0 ? (logSumExp(s, p, o, keys) - (ps0 + ps1)) / LN2 : 0;
  }
  let sumBits = 0;
  for (let h = 0; h < heads; h++) sumBits += bits[h]!;
  const attnEntropy = sumBits / heads;
  let sumSq = 0;
  for (let h = 0; h < heads; h++) sumSq += (bits[h]! - attnEntropy) ** 2;
  const attnVarentropy = heads > 1 ? sumSq / (heads - 1) : 0;
  const pairs = Math.max(realPairs, 1);
  return [attnEntropy, attnVarentropy, spread / pairs, strength / pairs];
}
