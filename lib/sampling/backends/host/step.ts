// The Entropix step in plain JS on Float32Arrays: the host-side baseline (logits read back, then
// computed here) and the arithmetic of the wasm kernels (which run it on the wasm heap's views).
// It follows the generic tf-ops path operation by operation, rounding to float32 where that path
// stores a float32 tensor, so that it draws the same tokens from the same noise.
import { FLOAT32_MAX, MASKED, REAL_THRESHOLD as REAL_THRESHOLD_ } from '../../special-values';

const LN2 = Math.LN2;
// Module-local copies: a hot loop reading an imported binding pays a property load per entry.
const REAL_THRESHOLD = REAL_THRESHOLD_;
const f = Math.fround;
const MASKED32 = f(MASKED);
const MAX32 = f(FLOAT32_MAX);
// sample-tokens.ts's constants, as the float32 scalars the tf ops see.
const MIN_TEMPERATURE = 1e-6;
const MAX_TEMPERATURE = 1e6;
const OFF32 = f(1e30);
const MIN_P_SLACK = 1e-6;
const TOP_P_SLACK = 1e-6;

/** sanitizeScores for one value: NaN/−Inf and anything ≤ MASKED → MASKED, +Inf → FLOAT32_MAX. */
export function sanitize(v: number): number {
  return v > MASKED32 ? (v < MAX32 ? v : MAX32) : MASKED32;
}

/**
 * The k = min(k, n) highest sanitized entries of x[offset … offset + n), sorted by value
 * descending and ties by index ascending, written to values/indices at out. A partial selection:
 * a min-heap of the k best so far (its root the worst: lowest value, then highest index); an
 * entry enters only if it beats the root, so a typical row costs one compare per entry.
 */
export function selectTop(
  x: Float32Array, offset: number, n: number, k: number,
  values: Float32Array, indices: Int32Array, out: number,
): void {
  k = Math.min(k, n);
  const hv = new Float32Array(k);
  const hi = new Int32Array(k);
  // worse(a, b): a ranks below b.
  const siftDown = (start: number, v: number, id: number): void => {
    let j = start;
    for (;;) {
      let c = 2 * j + 1;
      if (c >= k) break;
      const r = c + 1;
      if (r < k && (hv[r]! < hv[c]! || (hv[r] === hv[c] && hi[r]! > hi[c]!))) c = r;
      if (hv[c]! > v || (hv[c] === v && hi[c]! < id)) break;
      hv[j] = hv[c]!;
      hi[j] = hi[c]!;
      j = c;
    }
    hv[j] = v;
    hi[j] = id;
  };
  for (let i = 0; i < k; i++) { hv[i] = sanitize(x[offset + i]!); hi[i] = i; }
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i, hv[i]!, hi[i]!);
  let root = hv[0]!;
  for (let i = k; i < n; i++) {
    const v = x[offset + i]!;
    // A later index never beats an equal root, and NaN fails the compare (NaN → MASKED ≤ root);
    // +Inf passes it against a root at FLOAT32_MAX, so the sanitized value decides.
    if (v > root && sanitize(v) > root) {
      siftDown(0, sanitize(v), i);
      root = hv[0]!;
    }
  }
  // Pop the heap from worst to best into the output's tail.
  for (let end = k - 1; end >= 0; end--) {
    values[out + end] = hv[0]!;
    indices[out + end] = hi[0]!;
    const lastV = hv[end]!;
    const lastI = hi[end]!;
    const size = end;
    if (size > 0) {
      // siftDown within the shrunken heap
      let j = 0;
      for (;;) {
        let c = 2 * j + 1;
        if (c >= size) break;
        const r = c + 1;
        if (r < size && (hv[r]! < hv[c]! || (hv[r] === hv[c] && hi[r]! > hi[c]!))) c = r;
        if (hv[c]! > lastV || (hv[c] === lastV && hi[c]! < lastI)) break;
        hv[j] = hv[c]!;
        hi[j] = hi[c]!;
        j = c;
      }
      hv[j] = lastV;
      hi[j] = lastI;
    }
  }
}

/**
 * selectTop through block maxima, for a row of n = g·m entries folded as [g, m] (block j holds
 * entries j, j + m, …, j + (g−1)·m) with blockMax[j] its maximum (one SIMD max-pool on the
 * backend). Exact with ties: keep every block whose maximum is at least the k-th largest block
 * maximum (a block holding one of the k best has a maximum at least that entry's value, and k
 * blocks with strictly larger maxima would hold k better entries), then select among the kept
 * blocks' members in index order.
 */
