// Exact top-k selection for the wasm kernels, without a heap or a full sort: find the k-th largest
// value by quickselect (a threshold), gather the entries at or above it, and sort only those by one
// numeric key. The order is the project's one candidate order: value descending, ties by index
// ascending; with ties at the threshold the lowest indices are kept.
//
// The sort key packs a float32's order-preserving bits and the index into one float64 (exact below
// 2^53): (2^32 − 1 − bits) · 2^21 + index, so an ascending Float64Array sort (native, no
// comparator) gives the candidate order. Indices must be below 2^21 (vocabularies up to 2,097,152);
// beyond that a comparator sort is used.

const INDEX_BITS = 2 ** 21;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Order-preserving unsigned bits of a float32 (−0 counts as +0, as a float compare does). */
function orderBits(v: number): number {
  f32[0] = v + 0;
  const b = u32[0]!;
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

/** The k-th largest (1-based) of a[0 … n) by quickselect; reorders a. */
export function kthLargest(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    // Median of three, so sorted and reversed rows stay linear.
    const mid = (lo + hi) >> 1;
    let x = a[lo]!;
    let y = a[mid]!;
    const z = a[hi]!;
    if (x < y) { const t = x; x = y; y = t; }
    if (y < z) { y = z; if (x < y) y = x; }
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target]!;
}

/** Reusable buffers, grown on demand (kernels run one at a time). */
let scratch = new Float32Array(0);
let keys = new Float64Array(0);
let gatheredV = new Float32Array(0);
let gatheredI = new Int32Array(0);
let keptBlocks = new Int32Array(0);
const grow = (n: number, have: number): number => Math.max(n, 2 * have);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(grow(n, scratch.length));
  return scratch;
}
function gatheredOf(n: number): void {
  if (gatheredV.length < n) {
    gatheredV = new Float32Array(grow(n, gatheredV.length));
    gatheredI = new Int32Array(gatheredV.length);
  }
}

/**
 * Sorts `count` gathered entries (gatheredV/gatheredI) into candidate order and writes the first
 * k indices and their values (read from x at offset, so −0 stays −0) at out.
 */
function sortGathered(
  x: Float32Array, offset: number, count: number, k: number, values: Float32Array, indices: Int32Array, out: number,
): void {
  const gv = gatheredV;
  const gi = gatheredI;
  let maxIndex = 0;
  for (let j = 0; j < count; j++) if (gi[j]! > maxIndex) maxIndex = gi[j]!;
  if (maxIndex < INDEX_BITS) {
    if (keys.length < count) keys = new Float64Array(grow(count, keys.length));
    const key = keys.subarray(0, count);
    for (let j = 0; j < count; j++) key[j] = (0xffffffff - orderBits(gv[j]!)) * INDEX_BITS + gi[j]!;
    key.sort();
    for (let j = 0; j < k; j++) {
      const kj = key[j]!;
      const index = kj - Math.floor(kj / INDEX_BITS) * INDEX_BITS;
      indices[out + j] = index;
      values[out + j] = x[offset + index]!;
    }
    return;
  }
  const order = Array.from({ length: count }, (_, j) => j);
  order.sort((a, b) => (gv[b]! - gv[a]!) || (gi[a]! - gi[b]!));
  for (let j = 0; j < k; j++) {
    indices[out + j] = gi[order[j]!]!;
    values[out + j] = x[offset + gi[order[j]!]!]!;
  }
}

/**
 * Keeps the best k of the `count` gathered entries (in index order), in index order; returns the
 * k-th value, the strict threshold for later (higher-index) entries.
 */
function compact(count: number, k: number): number {
  const copy = scratchOf(count);
  copy.set(gatheredV.subarray(0, count));
  const kth = kthLargest(copy, count, k);
  let above = 0;
  for (let j = 0; j < count; j++) if (gatheredV[j]! > kth) above++;
  let ties = k - above; // entries equal to kth that stay: the lowest indices
  let w = 0;
  for (let j = 0; j < count; j++) {
    const v = gatheredV[j]!;
    if (v > kth || (v === kth && ties-- > 0)) {
      gatheredV[w] = v;
      gatheredI[w++] = gatheredI[j]!;
    }
  }
  return kth;
}

/**
 * One streaming pass over x[offset … offset + n): gathers (into gatheredV/gatheredI, in index
 * order) entries that beat the threshold so far, cutting a full buffer back to its best k.
 * Returns how many are gathered: at least the k best (all of them when n ≤ k).
 */
