// convertHfCheckpoint: a Hugging Face Llama-family or GPT-2 directory (config.json + safetensors) to a
// TF.js graph model directory that loadModel reads. Node only.
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { EntropixError } from '../core/errors';
import { readHfConfig } from './hf-config-file';
import { floatsToHalfBytes, weightOffsets, writeAt } from '../graphdef/shards';
import { writeGraphFiles } from '../graphdef/write';
import { readJsonFileIfExists, stageThenRename } from '../core/files';
import { isObject } from '../core/validate';
import { checkTokenizerJson } from '../text/guards';
import { directoryDefaults } from './generation-defaults';

export { naturalClarifyingToken } from './generation-defaults';
import { buildLlamaGraph, checkGraphDType } from './llama-graph';
import { fuseWeight, llamaWeightSpecs, sourceTensors, withoutTiedEmbedding } from './llama-tensors';
import { withCheckpointNames } from './gpt2-tensors';
import { SafetensorsCheckpoint } from './safetensors';

export interface ConvertOptions {
  /**
   * Weight dtype in the shards: 'float32' (default, exact) or 'float16' (IEEE halves, rounded to
   * nearest even: about half the bytes; the manifest declares them float32 with quantization
   * { dtype: 'float16' }, and TF.js widens them at load). Anything else is refused
   * (INVALID_ARGUMENT, argument 'options.dtype').
   */
  dtype?: 'float32' | 'float16';
  /** Called after each weight is written: (weights done, weights in all; fused ones count once). */
  onProgress?: (done: number, total: number) => void;
  /** Bytes per weight shard file (default 4 MiB, as tensorflowjs_converter). */
  shardBytes?: number;
  /**
   * Aborting stops the conversion at its next tensor or file (EntropixError 'ABORTED') and removes
   * everything staged: outDir is left as it was.
   */
  signal?: AbortSignal;
  /**
   * Told what the conversion left out (e.g. a clarifying token outside the model's vocabulary).
   * Default: console.warn.
   */
  onWarning?: (message: string) => void;
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
  // Side files are read (under the model-file policy), parsed and checked before any work, and
  // what was checked is what gets written: nothing is copied unread, no link is followed out.
  const side = await readSideFiles(srcDir);
  const { entropixJson } = await directoryDefaults(srcDir, config, options.onWarning);
  const ckpt = await SafetensorsCheckpoint.open(srcDir);
  const all = withCheckpointNames(llamaWeightSpecs(config), (name) => ckpt.has(name));
  const specs = sourceTensors(all);
  // Check every name and shape before reading any data.
  for (const { name, shape } of specs) {
    const info = ckpt.tensor(name); // refuses a missing tensor, argument = name
    if (info.shape.length !== shape.length || info.shape.some((s, i) => s !== shape[i])) {
      throw new EntropixError(
        'INVALID_SHAPE', `${info.path}: tensor ${name} has shape [${info.shape}], the config implies [${shape}]`, name);
    }
  }
  // The graph is built over zero-filled stand-ins (views of one scratch buffer), so the only full
  // copy of the weights is the shards themselves; each weight is then assembled from its
  // checkpoint tensors (fused and transposed as llama-tensors.ts says) and written into the shards
  // at its place, one at a time.
  const weights = withoutTiedEmbedding(all, config.tieWordEmbeddings);
  const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const scratch = new Float32Array(Math.max(...weights.map((w) => sizeOf(w.shape))));
  const built = buildLlamaGraph(config, (spec) => scratch.subarray(0, sizeOf(spec.shape)), dtype,
    options.shardBytes === undefined ? {} : { shardBytes: options.shardBytes });
  const offsets = weightOffsets(built);
  for (const [i, spec] of weights.entries()) {
    const at = offsets.get(spec.name);
    if (at === undefined) throw new EntropixError('INVALID_ARGUMENT', `the graph does not use weight ${spec.name}`, spec.name);
    const parts = new Map<string, Float32Array>();
    for (const p of spec.parts) parts.set(p.source, await ckpt.read(p.source));
    const data = fuseWeight(spec, (p) => parts.get(p.source)!);
    writeAt(built.weightData, at, dtype === 'float16'
      ? floatsToHalfBytes(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    options.onProgress?.(i + 1, weights.length);
    checkAborted();
  }

  await stageThenRename(outDir, async (stage) => {
    await writeGraphFiles(stage, built);
    checkAborted();
    for (const [file, json] of side) await fs.writeFile(nodePath.join(stage, file), JSON.stringify(json));
    // The same defaults loadHfCheckpoint gives the source (directoryDefaults decides for both).
    await fs.writeFile(nodePath.join(stage, 'entropix.json'), JSON.stringify(entropixJson, null, 2));
    checkAborted(); // the last moment: after this the model is in place
  }, { argument: 'outDir' });
}

/**
 * The source's side files, parsed and checked: each a JSON object, config.json as read (its
 * fields were checked by readHfConfig), tokenizer.json within the tokenizer guards.
 */
async function readSideFiles(srcDir: string): Promise<Map<string, object>> {
  const side = new Map<string, object>();
  for (const file of [...SIDE_FILES, 'config.json']) {
    const path = nodePath.join(srcDir, file);
    const json = await readJsonFileIfExists(path);
    if (json === undefined) continue;
    if (!isObject(json)) throw new EntropixError('INVALID_ARGUMENT', `${path}: must hold a JSON object`, path);
    side.set(file, json);
  }
  const tokenizer = side.get('tokenizer.json');
  if (tokenizer) checkTokenizerJson(tokenizer); // ids in bounds, no exponential regex
  return side;
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