export function selectTopByBlocks(
  x: Float32Array, offset: number, n: number, k: number, blockMax: Float32Array, blockOffset: number, blocks: number,
  values: Float32Array, indices: Int32Array, out: number,
): void {
  const g = n / blocks;
  k = Math.min(k, n);
  const kb = Math.min(k, blocks);
  const bv = new Float32Array(kb);
  const bi = new Int32Array(kb);
  selectTop(blockMax, blockOffset, blocks, kb, bv, bi, 0);
  const threshold = bv[kb - 1]!;
  const kept: number[] = [];
  for (let j = 0; j < blocks; j++) if (sanitize(blockMax[blockOffset + j]!) >= threshold) kept.push(j);
  const count = kept.length * g;
  const mv = new Float32Array(count);
  const mi = new Int32Array(count);
  let c = 0;
  for (let r = 0; r < g; r++) {
    const base = offset + r * blocks;
    for (let q = 0; q < kept.length; q++) {
      const j = kept[q]!;
      mv[c] = x[base + j]!;
      mi[c++] = r * blocks + j; // ascending: members in index order
    }
  }
  const km = Math.min(k, count);
  const pos = new Int32Array(km);
  const best = new Float32Array(km);
  selectTop(mv, 0, count, km, best, pos, 0);
  for (let i = 0; i < km; i++) {
    values[out + i] = best[i]!;
    indices[out + i] = mi[pos[i]!]!;
  }
}

/** The logit columns of one row: entropy (bits), varentropy (bits²), real (1/0). */
export interface LogitMoments { entropy: number; varentropy: number; real: number }

/**
 * Entropy and varentropy of softmax(x) for one sanitized row with maximum `top`, as metrics.ts:
 * H = −log p_max − E_p[d], Var = E_p[d²] − E_p[d]², d = x − top. With p given (a softmax the
 * backend computed) one pass of multiply-adds; without it one pass of exp.
 */
export function logitMoments(
  x: Float32Array, offset: number, n: number, top: number, p?: Float32Array,
): LogitMoments {
  let z = 0;
  let s1 = 0;
  let s2 = 0;
  let pMax = 0;
  if (p) {
    for (let i = offset, end = offset + n; i < end; i++) {
      const d = x[i]! - top;
      const pi = p[i]!;
      const pd = pi * d;
      s1 += pd;
      s2 += pd * d;
      if (pi > pMax) pMax = pi;
    }
    z = 1;
  } else {
    for (let i = offset, end = offset + n; i < end; i++) {
      const v = sanitize(x[i]!);
      const d = v - top;
      const e = Math.exp(d);
      z += e;
      s1 += e * d;
      s2 += e * d * d;
    }
    pMax = 1;
  }
  const meanD = s1 / z;
  const meanD2 = s2 / z;
  const entropy = -(Math.log(pMax / z) + meanD) / LN2;
  const varentropy = Math.max(meanD2 - meanD * meanD, 0) / (LN2 * LN2);
  return { entropy, varentropy, real: top > REAL_THRESHOLD ? 1 : 0 };
}

/** attnEntropy, attnVarentropy, agreement, interactionStrength of one batch row. */
export type AttentionMetrics = [number, number, number, number];

/**
 * The attention columns of one batch row from its heads' sanitized scores s [H, T] at offset
 * (masked keys already MASKED), as metrics.ts: per head H_h = max − log p_max − E_p[s] over real
 * keys (0 for a head with none); mean and unbiased variance over heads; agreement = mean over
 * real (head, key) pairs of |p_h − mean_h p_h| (a head with no real key counts as p = 0); strength
 * = mean over real pairs of |s|. With p given (softmax over each head) no exp is taken.
 */
