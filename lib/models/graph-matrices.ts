// A converted graph's weight matrices under `weights: 'packed'` (wasm; weights-option.ts): taken out of the loaded artifacts into
// PackedMatrices (lib/wasm/packed-matrices.ts) before TF.js makes tensors of the rest, so each
// matrix exists once, outside the tfjs-wasm heap (which would hold it twice and never shrink).
// A matrix here is a rank-2 float32 Const (float16 shards are widened as they are packed) read
// only as MatMul's right operand or by a column GatherV2 (the tied head's lookup); anything else
// stays a tensor, and a graph lib/graphdef/executor.ts does not run is left to TF.js whole.
import type { tf } from '../core/tf';
import { executorRuns } from '../graphdef/executor';
import { NodeDefJson, weightEntryBytes } from '../graphdef/json';
import { f16BytesToFloat32 } from './half';
import { bf16Exact, MAX_PACKED_BYTES, PackedMatrices, PackedMatrix, packedBytes } from '../wasm/packed-matrices';

/**
 * The bytes [at, at + n) of a model's weights laid end to end in manifest order: a view valid
 * until the next call.
 */
export type WeightReader = (at: number, n: number) => Promise<Uint8Array>;

export interface GraphMatrices {
  packed: PackedMatrices;
  /** By Const node name. */
  byName: Map<string, PackedMatrix>;
}

const entryBytes = (e: tf.io.WeightsManifestEntry) => weightEntryBytes(e)!; // checkModelJson has checked them

/** The bytes [at, at + n) of buffers laid end to end: a view within one buffer, a copy across two. */
function bytesAt(buffers: readonly ArrayBuffer[], at: number, n: number): Uint8Array {
  let i = 0;
  while (at >= buffers[i]!.byteLength) at -= buffers[i++]!.byteLength;
  if (at + n <= buffers[i]!.byteLength) return new Uint8Array(buffers[i]!, at, n);
  const out = new Uint8Array(n);
  for (let done = 0; done < n; i++, at = 0) {
    const take = Math.min(n - done, buffers[i]!.byteLength - at);
    out.set(new Uint8Array(buffers[i]!, at, take), done);
    done += take;
  }
  return out;
}

/** Const names that only MatMul (right operand, no transposes) and a column GatherV2 read. */
function matrixConsts(nodes: readonly NodeDefJson[], axisOf: (name: string) => number | null): Set<string> {
  const ok = new Map<string, boolean>();
  const consts = new Set(nodes.filter((n) => n.op === 'Const').map((n) => n.name));
  for (const n of nodes) {
    (n.input ?? []).forEach((raw, i) => {
      const name = raw.replace(/^\^/, '').split(':')[0]!;
      if (!consts.has(name)) return;
      const attrs = n.attr ?? {};
      const flag = (k: string) => (attrs[k] as { b?: boolean } | undefined)?.b === true;
      const reads = (n.op === 'MatMul' && i === 1 && !flag('transpose_a') && !flag('transpose_b'))
        || (n.op === 'GatherV2' && i === 0 && axisOf((n.input?.[2] ?? '').split(':')[0]!) === 1
          && Number((attrs.batch_dims as { i?: string } | undefined)?.i ?? 0) === 0);
      ok.set(name, (ok.get(name) ?? true) && reads && !raw.startsWith('^'));
    });
  }
  return new Set([...ok].filter(([, v]) => v).map(([k]) => k));
}

/** A WeightReader over weights already in memory (the shards a URL gave). */
export function bufferReader(data: tf.io.WeightData): WeightReader {
  const buffers = Array.isArray(data) ? data : [data];
  return (at, n) => Promise.resolve(bytesAt(buffers, at, n));
}

const CHUNK_BYTES = 4 * 1024 * 1024; // read at a time: the reader's buffer stays this small

