// The logits side of a sampling step in one program, one workgroup per row:
//   1. the row's maximum and argmax;
//   2. (metrics) entropy and varentropy in bits from one pass of moments about the maximum;
//   3. (draw) the exact k highest logits by radix select on the bits of (logit, token id) —
//      order: logit descending, ties by token id ascending, so the select has one answer —
//      compacted into workgroup memory and sorted there (bitonic, ≤ MAX_SORTED entries);
//   4. (regimes) the regime decision and its parameter rules, read from the compiled RegimeTable;
//   5. (draw) temperature → min-p → top-k → top-p on the sorted candidates, the Gumbel-max draw
//      (best of n), and the clarifying-token rule.
// Every rule follows sample-tokens.ts drawTokens and regimes.ts decideRegimes step by step, with
// the same float32 operations in the same order where the order can change a token.
import type { Tensor } from '@tensorflow/tfjs-core';
import { commonWgsl } from './wgsl-common';
import { dispatch, outputTensor } from './dispatch';

/** The largest candidate list one workgroup sorts; larger caps take the generic path. */
export const MAX_SORTED = 512;

/** How a per-row parameter reaches the program: a uniform (host number) or a tensor [B]. */
export type ParamSource = 'uniform' | 'f32' | 'i32';

export interface RowProgramShape {
  wg: number;
  /** Power of two ≥ k. */
  sorted: number;
  metrics: boolean;
  draw: boolean;
  /** Decide regimes from a RegimeTable (inputs: attention [4, B], table, lastTokens). */
  regimes: boolean;
  /** For a plain draw: where temperature, topK, topP, minP come from. */
  params: [ParamSource, ParamSource, ParamSource, ParamSource];
  lastTokens: boolean;
}

/** Uniform struct fields, in order (all 32-bit). */
export const ROW_UNIFORMS = [
  'batch', 'vocab', 'k', 'samples', 'idBits', 'clarifyingId', 'clarifies', 'topKMayBeOff',
  // host-side plan for uniform parameters (sample-tokens.ts, number branches)
  'argmaxAll', 'invT', 'minPs', 'kLimit', 'kOff', 'topPOn', 'topPs', 'pad',
] as const;

const FLOAT_UNIFORMS = new Set(['invT', 'minPs', 'kLimit', 'topPs']);

function uniformStruct(): string {
  return `struct U { ${ROW_UNIFORMS.map((n) => `${n}: ${n === 'clarifyingId' ? 'i32' : FLOAT_UNIFORMS.has(n) ? 'f32' : 'u32'}`).join(', ')} }`;
}

function bindings(s: RowProgramShape): string {
  const lines: string[] = [];
  let i = 0;
  const add = (decl: string) => lines.push(`@group(0) @binding(${i++}) ${decl};`);
  add('var<storage, read> logits: array<f32>');
  if (s.regimes) {
    add('var<storage, read> attn: array<f32>'); // [4, B]
    add('var<storage, read> table: array<f32>');
    add(`var<storage, read> lastTokens: array<i32>`);
  }
  if (s.draw) add('var<storage, read> noise: array<f32>'); // [B, S, k]
  if (s.draw && !s.regimes) {
    ['pT', 'pK', 'pP', 'pMinP'].forEach((name, j) => {
      const src = s.params[j];
      add(`var<storage, read> ${name}: array<${src === 'i32' ? 'i32' : 'f32'}>`);
    });
  }
  add('var<storage, read_write> out: array<u32>');
  lines.push(`@group(0) @binding(${i}) var<uniform> u: U;`);
  return lines.join('\n');
}

function paramRead(name: string, src: ParamSource): string {
  return src === 'i32' ? `f32(${name}[b])` : `${name}[b]`;
}

function isNan(expr: string): string {
  return `((bitcast<u32>(${expr}) & 0x7fffffffu) > 0x7f800000u)`;
}

