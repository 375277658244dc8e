// Weight shards: cutting the concatenated weights into files of a fixed size (as
// tensorflowjs_converter does; a weight may span two shards), finding a weight in them, and the
// float16 storage of float32 weights.
import { floatBitsToHalf } from '../models/half';
import { BuiltGraphModel, weightEntryBytes } from './json';

/**
 * float32 values → IEEE half values (round to nearest even, overflow → ±Inf, NaN stays NaN), as
 * the bytes TF.js reads a float16-quantized weight from.
 */
export function floatsToHalfBytes(values: Float32Array): Uint8Array {
  // Platform byte order, as the float32 and int32 weights are written and as TF.js reads them
  // back (a Uint16Array over the shard bytes).
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatBitsToHalf(bits[i]!);
  return new Uint8Array(out.buffer);
}

/**
 * Copies the weights' bytes, in order, into shards of `shardBytes` (the last one shorter). Each
 * part's bytes are made when its turn comes, so at most one float16 copy exists at a time.
 */
export function cutShards(parts: readonly (() => Uint8Array)[], total: number, shardBytes: number): Uint8Array[] {
  const shards: Uint8Array[] = [];
  for (let start = 0; start < total; start += shardBytes) shards.push(new Uint8Array(Math.min(shardBytes, total - start)));
  let shard = 0;
  let at = 0; // offset in shards[shard]
  for (const get of parts) {
    const part = get();
    let from = 0;
    while (from < part.byteLength) {
      const n = Math.min(part.byteLength - from, shards[shard]!.byteLength - at);
      shards[shard]!.set(part.subarray(from, from + n), at);
      from += n;
      at += n;
      if (at === shards[shard]!.byteLength) {
        shard++;
        at = 0;
      }
    }
  }
  return shards;
}

/** Each weight's byte offset in the concatenated shards (manifest order, as build cuts them). */
export function weightOffsets(built: BuiltGraphModel): Map<string, number> {
  const offsets = new Map<string, number>();
  let at = 0;
  for (const w of built.modelJson.weightsManifest.flatMap((g) => g.weights)) {
    offsets.set(w.name, at);
    at += weightEntryBytes(w)!;
  }
  return offsets;
}

/** Copies `bytes` into the shards starting at byte `at` of their concatenation. */
export function writeAt(shards: Uint8Array[], at: number, bytes: Uint8Array): void {
  let from = 0;
  for (const shard of shards) {
    if (from === bytes.byteLength) return;
    if (at >= shard.byteLength) {
      at -= shard.byteLength;
      continue;
    }
    const n = Math.min(shard.byteLength - at, bytes.byteLength - from);
    shard.set(bytes.subarray(from, from + n), at);
    from += n;
    at = 0;
  }
}
