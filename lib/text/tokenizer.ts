// Tokenizers behind one interface: Hugging Face tokenizer.json through @huggingface/tokenizers
// (pure JS, browser-safe), and incremental decoding for streaming.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { EntropixError } from '../core/errors';
import { checkTokenizerJson } from './guards';
import { referenceCompatible } from './tokenizer-compat';
import { requireTokenIds } from './token-ids';

export interface EncodeOptions {
  /**
   * Add the tokenizer's own special tokens (e.g. a BOS), as Hugging Face does by default (true).
   * false for text that already holds them, such as a rendered chat template.
   */
  addSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** Token ids of `text`, with the tokenizer's own special tokens added unless options say otherwise. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Text of `ids`, special tokens skipped; an incomplete UTF-8 sequence decodes to U+FFFD. */
  decode(ids: number[]): string;
  /** Ids the tokenizer can produce: the largest id + 1, added tokens included. */
  readonly vocabSize: number;
  readonly eosTokenIds: number[];
  /**
   * Whether decode applies clean_up_tokenization_spaces (" ." → "." and the like), which may
   * rewrite text once more ids follow; createTextStream holds such endings back unless this is false.
   */
  readonly cleansUpSpaces?: boolean;
}

/** The eos token's name in tokenizer_config.json (a string or { content }). */
function tokenName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

const idList = (v: unknown): number[] =>
  (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter((x): x is number => Number.isInteger(x));

/** A model's parsed tokenizer files (null: the model has none), wherever they were read. */
export interface TokenizerFiles {
  tokenizer: object;
  tokenizerConfig: object | null;
  entropix: object | null;
  config: object | null;
  generationConfig: object | null;
}

/**
 * The tokenizer of a model's files. Its eos ids are the union of entropix.json's eosTokenIds,
 * config.json's and generation_config.json's eos_token_id and tokenizer_config.json's eos_token.
 */
export function tokenizerFromModelFiles(f: TokenizerFiles): Tokenizer {
  const eos = [
    ...idList((f.entropix as { eosTokenIds?: unknown } | null)?.eosTokenIds),
    ...idList((f.config as { eos_token_id?: unknown } | null)?.eos_token_id),
    ...idList((f.generationConfig as { eos_token_id?: unknown } | null)?.eos_token_id),
  ];
  return tokenizerFromJson(f.tokenizer, f.tokenizerConfig ?? {}, eos);
}

/**
 * Whether decode cleans up spaces, as transformers 5 decides: only when tokenizer_config.json sets
 * clean_up_tokenization_spaces (absent: false), and never for a BPE model (byte-level or
 * SentencePiece-style), where it would delete real spaces (" ..." → "...") unless the config
 * insists with clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output.
 * (@huggingface/tokenizers on its own defaults to true for every model.)
 */
function cleansUpSpaces(tokenizerJson: object, tokenizerConfig: object): boolean {
  const c = tokenizerConfig as Record<string, unknown>;
  if (c.clean_up_tokenization_spaces !== true) return false;
  const type = (tokenizerJson as { model?: { type?: unknown } }).model?.type;
  return type !== 'BPE' || c.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output === true;
}

/**
 * A Tokenizer from parsed tokenizer.json and tokenizer_config.json. eosTokenIds: the given ids
 * plus the config's eos_token, if the vocabulary has it.
 */
export function tokenizerFromJson(tokenizerJson: object, tokenizerConfig: object = {}, eosTokenIds: number[] = []): Tokenizer {
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'tokenizerJson must be the parsed tokenizer.json object', 'tokenizer');
  }
  checkTokenizerJson(tokenizerJson); // before the vocabulary is built: bounded ids, no exponential regex
  let hf: HfTokenizer;
  const cleanUp = cleansUpSpaces(tokenizerJson, tokenizerConfig);
  const compatible = referenceCompatible(tokenizerJson, tokenizerConfig);
  try {
    hf = new HfTokenizer(compatible.json, { ...compatible.config, clean_up_tokenization_spaces: cleanUp });
  } catch (e) {
    throw new EntropixError('INVALID_ARGUMENT', `tokenizer.json is not a tokenizer this library reads: ${(e as Error).message}`, 'tokenizer');
  }
  const vocab = hf.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const eos = new Set(eosTokenIds);
  const eosName = tokenName((tokenizerConfig as { eos_token?: unknown }).eos_token);
  if (eosName !== null && vocab.has(eosName)) eos.add(vocab.get(eosName)!);
  const unkToken = (tokenizerJson as { model?: { unk_token?: unknown } }).model?.unk_token;
  return {
    encode: (text, options) => {
      const { ids, tokens } = hf.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true });
      const out = ids.map(Number);
      // A piece with no id (outside the vocabulary, and no unk token in it either) is refused, as Hugging Face's tokenizers does.
      const bad = out.findIndex((id) => !Number.isInteger(id));
      if (bad >= 0) {
        throw new EntropixError('INVALID_ARGUMENT', `text: ${JSON.stringify(tokens[bad])} is not in the tokenizer's vocabulary, and its unk_token ${
          typeof unkToken === 'string' ? `${JSON.stringify(unkToken)} is not either` : 'is not set'}`, 'text');
      }
      return out;
    },
    decode: (ids) => (requireTokenIds(ids, 'ids', vocabSize).length === 0 ? '' : hf.decode(ids, { skip_special_tokens: true })),
    vocabSize,
    eosTokenIds: [...eos].sort((a, b) => a - b),
    cleansUpSpaces: cleanUp,
  };
}

