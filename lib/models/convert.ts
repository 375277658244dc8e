// convertHfCheckpoint: a Hugging Face Llama-family directory (config.json + safetensors) to a
// TF.js graph model directory that loadModel reads. Node only.
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { EntropixError } from '../core/errors';
import { readHfConfig } from './hf-config-file';
import { floatsToHalfBytes, weightOffsets, writeAt } from '../graphdef/shards';
import { writeGraphFiles } from '../graphdef/write';
import { readJsonFileIfExists, stageThenRename } from '../core/files';
import { isObject } from '../core/validate';
import { buildLlamaGraph, checkGraphDType, GraphWeight, graphWeightSpecs, llamaTensorSpecs } from './llama-graph';
import { SafetensorsCheckpoint } from './safetensors';

export interface ConvertOptions {
  /**
   * Weight dtype in the shards: 'float32' (default, exact) or 'float16' (IEEE halves, rounded to
   * nearest even: about half the bytes; the manifest declares them float32 with quantization
   * { dtype: 'float16' }, and TF.js widens them at load). Anything else is refused
   * (INVALID_ARGUMENT, argument 'options.dtype').
   */
  dtype?: 'float32' | 'float16';
  /** Called after each tensor is read: (tensors read, tensors in all). */
  onProgress?: (done: number, total: number) => void;
  /** Bytes per weight shard file (default 4 MiB, as tensorflowjs_converter). */
  shardBytes?: number;
  /**
   * Aborting stops the conversion at its next tensor or file (EntropixError 'ABORTED') and removes
   * everything staged: outDir is left as it was.
   */
  signal?: AbortSignal;
}

/** Copied next to the model when the checkpoint has them. */
const SIDE_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

/**
 * Converts `srcDir` into `outDir` (which must not exist, or be empty). Tensors are read one at a
 * time and checked against the config first: a missing tensor is refused (INVALID_ARGUMENT,
 * argument = its name) and a misshaped one too (INVALID_SHAPE), as loadHfCheckpoint does. The
 * model is assembled in a temporary sibling directory and renamed into place at the end, so a
 * failure leaves nothing in outDir.
 */
