// Where @huggingface/tokenizers reads a tokenizer.json differently from Hugging Face's own
// tokenizers library (the reference), the file is adjusted before it is handed over, so that
// encode gives the reference's ids:
// - WordLevel: the library takes the unknown-word token from tokenizer_config.json, not from the
//   model's own unk_token, and maps an unknown word to NaN without one. The reference requires
//   model.unk_token (a file without it does not load) and maps unknown words to its id.
// - The Whitespace pre-tokenizer: the library splits with JavaScript's ASCII-only \w, the
//   reference with Unicode's (so "naïve" is one word there, three here). It becomes the Split
//   that the reference's Whitespace is (\w+|[^\w\s]+, matches kept), whose \w the library reads
//   as Unicode.
// Browser-safe.
import { EntropixError } from '../core/errors';
import { describe } from '../core/validate';

/** The reference's Whitespace pre-tokenizer, as a Split. */
const WHITESPACE_AS_SPLIT = { type: 'Split', pattern: { Regex: '\\w+|[^\\w\\s]+' }, behavior: 'Removed', invert: true };

/** The pre-tokenizer with every Whitespace (also inside a Sequence) replaced by its Split. */
function unicodeWhitespace(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const n = node as { type?: unknown; pretokenizers?: unknown };
  if (n.type === 'Whitespace') return WHITESPACE_AS_SPLIT;
  if (n.type === 'Sequence' && Array.isArray(n.pretokenizers)) return { ...n, pretokenizers: n.pretokenizers.map(unicodeWhitespace) };
  return node;
}

/**
 * The tokenizer.json and tokenizer_config.json to give @huggingface/tokenizers (copies where
 * changed; the inputs are not modified). Refuses a WordLevel model without a unk_token string,
 * as the reference does.
 */
export function referenceCompatible(tokenizerJson: object, tokenizerConfig: object): { json: object; config: object } {
  const j = tokenizerJson as { model?: { type?: unknown; unk_token?: unknown }; pre_tokenizer?: unknown };
  let config = tokenizerConfig;
  if (j.model?.type === 'WordLevel') {
    const unk = j.model.unk_token;
    if (typeof unk !== 'string') {
      throw new EntropixError('INVALID_ARGUMENT',
        `tokenizer.json: a WordLevel model needs a unk_token (a string, the token of words outside the vocabulary), got ${describe(unk)}`, 'tokenizer');
    }
    config = { ...tokenizerConfig, unk_token: unk };
  }
  const preTokenizer = unicodeWhitespace(j.pre_tokenizer);
  const json = preTokenizer === j.pre_tokenizer ? tokenizerJson : { ...tokenizerJson, pre_tokenizer: preTokenizer };
  return { json, config };
}
