// Tokenizers behind one interface: Hugging Face tokenizer.json through @huggingface/tokenizers
// (pure JS, browser-safe), and incremental decoding for streaming.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { EntropixError } from './errors';

export interface Tokenizer {
  /** Token ids of `text`, with the tokenizer's own special tokens added (e.g. a BOS), as Hugging Face does by default. */
  encode(text: string): number[];
  /** Text of `ids`, special tokens skipped; an incomplete UTF-8 sequence decodes to U+FFFD. */
  decode(ids: number[]): string;
  /** Ids the tokenizer can produce: the largest id + 1, added tokens included. */
  readonly vocabSize: number;
  readonly eosTokenIds: number[];
}

/** The eos token's name in tokenizer_config.json (a string or { content }). */
function tokenName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

/**
 * A Tokenizer from parsed tokenizer.json and tokenizer_config.json. eosTokenIds: the given ids
 * plus the config's eos_token, if the vocabulary has it.
 */
export function tokenizerFromJson(tokenizerJson: object, tokenizerConfig: object = {}, eosTokenIds: number[] = []): Tokenizer {
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new EntropixError('INVALID_ARGUMENT', `tokenizer.json is not a tokenizer this library reads: ${(e as Error).message}`, 'tokenizer');
  }
  const vocab = hf.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const eos = new Set(eosTokenIds);
  const eosName = tokenName((tokenizerConfig as { eos_token?: unknown }).eos_token);
  if (eosName !== null && vocab.has(eosName)) eos.add(vocab.get(eosName)!);
  return {
    encode: (text) => hf.encode(text).ids.map(Number),
    decode: (ids) => (ids.length === 0 ? '' : hf.decode(ids, { skip_special_tokens: true })),
    vocabSize,
    eosTokenIds: [...eos].sort((a, b) => a - b),
  };
}

export interface TextStream {
  /** Adds generated ids; returns the text they complete (a character split over tokens waits for its last one). */
  push(ids: number[]): string;
  /** Whatever is still held back (an incomplete character decodes to U+FFFD). */
  flush(): string;
}

/**
 * Incremental decoding: each push decodes only a few recent tokens, always with at least one
 * token of context in front (decoders that drop a leading space, like SentencePiece's, then
 * behave as on the whole text), and holds back text that ends in U+FFFD (an incomplete UTF-8
 * sequence). `context`: ids before the first pushed one (e.g. the prompt's last few tokens).
 */
export function createTextStream(tokenizer: Tokenizer, context: number[] = []): TextStream {
  const ids = [...context];
  let prefixOffset = 0; // start of the context the next decode includes
  let readOffset = ids.length; // ids before this were emitted
  const pending = (): { prefix: string; full: string } => ({
    prefix: tokenizer.decode(ids.slice(prefixOffset, readOffset)),
    full: tokenizer.decode(ids.slice(prefixOffset)),
  });
  return {
    push(newIds) {
      ids.push(...newIds);
      const { prefix, full } = pending();
      if (full.length <= prefix.length || full.endsWith('\uFFFD')) return '';
      prefixOffset = readOffset;
      readOffset = ids.length;
      return full.slice(prefix.length);
    },
    flush() {
      const { prefix, full } = pending();
      prefixOffset = readOffset = ids.length;
      return full.length > prefix.length ? full.slice(prefix.length) : '';
    },
  };
}