export function attentionMetrics(
  s: Float32Array, offset: number, heads: number, keys: number, p?: Float32Array, scratch?: Float32Array,
): AttentionMetrics {
  const probs = p ?? headSoftmax(s, offset, heads, keys);
  const po = p ? offset : 0;
  const meanP = scratch && scratch.length >= keys ? scratch.fill(0, 0, keys) : new Float32Array(keys);
  let sumBits = 0;
  let sumBits2 = 0;
  const bits = new Float64Array(heads);
  const realKeys = new Int32Array(heads);
  let realPairs = 0;
  let strength = 0;
  for (let h = 0; h < heads; h++) {
    const o = offset + h * keys;
    const q = po + h * keys;
    let pMax = -1;
    let at = 0;
    let ps = 0;
    let real = 0;
    for (let t = 0; t < keys; t++) {
      const v = s[o + t]!;
      const pt = probs[q + t]!;
      if (pt > pMax) { pMax = pt; at = t; } // the softmax's argmax is the scores' argmax
      ps += pt * v;
      meanP[t] += pt;
      if (v > REAL_THRESHOLD) {
        real++;
        strength += Math.abs(v); // not a ternary: random signs mispredict (4× slower here)
      }
    }
    const max = s[o + at]!;
    if (max > REAL_THRESHOLD) {
      bits[h] = (max - Math.log(pMax) - ps) / LN2;
    } else {
      // A head with no real key counts as p = 0 in mean_h p (its softmax is uniform): take it back.
      for (let t = 0; t < keys; t++) meanP[t] -= probs[q + t]!;
    }
    realPairs += real;
    realKeys[h] = real;
  }
  for (let h = 0; h < heads; h++) sumBits += bits[h]!;
  const attnEntropy = sumBits / heads;
  for (let h = 0; h < heads; h++) sumBits2 += (bits[h]! - attnEntropy) ** 2;
  const attnVarentropy = heads > 1 ? sumBits2 / (heads - 1) : 0;
  let spread = 0;
  for (let t = 0; t < keys; t++) meanP[t] /= heads;
  for (let h = 0; h < heads; h++) {
    const o = offset + h * keys;
    const q = po + h * keys;
    if (realKeys[h] === keys) { // every key real: no look at the scores
      for (let t = 0; t < keys; t++) { const d = probs[q + t]! - meanP[t]!; spread += Math.abs(d); }
    } else {
      for (let t = 0; t < keys; t++) {
        if (s[o + t]! > REAL_THRESHOLD) { const d = probs[q + t]! - meanP[t]!; spread += Math.abs(d); }
      }
    }
  }
  const pairs = Math.max(realPairs, 1);
  return [attnEntropy, attnVarentropy, spread / pairs, strength / pairs];
}

/** softmax over each head of sanitized s [H, T] (float64 exp; the host path's own). */
function headSoftmax(s: Float32Array, offset: number, heads: number, keys: number): Float32Array {
  const p = new Float32Array(heads * keys);
  const e = new Float64Array(keys); // each exp taken once (the same values as taking it twice)
  for (let h = 0; h < heads; h++) {
    const o = offset + h * keys;
    let max = -Infinity;
    for (let t = 0; t < keys; t++) if (s[o + t]! > max) max = s[o + t]!;
    let z = 0;
    const q = h * keys;
    for (let t = 0; t < keys; t++) { const v = Math.exp(s[o + t]! - max); e[t] = v; z += v; }
    for (let t = 0; t < keys; t++) p[q + t] = e[t]! / z;
  }
  return p;
}

/** A row's decision: state and parameters, as regimes.ts's decideRegimes gives them. */
export interface RowDecision {
  state: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  samples: number;
  clarify: number;
}

/** The compiled table's arrays (regimes.ts RegimeTable); STATES × FEATURES bounds, FEATURES × PARAMS·STATES weights. */
export interface RegimeArrays {
  lower: Float32Array; upper: Float32Array; weights: Float32Array; lo: Float32Array; hi: Float32Array;
}
const STATES = 6;
const FEATURES = 7;
const PARAMS = 6;

/** decideRegimes for one metric-table row m [7] (at offset): the first state whose bounds hold, its parameters. */
export function decideRow(table: RegimeArrays, m: ArrayLike<number>, offset = 0): RowDecision {
  const x = new Array<number>(FEATURES);
  for (let i = 0; i < FEATURES; i++) {
    const v = m[offset + i]!;
    x[i] = v > 1e30 ? f(1e30) : v < -1e30 ? f(-1e30) : v;
  }
  let state = STATES - 1;
  for (let s = 0; s < STATES; s++) {
    let holds = true;
    for (let i = 0; i < FEATURES && holds; i++) holds = x[i]! > table.lower[s * FEATURES + i]! && x[i]! < table.upper[s * FEATURES + i]!;
    if (holds) { state = s; break; }
  }
  const param = (p: number): number => {
    const col = p * STATES + state;
    let acc = 0;
    for (let i = 0; i < FEATURES; i++) acc += x[i]! * table.weights[i * PARAMS * STATES + col]!;
    return Math.min(Math.max(f(acc), table.lo[col]!), table.hi[col]!);
  };
  return {
    state,
    temperature: param(0), topK: Math.floor(param(1)), topP: param(2), minP: param(3),
    samples: param(4), clarify: param(5),
  };
}

