// The safetensors format (Node only): an 8-byte little-endian u64 header length N, N bytes of
// UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}},
// then the byte buffer, with offsets relative to its start. Headers are read on their own and
// tensors one at a time with positioned reads, so a multi-gigabyte checkpoint is never held whole.
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import type { FileHandle } from 'fs/promises';
import * as nodePath from 'path';
import { EntropixError } from '../core/errors';
import { describe, isObject } from '../core/validate';
import { openModelFile, readJsonFile, resolveInside } from '../core/files';
import { bf16BytesToFloat32, f16BytesToFloat32, floatBitsToBf16, floatBitsToHalf } from './half';

/** The dtypes a header may declare (the format's list). Only the float ones can be read. */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E5M2' | 'F8_E4M3'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';
/** The dtypes read as (and written from) float32. */
export type SafetensorsFloatDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E5M2: 1, F8_E4M3: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};
const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

/** The reference implementation's limit; a larger length means a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Tensors one file may list. Real shards hold a few thousand at most; the bound keeps a header
 * of a million empty tensors (78 MB: seconds and > 1 GB to parse) from being parsed at all.
 */
export const MAX_TENSORS_PER_FILE = 100_000;

/** Refuses header bytes that hold more JSON objects (every tensor entry is one) than MAX_TENSORS_PER_FILE allows, before parsing. */
function checkObjectCount(headerBytes: Uint8Array, source: string): void {
  let objects = 0;
  for (let i = headerBytes.indexOf(0x7b); i >= 0; i = headerBytes.indexOf(0x7b, i + 1)) {
    // The header itself and __metadata__ are two more objects than the tensors.
    if (++objects > MAX_TENSORS_PER_FILE + 2) {
      throw malformed(source, `header lists more than ${MAX_TENSORS_PER_FILE} tensors (or objects), the limit per file`);
    }
  }
}

export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the start of the byte buffer. */
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  /** Size of the file the header was read from; reads refuse a file that has changed size since. */
  readonly fileSize: number;
  /** Where the byte buffer starts in the file: 8 + the header length. */
  readonly dataStart: number;
  /** In the header's order (integer-like names first, as JSON.parse orders them). */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The free-form string map; empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
}

function malformed(path: string, message: string): EntropixError {
  return new EntropixError('INVALID_ARGUMENT', `${path}: ${message}`, path);
}

/** Opens a shard under the model-file policy (links stay in the model's folder, regular files only, no blocking). */
async function openForReading(path: string): Promise<FileHandle> {
  return (await openModelFile(path, path, { verb: 'cannot open' }))!.handle;
}

// fs reads at most 2 GiB - 1 per call; a regular file gives short reads only at its end.
const READ_CHUNK = 1 << 30;

/** Fills `into` from `position`; a short file is reported as truncated. */
async function readFully(fh: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const length = Math.min(READ_CHUNK, into.byteLength - done);
    const { bytesRead } = await fh.read(into, done, length, position + done);
    if (bytesRead === 0) {
      throw malformed(path, `file is truncated: expected ${into.byteLength} bytes at offset ${position}, got ${done}`);
    }
    done += bytesRead;
  }
}

