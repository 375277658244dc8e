// The Node entry point (`require('entropix-tfjs/node')`): everything in the main entry, plus what
// reads model files with fs. The main entry stays free of Node built-ins so browsers can bundle it.
import type { UrlLoadOptions } from './core/http';
import type { CausalLM } from './models/causal-lm';
import { loadModel as loadModelFromDir } from './models/load-dir';
import type { WeightsOption } from './models/weights-option';
import { loadModelFromUrl } from './models/load-url';
import type { Tokenizer } from './text/tokenizer';
import { loadTokenizer as loadTokenizerFromDir } from './text/tokenizer-files';
import { loadTokenizerFromUrl } from './text/tokenizer-url';
import { provideHelperThreads } from './wasm/packed-matrices';
import { MatmulThread, matmulThreads } from './wasm/matmul-thread';

// The packed matrix products may share their work with a worker thread in Node (a prompt's by
// default, ENTROPIX_WASM_THREADS; matmul-thread.ts).
provideHelperThreads({ mode: matmulThreads, start: (memory, bytes) => new MatmulThread(memory, bytes) });

export * from './index';
export { loadHfCheckpoint } from './models/hf-checkpoint';
export { convertHfCheckpoint } from './models/convert';
export type { ConvertOptions } from './models/convert';
export { applyChatTemplate } from './text/tokenizer-files';

const isUrl = (source: unknown): source is string | URL =>
  source instanceof URL || (typeof source === 'string' && /^https?:\/\//i.test(source));

/**
 * A converted model from a directory, or over HTTP from an http(s) URL (string or URL); `weights`
 * (either source) chooses how its matrices are held (WeightsOption).
 */
export function loadModel(source: string | URL, options: UrlLoadOptions & WeightsOption = {}): Promise<CausalLM> {
  return isUrl(source) ? loadModelFromUrl(source, options) : loadModelFromDir(source, options);
}

/** A model's tokenizer from its directory, or over HTTP from an http(s) URL. */
export function loadTokenizer(
  source: string | URL,
  options: Pick<UrlLoadOptions, 'fetch' | 'signal'> = {},
): Promise<Tokenizer> {
  return isUrl(source) ? loadTokenizerFromUrl(source, options) : loadTokenizerFromDir(source);
}
