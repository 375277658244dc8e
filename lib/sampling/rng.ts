// Seeded noise for the categorical draw, made on the host and uploaded (a write, never a read).
// Row i's stream depends only on (seed, i) — or on its own seed when one is given per row — so a
// row draws the same tokens alone or inside any batch, on every backend.
import { EntropixError } from '../core/errors';
import { describe } from '../core/validate';

/** One seed for the whole batch (row i uses stream i), or one seed per row (each uses stream 0). */
export type Seed = number | readonly number[];

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** A good 32-bit avalanche (the murmur3 finaliser). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator), seeded from (seed, stream). */
function streamGenerator(seed: number, stream: number): () => number {
  f64[0] = seed; // the number's own bits: every finite number is a distinct seed
  let a = mix32(u32[0]! ^ 0x9e3779b9);
  let b = mix32(u32[1]! ^ 0x7f4a7c15);
  let c = mix32(stream ^ 0x2545f491);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next(); // let the state mix before use
  return next;
}

/** Checks a seed argument against the batch size. */
export function validateSeed(seed: unknown, batch: number, name = 'seed'): Seed {
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed)) {
      throw new EntropixError('INVALID_ARGUMENT', `${name} must be a finite number, got ${seed}`, name);
    }
    return seed;
  }
  if (Array.isArray(seed)) {
    if (seed.length !== batch) {
      throw new EntropixError(
        'INVALID_ARGUMENT', `${name} has ${seed.length} per-row seeds, but the batch has ${batch} rows`, name);
    }
    for (const s of seed) {
      if (typeof s !== 'number' || !Number.isFinite(s)) {
        throw new EntropixError('INVALID_ARGUMENT', `${name} must hold finite numbers, got ${describe(s)}`, name);
      }
    }
    return seed as readonly number[];
  }
  throw new EntropixError('INVALID_ARGUMENT', `${name} must be a number or an array of numbers, got ${describe(seed)}`, name);
}

/** A fresh random seed, for calls that were given none. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 52);
}

/**
 * Gumbel(0, 1) noise, shape [batch, samples, width] flattened row-major. g = −log(−log U) with U
 * strictly inside (0, 1); argmax(log p + g) is an exact categorical draw (the Gumbel-max trick,
 * identical to the exponential race argmax(p / E), E ~ Exp(1)).
 */
export function gumbelNoise(seed: Seed, batch: number, samples: number, width: number): Float32Array {
  const perRow = samples * width;
  const out = new Float32Array(batch * perRow);
  for (let row = 0; row < batch; row++) gumbelRow(seed, row, perRow, out, row * perRow);
  return out;
}

/**
 * The first `count` values of row `row`'s noise (gumbelNoise's row, which has samples·width) into
 * out at offset: a kernel that needs only a row's first samples makes just those.
 */
export function gumbelRow(seed: Seed, row: number, count: number, out: Float32Array, offset = 0): void {
  const next = typeof seed === 'number' ? streamGenerator(seed, row) : streamGenerator(seed[row]!, 0);
  for (let j = 0; j < count; j++) {
    const u = (next() + 0.5) / 4294967296; // 32 random bits, centred: never 0 or 1
    out[offset + j] = -Math.log(-Math.log(u));
  }
}

/**
 * The seed of decoding step `step` (≥ 1) derived from a generation seed, per row when the seed is
 * per row: each step draws fresh noise (never the same key twice), and row i's stream still
 * depends only on its own seed.
 */
export function stepSeed(seed: Seed, step: number): Seed {
  const derive = (s: number): number => {
    f64[0] = s;
    const lo = mix32(u32[0]! ^ mix32(step ^ 0x68e31da4));
    const hi = mix32(u32[1]! ^ mix32(Math.imul(step, 0x9e3779b9) ^ 0x1b873593));
    return (hi & 0xfffff) * 2 ** 32 + lo; // an integer below 2^52
  };
  return typeof seed === 'number' ? derive(seed) : seed.map(derive);
}