/**
 * One row's draw parameters, as the values the generic path holds (DrawPlan, per row). A
 * parameter that came as a tensor is float32 and meets float32 constants; a number meets the
 * constants in float64 before its product is rounded, as a tf op given a JS number does.
 */
export interface RowPlan {
  temperature: number; // ≤ 0 (or NaN): argmax
  topK: number; // integral; ≤ 0: off
  topP: number;
  minP: number;
  samples: number; // best of this many of the noise's samples
  tensors: { temperature: boolean; topP: boolean; minP: boolean; topK: boolean };
  /** The top-p filter runs (some row's topP may be < 1). */
  topPOn: boolean;
  /** Σ p/p_max over the vocabulary above min-p, for a row whose top-k is off (fullVocabularyMass). */
  fullMass?: number;
}

const MIN_T32 = f(MIN_TEMPERATURE);
const MAX_T32 = f(MAX_TEMPERATURE);
const MIN_P_FACTOR32 = f(1 - MIN_P_SLACK);
const TOP_P_FACTOR32 = f(1 + TOP_P_SLACK);

/**
 * drawTokens for one row: temperature → min-p → top-k (ties kept) → top-p on the sorted
 * candidates values/indices [k] at offset, then argmax of t + log keep + noise for each of the
 * noise's S samples ([S, k] at noiseOffset), the smallest position of the first `samples`.
 * −1 for a row with no usable logit. `scratch` holds at least 2k floats.
 */
export function drawRow(
  values: Float32Array, indices: Int32Array, offset: number, k: number,
  noise: Float32Array, noiseOffset: number, sampleCount: number, plan: RowPlan, scratch: Float32Array,
): number {
  const top = values[offset]!;
  if (!(top > REAL_THRESHOLD)) return -1;
  if (!(plan.temperature > 0)) return indices[offset]!;
  const invT = plan.tensors.temperature
    ? f(1 / Math.min(Math.max(plan.temperature, MIN_T32), MAX_T32))
    : f(1 / Math.min(Math.max(plan.temperature, MIN_TEMPERATURE), MAX_TEMPERATURE));
  const t = scratch.subarray(0, k);
  const kept = scratch.subarray(k, 2 * k);
  const minP = plan.tensors.minP ? f(plan.minP * MIN_P_FACTOR32) : f(plan.minP * (1 - MIN_P_SLACK));
  const topKOff = plan.topK <= 0;
  const kth = topKOff ? -Infinity : values[offset + Math.min(plan.topK, k) - 1]!;
  let mass = 0;
  for (let j = 0; j < k; j++) {
    const v = values[offset + j]!;
    const tj = Math.min(Math.max(f(f(v - top) * invT), -OFF32), 0);
    t[j] = tj;
    const w = f(Math.exp(tj));
    const w0 = w > minP && v >= kth ? w : 0;
    kept[j] = w0;
    mass = f(mass + w0);
  }
  if (plan.topPOn) {
    if (topKOff && plan.fullMass !== undefined) {
      mass = plan.tensors.topK ? f(mass + f(plan.fullMass - mass)) : plan.fullMass;
    }
    const topP = plan.tensors.topP ? f(plan.topP * TOP_P_FACTOR32) : f(plan.topP * (1 + TOP_P_SLACK));
    const limit = f(topP * mass);
    let before = 0;
    for (let j = 0; j < k; j++) {
      const w0 = kept[j]!;
      if (!(f(limit - before) > 0)) kept[j] = 0;
      before = f(before + w0);
    }
  }
  const n = Math.max(1, Math.min(sampleCount, plan.samples));
  let chosen = k - 1;
  for (let s = 0; s < n; s++) {
    let best = -Infinity;
    let at = 0;
    const o = noiseOffset + s * k;
    for (let j = 0; j < k; j++) {
      if (kept[j] === 0) continue;
      const score = f(t[j]! + noise[o + j]!);
      if (score > best) { best = score; at = j; }
    }
    if (at < chosen) chosen = at;
  }
  return indices[offset + chosen]!;
}

