// A model directory's sampler defaults (clarifying token, eos ids), decided in one place for
// both loaders (loadHfCheckpoint, loadModel) and the converter, so the native and the converted
// model of one checkpoint get the same default sampler. Node only.
import * as nodePath from 'node:path';
import { readJsonFileIfExists } from '../core/files';
import { isObject } from '../core/validate';
import type { GenerationDefaults } from './causal-lm';
import type { ModelConfig } from './hf-config';
import { checkEntropixJson } from './entropix-json';

export interface DirectoryDefaults {
  defaults: GenerationDefaults;
  /** What entropix.json holds, or would hold: the directory's own file as it is, or the derived defaults. */
  entropixJson: object;
}

/**
 * The directory's entropix.json when it has one (checked: eos ids below the vocabulary, a valid
 * sampler config). Otherwise derived: eos ids from config.json, and the natural clarifying token
 * of tokenizer.json's vocabulary when the model has that id; one outside the model's vocabulary
 * (a tokenizer larger than the model) is dropped, and `warn` is told why.
 */
export async function directoryDefaults(dir: string, config: ModelConfig,
  // eslint-disable-next-line no-console -- the default sink for a library warning; callers pass their own
  warn: (message: string) => void = (m) => console.warn(m)): Promise<DirectoryDefaults> {
  const path = nodePath.join(dir, 'entropix.json');
  const json = await readJsonFileIfExists(path);
  if (json !== undefined) return { defaults: checkEntropixJson(json, path, config), entropixJson: json as object };
  let clarifying = await naturalClarifyingToken(dir);
  if (clarifying !== null && clarifying >= config.vocabSize) {
    warn(`${nodePath.join(dir, 'tokenizer.json')}: the clarifying token ${clarifying} is outside the model's `
      + `${config.vocabSize}-token vocabulary; using none`);
    clarifying = null;
  }
  const sampler = clarifying === null ? {} : { clarifyingTokenId: clarifying };
  return {
    defaults: { sampler, eosTokenIds: config.eosTokenIds },
    entropixJson: { sampler, eosTokenIds: config.eosTokenIds },
  };
}

/**
 * Pieces that read as a pause, most natural first: what Entropix's treading regime inserts
 * ("..." is Entropix's own choice for Llama 3). Byte-level BPE writes a leading space as "Ġ",
 * SentencePiece as "▁".
 */
const CLARIFYING_PIECES = ['Ġ...', '▁...', '...', 'Ġ…', '▁…', '…'];

/** The id of a natural clarifying token in the directory's tokenizer.json vocabulary, or null. */
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