/**
 * Moves the weight matrices of `artifacts` (checked, not yet loaded) into PackedMatrices, reading
 * the weights through `read` a few MB at a time, and sets artifacts.weightData to the other
 * weights, for TF.js. Returns null (artifacts untouched: every weight a tensor, tf.matMul) under
 * ENTROPIX_GRAPH_EXECUTOR=tfjs, when the executor cannot run the graph, or past 4 GiB of matrices.
 */
export async function packGraphMatrices(artifacts: tf.io.ModelArtifacts, nodes: readonly NodeDefJson[],
  read: WeightReader): Promise<GraphMatrices | null> {
  const env = typeof process !== 'undefined' ? process.env : undefined;
  if (env?.ENTROPIX_GRAPH_EXECUTOR === 'tfjs' || !executorRuns(nodes)) return null;
  const specs = artifacts.weightSpecs ?? [];
  const offsets = new Map<string, number>();
  let total = 0;
  for (const e of specs) {
    offsets.set(e.name, total);
    total += entryBytes(e);
  }
  const byName = new Map(specs.map((e) => [e.name, e]));
  const axes = new Map<string, number>(); // int32 scalar consts: GatherV2's axis
  for (const e of specs) {
    if (e.dtype === 'int32' && e.shape.length === 0 && !e.quantization) {
      axes.set(e.name, new DataView((await read(offsets.get(e.name)!, 4)).slice().buffer).getInt32(0, true));
    }
  }
  const names = matrixConsts(nodes, (name) => (byName.has(name) ? axes.get(name) ?? null : null));
  const chosen = specs.filter((e) => names.has(e.name) && e.dtype === 'float32' && e.shape.length === 2
    && (!e.quantization || e.quantization.dtype === 'float16'));
  if (chosen.length === 0) return null;
  const bytes = chosen.reduce((a, e) => a + packedBytes(e.shape[0]!, e.shape[1]!), 0);
  if (bytes > MAX_PACKED_BYTES) return null;

  const packed = new PackedMatrices(bytes);
  try {
    const matrices = new Map<string, PackedMatrix>();
    for (const e of chosen) {
      const [k, n] = e.shape as [number, number];
      const rowBytes = n * (e.quantization ? 2 : 4);
      const step = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
      // A graph converted from a bfloat16 checkpoint holds bfloat16 values in float32: a first
      // pass finds out (the first value that is not one ends it), so that the matrix takes
      // bfloat16 panels (packed-matrices.ts).
      const at = offsets.get(e.name)!;
      let bf16 = !e.quantization;
      for (let row = 0; bf16 && row < k; row += step) {
        const raw = await read(at + row * rowBytes, Math.min(step, k - row) * rowBytes);
        bf16 = bf16Exact(raw.byteOffset % 4 === 0 ? new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4) : new Float32Array(raw.slice().buffer));
      }
      const m = packed.allocate(k, n, bf16);
      for (let row = 0; row < k; row += step) {
        const rows = Math.min(step, k - row);
        const raw = await read(offsets.get(e.name)! + row * rowBytes, rows * rowBytes);
        packed.writeRows(m, row, e.quantization ? f16BytesToFloat32(raw)
          : raw.byteOffset % 4 === 0 ? new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4) : new Float32Array(raw.slice().buffer));
      }
      matrices.set(e.name, m);
    }
    // The rest, in manifest order, as one buffer for TF.js.
    const rest = specs.filter((e) => !matrices.has(e.name));
    const restData = new Uint8Array(rest.reduce((a, e) => a + entryBytes(e), 0));
    let at = 0;
    for (const e of rest) {
      for (let done = 0; done < entryBytes(e); done += CHUNK_BYTES) {
        const n = Math.min(CHUNK_BYTES, entryBytes(e) - done);
        restData.set(await read(offsets.get(e.name)! + done, n), at + done);
      }
      at += entryBytes(e);
    }
    artifacts.weightSpecs = rest;
    artifacts.weightData = restData.buffer;
    return { packed, byName: matrices };
  } catch (e) {
    packed.dispose();
    throw e;
  }
}