/** The WGSL of one program shape. */
export function rowProgramCode(s: RowProgramShape): string {
  const { wg, sorted } = s;
  // Per-row plan: tensor parameters cleaned as planFromParams does; uniform ones as given.
  const plainPlan = s.draw && !s.regimes ? /* wgsl */ `
    var argmaxRow = u.argmaxAll != 0u;
    var invT = u.invT;
    ${s.params[0] !== 'uniform' ? `{
      var T = ${paramRead('pT', s.params[0])};
      if (${isNan('T')}) { T = 0.0; }
      argmaxRow = !(T > 0.0);
      invT = 1.0 / clamp(T, 1e-6, 1e6);
    }` : ''}
    var kLimit = u.kLimit;
    var kOff = u.kOff != 0u;
    ${s.params[1] !== 'uniform' ? `{
      var K = ${paramRead('pK', s.params[1])};
      if (${isNan('K')}) { K = 0.0; }
      K = floor(K);
      kOff = 0.5 - K > 0.0;
      kLimit = select(K, K + 1e30, kOff);
    }` : ''}
    var topPOn = u.topPOn != 0u;
    var topPs = u.topPs;
    ${s.params[2] !== 'uniform' ? `{
      var P = ${paramRead('pP', s.params[2])};
      if (${isNan('P')}) { P = 1.0; }
      topPOn = true;
      topPs = clamp(P, 1e-7, 1.0) * 1.000001;
    }` : ''}
    var minPs = u.minPs;
    ${s.params[3] !== 'uniform' ? `{
      var M = ${paramRead('pMinP', s.params[3])};
      if (${isNan('M')}) { M = 0.0; }
      minPs = clamp(M, 0.0, 1.0) * 0.999999;
    }` : ''}
    var nSamples = 1.0;
    var clarify = 0.0;
` : '';

  const regimePlan = s.regimes ? /* wgsl */ `
    // regimes.ts decideRegimes: features clipped to ±1e30; the first state whose strict bounds
    // all hold wins (table: lower [6, 7], upper [6, 7], weights [7, 36], lo [36], hi [36]).
    var f: array<f32, 7>;
    f[0] = entropyT; f[1] = varentropyT;
    f[2] = attn[b]; f[3] = attn[u.batch + b]; f[4] = attn[2u * u.batch + b]; f[5] = attn[3u * u.batch + b];
    f[6] = select(0.0, 1.0, real);
    for (var j = 0u; j < 7u; j++) { f[j] = clamp(f[j], -1e30, 1e30); }
    var regime = 0u;
    var found = false;
    for (var st = 0u; st < 6u; st++) {
      var holds = true;
      for (var j = 0u; j < 7u; j++) {
        holds = holds && f[j] > table[st * 7u + j] && f[j] < table[42u + st * 7u + j];
      }
      if (holds && !found) { regime = st; found = true; }
    }
    var param: array<f32, 6>;
    for (var p = 0u; p < 6u; p++) {
      let col = p * 6u + regime;
      var acc = 0.0;
      for (var j = 0u; j < 7u; j++) { acc += f[j] * table[84u + j * 36u + col]; }
      param[p] = min(max(acc, table[336u + col]), table[372u + col]);
    }
    let T = param[0];
    let K = floor(param[1]);
    var argmaxRow = !(T > 0.0);
    var invT = 1.0 / clamp(T, 1e-6, 1e6);
    var kOff = u.topKMayBeOff != 0u && 0.5 - K > 0.0;
    var kLimit = select(K, K + 1e30, kOff);
    var topPOn = true;
    var topPs = param[2] * 1.000001;
    var minPs = param[3] * 0.999999;
    var nSamples = select(1.0, param[4], u.samples > 1u);
    var clarify = param[5];
` : '';

  const outputs = s.regimes
    ? /* wgsl */ `
    if (lid == 0u) {
      out[b] = bitcast<u32>(token);
      out[u.batch + b] = regime;
      out[2u * u.batch + b] = select(0x7fc00000u, bitcast<u32>(entropyT), real);
      out[3u * u.batch + b] = select(0x7fc00000u, bitcast<u32>(varentropyT), real);
    }`
    : s.draw
      ? `if (lid == 0u) { out[b] = bitcast<u32>(token); }`
      : /* wgsl */ `
    if (lid == 0u) {
      out[b] = select(0x7fc00000u, bitcast<u32>(entropyT), real);
      out[u.batch + b] = select(0x7fc00000u, bitcast<u32>(varentropyT), real);
    }`;

  const decl = bindings(s);
  return /* wgsl */ `${commonWgsl(wg)}
const SORTED: u32 = ${sorted}u;
${uniformStruct()}
${decl}

var<workgroup> candV: array<f32, ${s.draw ? sorted : 1}>;
var<workgroup> candI: array<u32, ${s.draw ? sorted : 1}>;
var<workgroup> cumBefore: array<f32, ${s.draw ? sorted : 1}>;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> sel: array<u32, 4>; // prefix hi, prefix lo, bits decided, rank left
var<workgroup> selDone: u32;
var<workgroup> flag: u32;
var<workgroup> massShared: f32;

// Sort key of a logit: the float's bits mapped so that unsigned order is numeric order (-0 = +0).
fn orderKey(x: f32) -> u32 {
  let bits = bitcast<u32>(select(x, 0.0, x == 0.0));
  return select(bits | 0x80000000u, ~bits, (bits >> 31u) == 1u);
}

// (key, token) as 64 bits: the logit's key, then the token id reversed, so that a higher value
// comes first in the candidate order.
fn idKey(i: u32) -> u32 {
  let ones = select((1u << u.idBits) - 1u, 0xffffffffu, u.idBits >= 32u);
  return (ones - i) << (32u - u.idBits);
}

// The top n bits of a 64-bit key (hi, lo), compared with the same bits of the prefix: -1, 0, 1.
fn comparePrefix(hi: u32, lo: u32, n: u32, phi: u32, plo: u32) -> i32 {
  if (n == 0u) { return 0; }
  if (n <= 32u) {
    let a = hi >> (32u - n);
    let c = phi >> (32u - n);
    return select(select(-1, 1, a > c), 0, a == c);
  }
  if (hi != phi) { return select(-1, 1, hi > phi); }
  let a = lo >> (64u - n);
  let c = plo >> (64u - n);
  return select(select(-1, 1, a > c), 0, a == c);
}

// Candidate a comes before candidate b: logit descending, then token id ascending.
fn precedes(a: u32, b: u32) -> bool {
  return candV[a] > candV[b] || (candV[a] == candV[b] && candI[a] < candI[b]);
}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>) {
  let b = wid.x;
  let lid = lidv.x;
  let V = u.vocab;
  let base = b * V;

  // 1. Maximum and argmax.
  var mv = -F32MAX;
  var mi = 0xffffffffu;
  for (var i = lid; i < V; i += WG) {
    let x = sanitize(logits[base + i]);
    if (x > mv) { mv = x; mi = i; }
  }
  let topArg = argmax(mv, mi, lid);
  let top = bitcast<f32>(topArg.x);
  let real = top > REAL_THRESHOLD;

  // 2. Moments about the maximum: H = log S0 - E[d], Var = E[d^2] - E[d]^2 (nats), d = x - max.
  var entropyT = 0.0;
  var varentropyT = 0.0;
  ${s.metrics || s.regimes ? /* wgsl */ `{
    var s0 = 0.0;
    var s1 = 0.0;
    var s2 = 0.0;
    for (var i = lid; i < V; i += WG) {
      let d = sanitize(logits[base + i]) - top;
      let e = exp(d);
      let ed = e * d;
      s0 += e;
      s1 += ed;
      s2 += ed * d; // (e d) d: 0 on a masked entry even when d * d overflows
    }
    let m = sum3(s0, s1, s2, lid);
    let meanD = m.y / m.x;
    entropyT = (log(m.x) - meanD) * INV_LN2;
    varentropyT = max(m.z / m.x - meanD * meanD, 0.0) * INV_LN2_SQ;
  }` : ''}

  ${s.draw ? /* wgsl */ `
  // 3. Exact top k by radix select, 8 bits a pass from the top of the 64-bit key: each pass
  // counts the entries that share the prefix found so far by their next byte. It stops as soon as
  // every entry with the prefix is taken.
  let k = u.k;
  let totalBits = 32u + ((u.idBits + 7u) / 8u) * 8u;
  if (lid == 0u) { sel[0] = 0u; sel[1] = 0u; sel[2] = 0u; sel[3] = k; selDone = 0u; }
  workgroupBarrier();
  loop {
    if (workgroupUniformLoad(&selDone) != 0u) { break; }
    for (var j = lid; j < 256u; j += WG) { atomicStore(&hist[j], 0u); }
    workgroupBarrier();
    let n = sel[2];
    let phi = sel[0];
    let plo = sel[1];
    for (var i = lid; i < V; i += WG) {
      let hi = orderKey(sanitize(logits[base + i]));
      let lo = idKey(i);
      if (comparePrefix(hi, lo, n, phi, plo) == 0) {
        let digit = select((lo >> (56u - n)) & 0xffu, (hi >> (24u - min(n, 24u))) & 0xffu, n < 32u);
        atomicAdd(&hist[digit], 1u);
      }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var rank = sel[3];
      var above = 0u;
      var bin = 255u;
      var c = 0u;
      loop {
        c = atomicLoad(&hist[bin]);
        if (above + c >= rank || bin == 0u) { break; }
        above += c;
        bin -= 1u;
      }
      rank -= above;
      if (n < 32u) { sel[0] = sel[0] | (bin << (24u - n)); } else { sel[1] = sel[1] | (bin << (56u - n)); }
      sel[2] = n + 8u;
      sel[3] = rank;
      if (c == rank || n + 8u >= totalBits) { selDone = 1u; }
    }
  }
  // Compaction: the entries whose key is at or above the prefix are exactly the k best.
  let n = sel[2];
  let phi = sel[0];
  let plo = sel[1];
  if (lid == 0u) { atomicStore(&hist[0], 0u); }
  workgroupBarrier();
  for (var i = lid; i < V; i += WG) {
    let x = sanitize(logits[base + i]);
    if (comparePrefix(orderKey(x), idKey(i), n, phi, plo) >= 0) {
      let slot = atomicAdd(&hist[0], 1u);
      if (slot < SORTED) { candV[slot] = select(x, 0.0, x == 0.0); candI[slot] = i; }
    }
  }
  for (var j = k + lid; j < SORTED; j += WG) { candV[j] = -F32MAX; candI[j] = 0xffffffffu; }
  workgroupBarrier();
  // Bitonic sort into candidate order.
  for (var size = 2u; size <= SORTED; size = size << 1u) {
    for (var stride = size >> 1u; stride > 0u; stride = stride >> 1u) {
      for (var t = lid; t < SORTED / 2u; t += WG) {
        let i = (t / stride) * stride * 2u + (t % stride);
        let j = i + stride;
        let up = (i & size) == 0u;
        if (select(precedes(i, j), precedes(j, i), up)) {
          let v = candV[i]; candV[i] = candV[j]; candV[j] = v;
          let id = candI[i]; candI[i] = candI[j]; candI[j] = id;
        }
      }
      workgroupBarrier();
    }
  }
  ` : ''}

  ${plainPlan}${regimePlan}

  ${s.draw ? /* wgsl */ `
  // 5. The filters, as drawTokens applies them: t = clip((v - top) / T, -1e30, 0), w = e^t.
  let S = u.samples;
  // top-p's mass: over the kept candidates, or over the whole vocabulary on a row whose top-k is
  // off (fullVocabularyMass: the tokens that pass min-p).
  let needFull = topPOn && kOff && !argmaxRow;
  if (lid == 0u) { flag = select(0u, 1u, needFull); }
  if (workgroupUniformLoad(&flag) != 0u) {
    var z = 0.0;
    for (var i = lid; i < V; i += WG) {
      let e = exp(clamp((sanitize(logits[base + i]) - top) * invT, -1e30, 0.0));
      if (!(e < minPs)) { z += e; }
    }
    let m = sum3(z, 0.0, 0.0, lid);
    if (lid == 0u) { massShared = m.x; }
  }
  // The k-th candidate's logit: top-k keeps every candidate tied with it (Hugging Face's and vLLM's rule).
  let kIndex = u32(clamp(kLimit, 1.0, f32(k))) - 1u;
  let kthValue = candV[kIndex];
  var keptMass = 0.0;
  for (var j = lid; j < k; j += WG) {
    let t = clamp((candV[j] - top) * invT, -1e30, 0.0);
    let w = exp(t);
    var keep = w - minPs > 0.0 && (kLimit - f32(j) > 0.0 || candV[j] == kthValue);
    keptMass += select(0.0, w, keep);
  }
  let massSum = sum3(keptMass, 0.0, 0.0, lid).x;
  // Exclusive prefix sums of the kept weights (in order, as a cumulative sum).
  if (lid == 0u) {
    var acc = 0.0;
    for (var j = 0u; j < k; j++) {
      cumBefore[j] = acc;
      let w = exp(clamp((candV[j] - top) * invT, -1e30, 0.0));
      let keep = w - minPs > 0.0 && (kLimit - f32(j) > 0.0 || candV[j] == kthValue);
      acc += select(0.0, w, keep);
    }
  }
  workgroupBarrier();
  let mass = select(massSum, massShared, needFull);
  var chosen = 0xffffffffu;
  for (var smp = 0u; smp < S; smp++) {
    var bestV = -F32MAX;
    var bestJ = 0xffffffffu;
    for (var j = lid; j < k; j += WG) {
      let t = clamp((candV[j] - top) * invT, -1e30, 0.0);
      let w = exp(t);
      var keep = w - minPs > 0.0 && (kLimit - f32(j) > 0.0 || candV[j] == kthValue);
      if (topPOn) { keep = keep && topPs * mass - cumBefore[j] > 0.0; }
      let v = t + noise[(b * S + smp) * k + j];
      if (keep && (v > bestV || bestJ == 0xffffffffu)) { bestV = v; bestJ = j; }
    }
    // Dropped candidates never win: a thread with none reports no index.
    let r = argmax(select(bestV, -F32MAX, bestJ == 0xffffffffu), bestJ, lid);
    // Best of n: candidates are sorted, so the best raw log-probability is the smallest position.
    let used = !(f32(smp) + 0.5 - nSamples > 0.0);
    if (smp == 0u || used) { chosen = min(chosen, r.y); }
  }
  if (argmaxRow) { chosen = 0u; }
  var token = select(-1, i32(candI[min(chosen, k - 1u)]), real);
  ${s.regimes ? /* wgsl */ `
  if (u.clarifies != 0u && clarify > 0.5) {
    ${s.lastTokens ? 'if (lastTokens[b] != u.clarifyingId) { token = u.clarifyingId; }' : 'token = u.clarifyingId;'}
  }` : ''}
  ` : ''}
  ${outputs}
}
`;
}

/** Runs a row program over `batch` rows; `inputs` in binding order; returns the packed output. */
export function rowProgram(
  shape: RowProgramShape, inputs: Tensor[], batch: number, parts: number, uniforms: Uint32Array,
): Tensor {
  const out = outputTensor([parts, batch], 'int32');
  dispatch({
    key: `entropix-row-${JSON.stringify(shape)}`,
    code: () => rowProgramCode(shape),
    inputs,
    outputs: [out],
    uniforms,
    workgroups: batch,
  });
  return out;
}
