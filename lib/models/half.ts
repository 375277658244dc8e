// IEEE half (F16) and bfloat16 (BF16) conversions to and from float32 bits: pure functions with no
// Node imports, shared by the safetensors reader/writer and the GraphDef emitter.

/** BF16 is the top half of a float32, so widening is a shift. Bytes are little-endian. */
export function bf16BytesToFloat32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 1);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) bits[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
  return out;
}

let f16Table: Uint32Array | undefined;

/** float32 bit patterns of all 65536 halves (256 KB, built on first use). */
function halfTable(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = halfToFloatBits(h);
  return (f16Table = table);
}

/** The float32 bits of IEEE half `h`: every half is exactly a float32, NaN payloads kept. */
export function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, NaN
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 → 127
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal: mant · 2^-24. Shift the leading 1 up to the implicit bit, lowering the exponent.
  let e = 113; // biased float32 exponent of 2^-14, the exponent of mant's bit 10
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

export function f16BytesToFloat32(bytes: Uint8Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(bytes.length >> 1);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) bits[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}

/** IEEE half bits of float32 bits `f`, rounded to nearest even; overflow → ±Inf, NaN stays NaN. */
export function floatBitsToHalf(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant === 0 ? 0 : 0x200 | (mant >>> 13)); // quiet NaN
  const e = exp - 112; // half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal (or zero): the value is m · 2^(e-14) half-ulps, with the implicit bit.
    if (e < -10) return sign; // below half the smallest subnormal (a tie at exactly half → even 0)
    const m = mant | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(m, shift);
  }
  // Normal: a carry out of the mantissa bumps the exponent, and out of the top one gives Inf.
  return sign | ((e << 10) + roundShift(mant, 13));
}

/** x >> shift, rounded to nearest, ties to even. */
function roundShift(x: number, shift: number): number {
  const q = x >>> shift;
  const rem = x - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** BF16 bits of float32 bits `f`, rounded to nearest even; NaN stays NaN (quieted). */
export function floatBitsToBf16(f: number): number {
  if ((f & 0x7fffffff) > 0x7f800000) return (f >>> 16) | 0x40;
  // The largest non-NaN pattern (-Inf, 0xff800000) plus 0x8000 stays below 2^32.
  return Math.floor((f + 0x7fff + ((f >>> 16) & 1)) / 65536);
}