/** Reads and validates only the header of a .safetensors file (never the byte buffer). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForReading(path);
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw malformed(path, 'is not a regular file');
    const fileSize = stat.size;
    if (fileSize < 8) throw malformed(path, `is ${fileSize} bytes, shorter than the 8-byte header length`);
    const prefix = new Uint8Array(8);
    await readFully(fh, prefix, 0, path);
    const claimed = new DataView(prefix.buffer).getBigUint64(0, true);
    // Both checks come before anything of the claimed size is allocated.
    if (claimed > BigInt(MAX_HEADER_BYTES)) {
      throw malformed(path, `header length ${claimed} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
    }
    if (claimed > BigInt(fileSize - 8)) {
      throw malformed(path, `header length ${claimed} is larger than the ${fileSize - 8} bytes after the length field`);
    }
    const headerBytes = new Uint8Array(Number(claimed));
    await readFully(fh, headerBytes, 8, path);
    return parseSafetensorsHeader(headerBytes, fileSize, path);
  } finally {
    await fh.close();
  }
}

/**
 * Validates header bytes (without the 8-byte length) of a file of `fileSize` bytes. `source` names
 * the file in errors. Exported for callers that already hold the bytes.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, source: string): SafetensorsHeader {
  const dataStart = 8 + headerBytes.byteLength;
  const bufferSize = fileSize - dataStart;
  if (bufferSize < 0) throw malformed(source, `header length ${headerBytes.byteLength} is larger than the file`);
  checkObjectCount(headerBytes, source);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw malformed(source, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw malformed(source, `header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw malformed(source, `header must be a JSON object, got ${describe(json)}`);

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, source);
      continue;
    }
    tensors.set(name, parseTensorInfo(name, entry, bufferSize, source));
  }
  checkNoOverlap(tensors, source);
  return { fileSize, dataStart, tensors, metadata };
}

function parseMetadata(entry: unknown, source: string): Record<string, string> {
  if (!isObject(entry)) throw malformed(source, `__metadata__ must be an object, got ${describe(entry)}`);
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') {
      throw malformed(source, `__metadata__ values must be strings; ${JSON.stringify(key)} is ${describe(value)}`);
    }
  }
  // Object.fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return Object.fromEntries(Object.entries(entry as Record<string, string>));
}

const TENSOR_KEYS = ['dtype', 'shape', 'data_offsets'];

function parseTensorInfo(name: string, entry: unknown, bufferSize: number, source: string): SafetensorsTensorInfo {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isObject(entry)) throw malformed(source, `${where} must be an object, got ${describe(entry)}`);
  for (const key of Object.keys(entry)) {
    if (!TENSOR_KEYS.includes(key)) throw malformed(source, `${where} has an unknown key ${JSON.stringify(key)}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype)) {
    throw malformed(source, `${where} has an unknown dtype ${describe(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw malformed(source, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  let count = 1;
  for (const size of shape as number[]) count *= size;
  const byteLength = count * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (!Number.isSafeInteger(byteLength)) throw malformed(source, `${where}: shape [${shape}] is too large`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw malformed(source, `${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin || end - begin !== byteLength) {
    throw malformed(source,
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${shape}] of ${dtype} needs ${byteLength}`);
  }
  if (end > bufferSize) {
    throw malformed(source,
      `${where}: data_offsets [${begin}, ${end}] run past the end of the ${bufferSize}-byte buffer (truncated file?)`);
  }
  return { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

/** Tensors may not share bytes. (Gaps between them are tolerated: reading does not depend on them.) */
function checkNoOverlap(tensors: ReadonlyMap<string, SafetensorsTensorInfo>, source: string): void {
  const spans = [...tensors].filter(([, t]) => t.dataOffsets[1] > t.dataOffsets[0])
    .sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1]!;
    const [name, t] = spans[i]!;
    if (t.dataOffsets[0] < prev.dataOffsets[1]) {
      throw malformed(source,
        `tensors ${JSON.stringify(prevName)} [${prev.dataOffsets}] and ${JSON.stringify(name)} [${t.dataOffsets}] overlap`);
    }
  }
}

/**
 * Reads one tensor as float32 (F16 and BF16 widened exactly), with one positioned read of its
 * bytes. Its shape is `header.tensors.get(name).shape`.
 */
export async function readSafetensorsTensor(path: string, header: SafetensorsHeader, name: string): Promise<Float32Array> {
  const info = header.tensors.get(name);
  if (info === undefined) {
    throw new EntropixError('INVALID_ARGUMENT', `${path} has no tensor named ${JSON.stringify(name)}`, name);
  }
  if (!FLOAT_DTYPES.includes(info.dtype)) {
    throw new EntropixError('INVALID_DTYPE',
      `tensor ${JSON.stringify(name)} in ${path} is ${info.dtype}; only F32, F16 and BF16 can be read as float32`, name);
  }
  const [begin, end] = info.dataOffsets;
  const count = (end - begin) / DTYPE_BYTES[info.dtype];
  const fh = await openForReading(path);
  try {
    const { size } = await fh.stat();
    if (size !== header.fileSize) {
      const what = size < header.fileSize ? 'was truncated' : 'has changed';
      throw malformed(path, `${what} since its header was read (${header.fileSize} bytes then, ${size} now)`);
    }
    const position = header.dataStart + begin;
    if (info.dtype === 'F32') {
      const out = new Float32Array(count);
      const bytes = new Uint8Array(out.buffer);
      await readFully(fh, bytes, position, path);
      if (!LITTLE_ENDIAN) swapBytes32(bytes);
      return out;
    }
    const bytes = new Uint8Array(end - begin);
    await readFully(fh, bytes, position, path);
    return info.dtype === 'BF16' ? bf16BytesToFloat32(bytes) : f16BytesToFloat32(bytes);
  } finally {
    await fh.close();
  }
}

// ---- float conversions: exact widening, round-to-nearest-even narrowing ----

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytes32(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4) {
    const a = bytes[i]!; const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!; bytes[i + 1] = bytes[i + 2]!; bytes[i + 2] = b; bytes[i + 3] = a;
  }
}

export { bf16BytesToFloat32, f16BytesToFloat32, floatBitsToBf16, floatBitsToHalf, halfToFloatBits } from './half';

