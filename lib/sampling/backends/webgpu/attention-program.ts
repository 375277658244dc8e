// The four attention metrics of every row in one program (one workgroup per batch row), the same
// rules as metrics.ts attentionColumns: last query row, keys masked by keyMask or scored NaN/−Inf
// excluded, a head with no real key has entropy 0, a row with none has every metric 0.
import type { Tensor } from '@tensorflow/tfjs-core';
import { commonWgsl } from './wgsl-common';
import { dispatch, outputTensor, words } from './dispatch';

/** Heads one workgroup keeps statistics for. More heads fall back to the generic path. */
export const MAX_HEADS = 256;

function code(wg: number, maskType: 'f32' | 'i32' | 'none'): string {
  return /* wgsl */ `${commonWgsl(wg)}
struct U { batch: u32, heads: u32, queries: u32, keys: u32 }
@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read> keyMask: array<${maskType === 'none' ? 'f32' : maskType}>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // [4, B]
@group(0) @binding(3) var<uniform> u: U;

var<workgroup> headMax: array<f32, ${MAX_HEADS}>;
var<workgroup> headSum: array<f32, ${MAX_HEADS}>;
var<workgroup> headBits: array<f32, ${MAX_HEADS}>;

fn score(b: u32, h: u32, t: u32) -> f32 {
  ${maskType === 'none' ? '' : `if (!(f32(keyMask[b * u.keys + t]) > 0.0)) { return MASKED; }`}
  return sanitize(scores[((b * u.heads + h) * u.queries + u.queries - 1u) * u.keys + t]);
}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lidv: vec3<u32>) {
  let b = wid.x;
  let lid = lidv.x;
  let H = u.heads;
  let T = u.keys;
  // Per head: H_h = log S0 - E_p[s - max], S0 = sum exp(s - max).
  for (var h = 0u; h < H; h++) {
    var m = -F32MAX;
    for (var t = lid; t < T; t += WG) { m = max(m, score(b, h, t)); }
    m = bitcast<f32>(argmax(m, 0u, lid).x);
    var s0 = 0.0;
    var s1 = 0.0;
    for (var t = lid; t < T; t += WG) {
      let d = score(b, h, t) - m;
      let e = exp(d);
      s0 += e;
      s1 += e * d;
    }
    let s = sum3(s0, s1, 0.0, lid);
    if (lid == 0u) {
      headMax[h] = m;
      headSum[h] = s.x;
      headBits[h] = select(0.0, (log(s.x) - s.y / s.x) * INV_LN2, m > REAL_THRESHOLD);
    }
  }
  workgroupBarrier();
  // Agreement and interaction strength: means over real (head, key) pairs; mean_h p counts a head
  // with no real key as p = 0.
  var spread = 0.0;
  var strength = 0.0;
  var pairs = 0.0;
  let invH = 1.0 / f32(H);
  for (var t = lid; t < T; t += WG) {
    var meanP = 0.0;
    for (var h = 0u; h < H; h++) {
      if (headMax[h] > REAL_THRESHOLD) { meanP += exp(score(b, h, t) - headMax[h]) / headSum[h]; }
    }
    meanP = meanP * invH;
    for (var h = 0u; h < H; h++) {
      let x = score(b, h, t);
      if (x > REAL_THRESHOLD) {
        spread += abs(exp(x - headMax[h]) / headSum[h] - meanP);
        strength += abs(x);
        pairs += 1.0;
      }
    }
  }
  let r = sum3(spread, strength, pairs, lid);
  if (lid == 0u) {
    var mean = 0.0;
    for (var h = 0u; h < H; h++) { mean += headBits[h]; }
    mean = mean * invH;
    var v = 0.0;
    if (H > 1u) {
      for (var h = 0u; h < H; h++) { let d = headBits[h] - mean; v += d * d; }
      v = v / f32(H - 1u);
    }
    let n = max(r.z, 1.0);
    out[b] = mean;
    out[u.batch + b] = v;
    out[2u * u.batch + b] = r.x / n;
    out[3u * u.batch + b] = r.y / n;
  }
}
`;
}

/**
 * attnEntropy, attnVarentropy, agreement, interactionStrength as one float32 [4, B] tensor.
 * `mask` is keyMask [B, T] (float32, int32 or bool) or a placeholder when `hasMask` is false.
 */
export function attentionProgram(scores: Tensor, mask: Tensor | null, placeholder: Tensor, wg: number): Tensor {
  const batch = scores.shape[0]!;
  const heads = scores.shape[1]!;
  const queries = scores.rank === 4 ? scores.shape[2]! : 1;
  const keys = scores.shape[scores.rank - 1]!;
  const maskType = mask === null ? 'none' : mask.dtype === 'float32' ? 'f32' : 'i32';
  const out = outputTensor([4, batch], 'float32');
  dispatch({
    key: `entropix-attention-${wg}-${maskType}`,
    code: () => code(wg, maskType),
    inputs: [scores, mask ?? placeholder],
    outputs: [out],
    uniforms: words([['u', batch], ['u', heads], ['u', queries], ['u', keys]]),
    workgroups: batch,
  });
  return out;
}