/**
 * fullVocabularyMass for one row: Σ over the vocabulary of p/p_max above min-p at temperature
 * 1/invT, which is Σ of e^t over the tokens with e^t ≥ minP (t = (x − top)·invT ≤ 0).
 */
export function fullMassRow(x: Float32Array, offset: number, n: number, top: number, invT: number, minP: number): number {
  let mass = 0;
  for (let i = offset, end = offset + n; i < end; i++) {
    const e = Math.exp(Math.max((sanitize(x[i]!) - top) * invT, -OFF32));
    if (!(e < minP)) mass += e;
  }
  return mass;
}

/** What the host-side step reads: the logits and attention scores as read back with data(). */
export interface HostStepInputs {
  logits: Float32Array; // [B, V]
  batch: number;
  vocab: number;
  scores: Float32Array; // [B, H, Q, T] (Q = 1 for [B, H, T]); the last query row is used
  heads: number;
  queries: number;
  keys: number;
  keyMask?: ArrayLike<number>; // [B, T]
  lastTokens?: ArrayLike<number>; // [B]
}

export interface HostStepResult {
  tokens: Int32Array;
  states: Int32Array;
  /** entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength, [B] each. */
  metrics: Float32Array[];
}

/**
 * The whole Entropix step on the host (EntropixSampler.sample after a read-back): candidates by
 * partial selection, the metrics in one pass of exp per row, the regime, the draw, the
 * clarifying rule. `noise` is gumbelNoise(seed, B, table's samples, k), as the device paths use.
 */
export function hostEntropixStep(
  input: HostStepInputs, table: RegimeArrays & { topKMayBeOff: boolean; clarifies: boolean },
  cap: number, clarifyingId: number | null, noise: Float32Array,
): HostStepResult {
  const { logits, batch, vocab, scores, heads, queries, keys, keyMask, lastTokens } = input;
  const k = Math.min(cap, vocab);
  const sampleCount = noise.length / (batch * k);
  const values = new Float32Array(batch * k);
  const indices = new Int32Array(batch * k);
  const tokens = new Int32Array(batch);
  const states = new Int32Array(batch);
  const metrics = Array.from({ length: 6 }, () => new Float32Array(batch));
  const s = new Float32Array(heads * keys);
  const row = new Float32Array(7);
  const scratch = new Float32Array(2 * k);
  const meanScratch = new Float32Array(keys);
  for (let b = 0; b < batch; b++) {
    selectTop(logits, b * vocab, vocab, k, values, indices, b * k);
    const top = values[b * k]!;
    const m = logitMoments(logits, b * vocab, vocab, top);
    for (let h = 0; h < heads; h++) {
      const from = ((b * heads + h) * queries + queries - 1) * keys;
      for (let t = 0; t < keys; t++) {
        const masked = keyMask !== undefined && !(Number(keyMask[b * keys + t]) > 0);
        s[h * keys + t] = masked ? MASKED32 : sanitize(scores[from + t]!);
      }
    }
    const a = attentionMetrics(s, 0, heads, keys, undefined, meanScratch);
    row.set([m.entropy, m.varentropy, ...a, m.real]);
    const d = decideRow(table, row);
    states[b] = d.state;
    for (let c = 0; c < 6; c++) metrics[c]![b] = row[c]!;
    if (!m.real) { metrics[0]![b] = NaN; metrics[1]![b] = NaN; }
    const plan: RowPlan = {
      temperature: f(d.temperature), topK: d.topK, topP: f(d.topP), minP: f(d.minP), samples: d.samples,
      tensors: { temperature: true, topK: true, topP: true, minP: true }, topPOn: true,
    };
    if (table.topKMayBeOff && d.topK <= 0 && plan.temperature > 0) {
      const invT = f(1 / Math.min(Math.max(plan.temperature, MIN_T32), MAX_T32));
      plan.fullMass = fullMassRow(logits, b * vocab, vocab, top, invT, f(plan.minP * MIN_P_FACTOR32));
    }
    let token = drawRow(values, indices, b * k, k, noise, b * sampleCount * k, sampleCount, plan, scratch);
    if (table.clarifies && clarifyingId !== null && d.clarify > 0.5 && (!lastTokens || lastTokens[b] !== clarifyingId)) {
      token = clarifyingId;
    }
    tokens[b] = token;
  }
  return { tokens, states, metrics };
}