function float32ToBytes(data: Float32Array, dtype: SafetensorsFloatDtype): Uint8Array {
  if (dtype === 'F32') {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (LITTLE_ENDIAN) return bytes;
    const copy = bytes.slice();
    swapBytes32(copy);
    return copy;
  }
  const bits = new Uint32Array(data.slice().buffer); // slice: a copy of the bytes at offset 0
  const out = new Uint8Array(data.length * 2);
  const narrow = dtype === 'F16' ? floatBitsToHalf : floatBitsToBf16;
  for (let i = 0; i < bits.length; i++) {
    const h = narrow(bits[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

// ---- writing ----

export interface SafetensorsInput {
  dtype: SafetensorsFloatDtype;
  shape: number[];
  data: Float32Array;
}

/**
 * Writes float32 data as a .safetensors file, narrowing to F16/BF16 with round-to-nearest-even.
 * Tensors are laid out widest dtype first, then by name (as the reference writer does), so each
 * starts aligned to its element size; the header is padded with spaces to a multiple of 8 bytes.
 * The file appears atomically: written to a temporary file in the same directory, then renamed.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (!isObject(tensors)) {
    throw new EntropixError('INVALID_ARGUMENT', `tensors must be an object, got ${describe(tensors)}`, 'tensors');
  }
  if (metadata !== undefined) {
    if (!isObject(metadata)) {
      throw new EntropixError('INVALID_ARGUMENT', `metadata must be an object, got ${describe(metadata)}`, 'metadata');
    }
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new EntropixError('INVALID_ARGUMENT', `metadata[${JSON.stringify(key)}] must be a string, got ${describe(value)}`, 'metadata');
      }
    }
  }
  const entries = Object.entries(tensors).map(([name, t]) => checkInput(name, t));
  entries.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Built as text so that names like "__proto__" or "0" keep their place and meaning.
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(Object.fromEntries(Object.entries(metadata)))}`);
  let offset = 0;
  for (const t of entries) {
    const byteLength = t.count * DTYPE_BYTES[t.dtype];
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + byteLength] })}`);
    offset += byteLength;
  }
  let header = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) header = Buffer.concat([header, Buffer.alloc(padded - header.length, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));

  const tmp = nodePath.join(nodePath.dirname(path), `.${nodePath.basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx');
  try {
    await writeAll(fh, prefix);
    await writeAll(fh, header);
    for (const t of entries) await writeAll(fh, float32ToBytes(t.data, t.dtype));
    await fh.sync();
    await fh.close();
    await fs.rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined); // already closed when the rename failed
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(READ_CHUNK, bytes.byteLength - done));
    done += bytesWritten;
  }
}

interface CheckedInput { name: string; dtype: SafetensorsFloatDtype; shape: number[]; data: Float32Array; count: number }

function checkInput(name: string, t: unknown): CheckedInput {
  const arg = `tensors[${JSON.stringify(name)}]`;
  const refuse = (message: string) => new EntropixError('INVALID_ARGUMENT', `${arg}: ${message}`, arg);
  if (name === '__metadata__') throw refuse('"__metadata__" is reserved for the metadata');
  if (!isObject(t)) throw refuse(`must be {dtype, shape, data}, got ${describe(t)}`);
  const { dtype, shape, data } = t as Record<string, unknown>;
  if (typeof dtype !== 'string' || !FLOAT_DTYPES.includes(dtype)) {
    throw refuse(`dtype must be F32, F16 or BF16, got ${describe(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw refuse(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!(data instanceof Float32Array)) throw refuse(`data must be a Float32Array, got ${describe(data)}`);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== count) throw refuse(`shape [${shape}] has ${count} elements, but data has ${data.length}`);
  return { name, dtype: dtype as SafetensorsFloatDtype, shape: [...(shape as number[])], data, count };
}

// ---- sharded checkpoints ----

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

export interface SafetensorsIndex {
  /** The index file. */
  readonly path: string;
  /** Tensor name → shard file name, relative to the directory (as written in the index). */
  readonly weightMap: ReadonlyMap<string, string>;
  /** The distinct shard file names, in order of first use. */
  readonly shards: readonly string[];
  /** The index's "metadata" object (e.g. total_size); empty when absent. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/**
 * Reads `dir/model.safetensors.index.json`. Shard names must be plain relative paths inside `dir`
 * (no absolute paths, no '..'), and each shard must exist. The check is on the names, not on
 * where symlinks point: the Hugging Face cache links every file to a blob outside the snapshot.
 */
export async function readSafetensorsIndex(dir: string): Promise<SafetensorsIndex> {
  const path = nodePath.join(dir, INDEX_FILE_NAME);
  const json = await readJsonFile(path);
  if (!isObject(json)) throw malformed(path, `must be a JSON object, got ${describe(json)}`);
  const { weight_map: weightMapJson, metadata } = json as Record<string, unknown>;
  if (metadata !== undefined && !isObject(metadata)) {
    throw malformed(path, `metadata must be an object, got ${describe(metadata)}`);
  }
  if (!isObject(weightMapJson)) throw malformed(path, `weight_map must be an object, got ${describe(weightMapJson)}`);
  const weightMap = new Map<string, string>();
  const seen = new Set<string>();
  for (const [name, file] of Object.entries(weightMapJson)) {
    if (typeof file !== 'string') {
      throw malformed(path, `weight_map[${JSON.stringify(name)}] must be a file name, got ${describe(file)}`);
    }
    if (!seen.has(file)) {
      checkShardName(file, dir, path);
      seen.add(file);
    }
    weightMap.set(name, file);
  }
  const shards = [...seen];
  if (weightMap.size === 0) throw malformed(path, 'weight_map is empty');
  for (const shard of shards) {
    const shardPath = nodePath.join(dir, shard);
    let isFile = false;
    try {
      isFile = (await fs.stat(shardPath)).isFile();
    } catch {
      // reported below
    }
    if (!isFile) throw malformed(path, `shard ${JSON.stringify(shard)} (${shardPath}) does not exist or is not a file`);
  }
  return { path, weightMap, shards, metadata: { ...((metadata as Record<string, unknown> | undefined) ?? {}) } };
}

function checkShardName(file: string, dir: string, indexPath: string): void {
  resolveInside(dir, file, (why) => malformed(indexPath, `shard ${JSON.stringify(file)} ${why}`), 'the checkpoint directory');
}

export interface CheckpointTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The file holding it. */
  readonly path: string;
}

/**
 * A checkpoint directory: model.safetensors, or model.safetensors.index.json and its shards (the
 * single file wins when both are there, as in transformers). Opening reads every file's header
 * once and keeps only headers; `read` fetches one tensor's bytes at a time.
 */
export class SafetensorsCheckpoint {
  private constructor(
    readonly dir: string,
    /** The files read, in order: model.safetensors, or the shards. */
    readonly files: readonly string[],
    private readonly entries: ReadonlyMap<string, { path: string; header: SafetensorsHeader; info: SafetensorsTensorInfo }>,
  ) {}

  static async open(dir: string): Promise<SafetensorsCheckpoint> {
    const single = nodePath.join(dir, SINGLE_FILE_NAME);
    const entries = new Map<string, { path: string; header: SafetensorsHeader; info: SafetensorsTensorInfo }>();
    if (await isFile(single)) {
      const header = await readSafetensorsHeader(single);
      for (const [name, info] of header.tensors) entries.set(name, { path: single, header, info });
      return new SafetensorsCheckpoint(dir, [single], entries);
    }
    if (!(await isFile(nodePath.join(dir, INDEX_FILE_NAME)))) {
      throw new EntropixError('INVALID_ARGUMENT', `${dir} has neither ${SINGLE_FILE_NAME} nor ${INDEX_FILE_NAME}`, dir);
    }
    const index = await readSafetensorsIndex(dir);
    const headers = new Map<string, SafetensorsHeader>();
    for (const shard of index.shards) headers.set(shard, await readSafetensorsHeader(nodePath.join(dir, shard)));
    // The index decides which tensors exist; each must be where it says.
    for (const [name, shard] of index.weightMap) {
      const path = nodePath.join(dir, shard);
      const header = headers.get(shard)!;
      const info = header.tensors.get(name);
      if (info === undefined) {
        throw malformed(index.path, `lists tensor ${JSON.stringify(name)} in ${shard}, but ${path} has no such tensor`);
      }
      entries.set(name, { path, header, info });
    }
    return new SafetensorsCheckpoint(dir, index.shards.map((s) => nodePath.join(dir, s)), entries);
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** A tensor's dtype, shape and file; refuses a name the checkpoint lacks. */
  tensor(name: string): CheckpointTensor {
    const e = this.entry(name);
    return { name, dtype: e.info.dtype, shape: e.info.shape, path: e.path };
  }

  /** Reads one tensor as float32 (see readSafetensorsTensor). */
  async read(name: string): Promise<Float32Array> {
    const e = this.entry(name);
    return readSafetensorsTensor(e.path, e.header, name);
  }

  private entry(name: string) {
    const e = this.entries.get(name);
    if (e === undefined) {
      throw new EntropixError('INVALID_ARGUMENT', `checkpoint ${this.dir} has no tensor named ${JSON.stringify(name)}`, name);
    }
    return e;
  }
}

// ---- helpers ----

async function isFile(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isFile();
  } catch {
    return false;
  }
}

function isNonNegativeInteger(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