export async function convertHfCheckpoint(srcDir: string, outDir: string, options: ConvertOptions = {}): Promise<void> {
  if (typeof options !== 'object' || options === null) {
    throw new EntropixError('INVALID_ARGUMENT', `options must be an object, got ${options === null ? 'null' : typeof options}`, 'options');
  }
  const dtype = options.dtype ?? 'float32';
  checkGraphDType(dtype);
  const signal = options.signal;
  if (signal !== undefined && !(typeof signal === 'object' && signal !== null && 'aborted' in signal)) {
    throw new EntropixError('INVALID_ARGUMENT', 'options.signal must be an AbortSignal', 'options.signal');
  }
  const checkAborted = () => {
    if (signal?.aborted) throw new EntropixError('ABORTED', 'the conversion was aborted', 'options.signal');
  };
  if (typeof outDir !== 'string' || outDir.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', 'outDir must be a non-empty path', 'outDir');
  }
  await checkTargetFree(nodePath.resolve(outDir));
  const config = await readHfConfig(srcDir);
  const ckpt = await SafetensorsCheckpoint.open(srcDir);
  const specs = llamaTensorSpecs(config);
  // Check every name and shape before reading any data.
  for (const { name, shape } of specs) {
    const info = ckpt.tensor(name); // refuses a missing tensor, argument = name
    if (info.shape.length !== shape.length || info.shape.some((s, i) => s !== shape[i])) {
      throw new EntropixError(
        'INVALID_SHAPE', `${info.path}: tensor ${name} has shape [${info.shape}], the config implies [${shape}]`, name);
    }
  }
  // The graph is built over zero-filled stand-ins (views of one scratch buffer), so the only full
  // copy of the weights is the shards themselves; each tensor is then read from the checkpoint
  // and written into the shards at its place (transposed where the graph stores [in, out]), one
  // at a time.
  const weights = graphWeightSpecs(config);
  const sizes = new Map(weights.map(({ name, shape }) => [name, shape.reduce((a, b) => a * b, 1)]));
  const scratch = new Float32Array(Math.max(...sizes.values()));
  const built = buildLlamaGraph(config, (name): GraphWeight => {
    const spec = weights.find((t) => t.name === name);
    if (!spec) throw new EntropixError('INVALID_ARGUMENT', `checkpoint ${srcDir} has no tensor named ${JSON.stringify(name)}`, name);
    return { data: scratch.subarray(0, sizes.get(name)!), shape: spec.shape };
  }, dtype, options.shardBytes === undefined ? {} : { shardBytes: options.shardBytes });
  const offsets = weightOffsets(built);
  for (const [i, { name, source, transpose, shape }] of weights.entries()) {
    const at = offsets.get(name);
    if (at === undefined) throw new EntropixError('INVALID_ARGUMENT', `the graph does not use tensor ${name}`, name);
    const read = await ckpt.read(source);
    const data = transpose ? transposed(read, shape[1]!, shape[0]!) : read;
    writeAt(built.weightData, at, dtype === 'float16'
      ? floatsToHalfBytes(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    options.onProgress?.(i + 1, weights.length);
    checkAborted();
  }

  await stageThenRename(outDir, async (stage) => {
    await writeGraphFiles(stage, built);
    checkAborted();
    for (const file of SIDE_FILES) {
      try {
        await fs.copyFile(nodePath.join(srcDir, file), nodePath.join(stage, file));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    await fs.copyFile(nodePath.join(srcDir, 'config.json'), nodePath.join(stage, 'config.json'));
    const entropix = await readJsonFileIfExists(nodePath.join(srcDir, 'entropix.json'));
    const clarifying = await naturalClarifyingToken(srcDir);
    const json = entropix ?? { sampler: clarifying === null ? {} : { clarifyingTokenId: clarifying }, eosTokenIds: config.eosTokenIds };
    await fs.writeFile(nodePath.join(stage, 'entropix.json'), JSON.stringify(json, null, 2));
    checkAborted();
  }, { argument: 'outDir' });
}

/** The transpose of a row-major [rows, cols] matrix. */
function transposed(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** Refuses, before any work, an outDir that exists and is not an empty directory (checked again at the rename). */
async function checkTargetFree(target: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR') throw e;
    entries = ['(a file)'];
  }
  if (entries.length > 0) {
    throw new EntropixError('INVALID_ARGUMENT', `cannot write the model to ${target}: it exists and is not an empty directory`, 'outDir');
  }
}

/**
 * Pieces that read as a pause, most natural first: what Entropix's treading regime inserts
 * ("..." is Entropix's own choice for Llama 3). Byte-level BPE writes a leading space as "Ġ",
 * SentencePiece as "▁".
 */
const CLARIFYING_PIECES = ['Ġ...', '▁...', '...', 'Ġ…', '▁…', '…'];

/** The id of a natural clarifying token in the source's tokenizer.json vocabulary, or null. */
export async function naturalClarifyingToken(dir: string): Promise<number | null> {
  let json: unknown;
  try {
    json = await readJsonFileIfExists(nodePath.join(dir, 'tokenizer.json'));
  } catch {
    return null; // no readable tokenizer: no clarifying token
  }
  const model = isObject(json) && isObject(json.model) ? json.model as { vocab?: unknown } : undefined;
  const ids = new Map<string, number>();
  if (Array.isArray(model?.vocab)) {
    model!.vocab.forEach((entry, id) => { if (Array.isArray(entry) && typeof entry[0] === 'string') ids.set(entry[0], id); }); // Unigram
  } else if (model?.vocab && typeof model.vocab === 'object') {
    for (const [piece, id] of Object.entries(model.vocab)) if (Number.isInteger(id)) ids.set(piece, id as number); // BPE, WordPiece
  }
  for (const piece of CLARIFYING_PIECES) if (ids.has(piece)) return ids.get(piece)!;
  return null;
}