export interface TextStream {
  /** Adds generated ids; returns the new text they make final (a character split over tokens waits for its last one). */
  push(ids: number[]): string;
  /** Whatever is still held back (an incomplete character comes out as U+FFFD). */
  flush(): string;
}

/** Ids kept in front of the undecided ones, so decoders that drop a leading space (SentencePiece's) behave as on the whole text. */
const CONTEXT_IDS = 4;
/** How far back from the end a push looks for ids whose text is all out (a held space + an incomplete character). */
const SLIDE_SEARCH_IDS = 8;
/** Held-back ids after which the stream gives up waiting (only endless invalid UTF-8 gets there). */
const MAX_PENDING_IDS = 32;
/**
 * Endings that Hugging Face's clean_up_tokenization_spaces may still rewrite once more text
 * follows (" ." → ".", " n't" → "n't", " 's" → "'s", …): held back like an incomplete character.
 */
const CLEANUP_PREFIX = /(?: | '| 'v| 'r| n| n')$/;

/** How much of `text` can no longer change when more ids follow (`cleanUp`: decode cleans up spaces). */
function settledLength(text: string, cleanUp: boolean): number {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0xfffd) end--; // an incomplete UTF-8 sequence
  if (end < text.length || !cleanUp) return end; // what completes it is not ASCII, so no clean-up pattern
  const m = CLEANUP_PREFIX.exec(text.slice(-3));
  return m === null ? end : end - m[0].length;
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Incremental decoding. Each push decodes a short window: up to CONTEXT_IDS ids whose text is
 * already out (`context`, then the stream's own), followed by the ids whose text is not all out
 * yet; it returns the window's new text up to its settled end, holding back a trailing U+FFFD
 * (an incomplete UTF-8 sequence) and, when the tokenizer cleans up spaces, a trailing fragment that clean-up could still rewrite. The
 * pushes and the flush add up to the decode of all pushed ids (given after `context`); the cost
 * of a push does not grow with the length of the history. `context`: ids before the first pushed
 * one (e.g. the prompt's last few tokens), never emitted.
 */
export function createTextStream(tokenizer: Tokenizer, context: number[] = []): TextStream {
  const cleanUp = tokenizer.cleansUpSpaces !== false;
  let window = requireTokenIds(context, 'context').slice(-CONTEXT_IDS);
  let contextLength = window.length; // leading window ids whose text is out (or not ours)
  let out = tokenizer.decode(window); // the window's text that is out, as the window decodes

  const step = (force: boolean): string => {
    const text = tokenizer.decode(window);
    // Decoded text only grows at its end; should a decoder rewrite what is out, go on from where they agree.
    const from = text.startsWith(out) ? out.length : commonPrefixLength(text, out);
    const end = force ? text.length : Math.max(from, settledLength(text, cleanUp));
    out = text.slice(0, end);
    // Slide: the longest window prefix (among the last few) whose text is all out becomes the context.
    for (let j = window.length; j > contextLength && j >= window.length - SLIDE_SEARCH_IDS; j--) {
      const head = j === window.length ? text : tokenizer.decode(window.slice(0, j));
      if (head.length <= end && text.startsWith(head)) {
        const kept = window.slice(Math.max(0, j - CONTEXT_IDS), j);
        out = tokenizer.decode(kept) + text.slice(head.length, end);
        window = [...kept, ...window.slice(j)];
        contextLength = kept.length;
        break;
      }
    }
    return text.slice(from, end);
  };

  return {
    push(ids) {
      if (requireTokenIds(ids, 'ids').length === 0) return ''; // the range is decode's to check
      const waited = window.length - contextLength; // ids held back since earlier pushes
      const before = window.length;
      window.push(...ids);
      try {
        return step(waited > MAX_PENDING_IDS);
      } catch (e) {
        window.length = before; // a refused push (an id decode does not know) leaves the stream as it was
        throw e;
      }
    },
    flush() {
      return window.length > contextLength ? step(true) : '';
    },
  };
}
