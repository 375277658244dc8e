// WGSL shared by the fused sampling programs: the special-value rules of special-values.ts and
// workgroup reductions. One workgroup works on one row; WG is its size.

/** Constants and helpers; `wg` threads per workgroup (a power of two). */
export function commonWgsl(wg: number): string {
  return /* wgsl */ `
const WG: u32 = ${wg}u;
const MASKED: f32 = -1e18;
const REAL_THRESHOLD: f32 = -5e17;
const F32MAX: f32 = 3.4028234663852886e38;
const INV_LN2: f32 = 1.4426950408889634;
const INV_LN2_SQ: f32 = 2.0813689810056077;

// special-values.ts: NaN and -Inf -> MASKED, +Inf -> F32MAX, anything at or below MASKED -> MASKED.
// Tested on the bits: a compiler may assume that floats are finite.
fn sanitize(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7fffffffu) >= 0x7f800000u) {
    if (bits == 0x7f800000u) { return F32MAX; }
    return MASKED;
  }
  return max(x, MASKED);
}

var<workgroup> redA: array<f32, ${wg}>;
var<workgroup> redB: array<f32, ${wg}>;
var<workgroup> redC: array<f32, ${wg}>;
var<workgroup> redI: array<u32, ${wg}>;

// Each reduction starts with a barrier, so every thread has read the previous result first.
fn sum3(a: f32, b: f32, c: f32, lid: u32) -> vec3<f32> {
  workgroupBarrier();
  redA[lid] = a; redB[lid] = b; redC[lid] = c;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      redA[lid] = redA[lid] + redA[lid + s];
      redB[lid] = redB[lid] + redB[lid + s];
      redC[lid] = redC[lid] + redC[lid + s];
    }
    workgroupBarrier();
  }
  return vec3<f32>(redA[0], redB[0], redC[0]);
}

// The largest value and its index; ties go to the lowest index.
fn argmax(v: f32, i: u32, lid: u32) -> vec2<u32> {
  workgroupBarrier();
  redA[lid] = v; redI[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let ov = redA[lid + s];
      let oi = redI[lid + s];
      if (ov > redA[lid] || (ov == redA[lid] && oi < redI[lid])) { redA[lid] = ov; redI[lid] = oi; }
    }
    workgroupBarrier();
  }
  return vec2<u32>(bitcast<u32>(redA[0]), redI[0]);
}
`;
}