function stream(x: Float32Array, offset: number, n: number, k: number): number {
  const capacity = Math.max(4 * k, 1024);
  gatheredOf(capacity);
  const gv = gatheredV;
  const gi = gatheredI;
  let threshold = -Infinity;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i]!;
    if (v > threshold) {
      gv[count] = v;
      gi[count++] = i;
      if (count === capacity) { threshold = compact(count, k); count = k; }
    }
  }
  return count;
}

function minGathered(count: number): number {
  let min = Infinity;
  for (let j = 0; j < count; j++) if (gatheredV[j]! < min) min = gatheredV[j]!;
  return min;
}

/**
 * The k = min(k, n) highest entries of x[offset … offset + n) (sanitized: no NaN), in candidate
 * order, written to values/indices at out. One streaming pass: an entry is gathered only when it
 * beats the threshold, and a full buffer is cut back to its best k (raising the threshold).
 */
export function selectTop(
  x: Float32Array, offset: number, n: number, k: number, values: Float32Array, indices: Int32Array, out: number,
): void {
  k = Math.min(k, n);
  let count = stream(x, offset, n, k);
  if (count > k) { compact(count, k); count = k; }
  sortGathered(x, offset, count, k, values, indices, out);
}

/**
 * The k-th largest of the block maxima m[offset … offset + blocks). With at least k groups of
 * GROUP consecutive maxima, the k-th largest group maximum t0 is a lower bound (k groups hold k
 * distinct maxima ≥ t0), so only the maxima ≥ t0 (a few more than k) go to the quickselect.
 */
const GROUP = 16;
function kthBlockMax(m: Float32Array, offset: number, blocks: number, k: number): number {
  const groups = Math.floor(blocks / GROUP);
  if (groups < k) {
    const count = stream(m, offset, blocks, k);
    return count > k ? compact(count, k) : minGathered(count);
  }
  const tops = scratchOf(groups);
  for (let q = 0, i = offset; q < groups; q++) {
    let best = m[i++]!;
    for (let r = 1; r < GROUP; r++, i++) { const v = m[i]!; if (v > best) best = v; }
    tops[q] = best;
  }
  const bound = kthLargest(tops, groups, k);
  let count = 0;
  for (let j = offset, end = offset + blocks; j < end; j++) if (m[j]! >= bound) count++;
  gatheredOf(count);
  let c = 0;
  for (let j = offset, end = offset + blocks; j < end; j++) { const v = m[j]!; if (v >= bound) gatheredV[c++] = v; }
  const copy = scratchOf(count);
  copy.set(gatheredV.subarray(0, count));
  return kthLargest(copy, count, k);
}

/**
 * selectTop through block maxima, for a row of n = g·m entries folded as [g, m] (block j holds
 * entries j, j + m, …, j + (g−1)·m; m = blocks ≥ k) with blockMax[j] its maximum (one SIMD
 * max-pool on the backend). The k-th largest block maximum t is a lower bound of the k-th
 * largest entry (the k best blocks hold k distinct entries ≥ t), and an entry ≥ t lies in a block
 * whose maximum is ≥ t: so only those blocks' members are read.
 */
export function selectTopByBlocks(
  x: Float32Array, offset: number, n: number, k: number, blockMax: Float32Array, blockOffset: number, blocks: number,
  values: Float32Array, indices: Int32Array, out: number,
): void {
  k = Math.min(k, n);
  if (blocks < k) { selectTop(x, offset, n, k, values, indices, out); return; }
  const g = n / blocks;
  const threshold = kthBlockMax(blockMax, blockOffset, blocks, k);
  let kept = 0;
  if (keptBlocks.length < blocks) keptBlocks = new Int32Array(blocks);
  for (let j = 0; j < blocks; j++) if (blockMax[blockOffset + j]! >= threshold) keptBlocks[kept++] = j;
  gatheredOf(kept * g);
  // Fold row by fold row, so that the reads move forward through memory.
  let c = 0;
  for (let r = 0, base = offset; r < g; r++, base += blocks) {
    for (let q = 0; q < kept; q++) {
      const i = base + keptBlocks[q]!;
      const v = x[i]!;
      if (v >= threshold) { gatheredV[c] = v; gatheredI[c++] = i - offset; }
    }
  }
  sortGathered(x, offset, c, k, values, indices, out);
}
