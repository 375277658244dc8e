// The bundled model's tokenizer, written as a standard Hugging Face tokenizer.json: ids 0–255 are
// the UTF-8 bytes themselves, 256 is <|endoftext|> (end of text, and the BOS every prompt starts
// with). Byte-level BPE with no merges, so any HF-compatible library reads it.

export const END_OF_TEXT_ID = 256;
export const END_OF_TEXT = '<|endoftext|>';

/** GPT-2's byte → printable character table (the ByteLevel pre-tokenizer's alphabet). */
function byteCharacters(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let shifted = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + shifted++));
}

export function byteTokenizerJson(): object {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const bos = { SpecialToken: { id: END_OF_TEXT, type_id: 0 } };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: END_OF_TEXT_ID, content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [END_OF_TEXT]: { id: END_OF_TEXT, ids: [END_OF_TEXT_ID], tokens: [END_OF_TEXT] } },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(byteCharacters().map((c, i) => [c, i])), merges: [],
    },
  };
}

export function byteTokenizerConfig(maxPositions: number): object {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast', bos_token: END_OF_TEXT, eos_token: END_OF_TEXT,
    model_max_length: maxPositions, clean_up_tokenization_spaces: false, add_bos_token: true,
  };
}
