// Golden outputs of Python tokenizers and transformers' AutoTokenizer (see
// __tests__/fixtures/golden/README.md) for three tokenizer.json files trained by the tokenizers
// library: byte-level BPE (Llama 3 style), SentencePiece-style BPE with byte fallback (Metaspace,
// and the legacy Prepend + Replace normalizer), WordPiece, WordLevel (with a Whitespace pre-tokenizer).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTextStream, encodePrompts, renderChatTemplate, tokenizerFromJson, Tokenizer } from '../lib';
import type { CausalLM } from '../lib/models/causal-lm';
import { loadTokenizer } from '../lib/text/tokenizer-files';

const ROOT = path.join(__dirname, 'fixtures', 'golden', 'tokenizers');

interface Case {
  text: string;
  ids: number[];
  ids_without_special_tokens: number[];
  tokenizers_decode: string;
  transformers_decode: string;
  transformers_decode_without_config: string;
}
interface Golden {
  model_type: string;
  cases: Case[];
  singles: { ids: number[]; tokenizers_decode: string; transformers_decode: string }[];
  chat?: { messages: { role: string; content: string }[]; rendered: string; ids: number[] };
}

const read = (dir: string, file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, dir, file), 'utf8'));

/** Pushes ids one at a time; returns the pieces (flush last). */
function streamPieces(tok: Tokenizer, ids: number[]): string[] {
  const stream = createTextStream(tok);
  const pieces = ids.map((id) => stream.push([id]));
  pieces.push(stream.flush());
  return pieces;
}

describe.each(['byte-level-bpe', 'sentencepiece-bpe', 'sentencepiece-legacy', 'wordpiece', 'word-level'])('the %s tokenizer against transformers 5', (name) => {
  const golden: Golden = read(name, 'golden.json');
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(path.join(ROOT, name));
  });

  test.each(golden.cases.map((c) => [JSON.stringify(c.text), c] as const))('%s: encode ids and decode text', (_, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids_without_special_tokens);
    expect(tok.decode(c.ids)).toBe(c.transformers_decode);
    // Streaming adds up to the same text.
    expect(streamPieces(tok, c.ids).join('')).toBe(c.transformers_decode);
  });

  test('single tokens decode as in transformers (" ..." keeps its space on BPE)', () => {
    expect(golden.singles.length).toBeGreaterThan(0);
    for (const s of golden.singles) expect(tok.decode(s.ids)).toBe(s.transformers_decode);
  });

  test('without tokenizer_config.json, decode follows transformers\' default (no clean-up)', () => {
    const bare = tokenizerFromJson(read(name, 'tokenizer.json'));
    expect(bare.cleansUpSpaces).toBe(false);
    for (const c of golden.cases) {
      expect(bare.decode(c.ids)).toBe(c.transformers_decode_without_config);
      // Nothing is held back for clean-up, yet the pieces add up (WordPiece's decoder cleans up per token).
      expect(streamPieces(bare, c.ids).join('')).toBe(c.transformers_decode_without_config);
    }
  });
});

describe('decode clean-up follows transformers 5', () => {
  test('BPE tokenizers ignore clean_up_tokenization_spaces: true, so decode(encode(text)) == text', async () => {
    const golden: Golden = read('byte-level-bpe', 'golden.json');
    const tok = await loadTokenizer(path.join(ROOT, 'byte-level-bpe'));
    expect(read('byte-level-bpe', 'tokenizer_config.json').clean_up_tokenization_spaces).toBe(true);
    expect(tok.cleansUpSpaces).toBe(false);
    for (const c of golden.cases.filter((x) => !x.text.includes('<|'))) {
      expect(tok.decode(tok.encode(c.text))).toBe(c.text);
    }
    expect(tok.decode(tok.encode('x = a ? b : c; obj .method()'))).toBe('x = a ? b : c; obj .method()');
  });

  test('WordPiece keeps the clean-up ("don \'t" → "don\'t"), and Python tokenizers alone does not do all of it', async () => {
    const golden: Golden = read('wordpiece', 'golden.json');
    const tok = await loadTokenizer(path.join(ROOT, 'wordpiece'));
    expect(tok.cleansUpSpaces).toBe(true);
    const c = golden.cases.find((x) => x.text.startsWith('don '))!;
    expect(c.transformers_decode).not.toBe(c.tokenizers_decode); // the fixture shows the clean-up
    expect(tok.decode(c.ids)).toBe(c.transformers_decode);
  });

  test('a stream on a BPE tokenizer holds nothing back at a space; WordPiece still holds it', async () => {
    const bpe = await loadTokenizer(path.join(ROOT, 'byte-level-bpe'));
    const ids = bpe.encode('Hello , world !', { addSpecialTokens: false });
    const stream = createTextStream(bpe);
    // Each push is final at once: " ," and " !" cannot be rewritten, so nothing waits for the flush.
    expect(ids.map((id) => stream.push([id])).join('')).toBe('Hello , world !');
    expect(stream.flush()).toBe('');

    const wp = await loadTokenizer(path.join(ROOT, 'wordpiece'));
    const wpIds = wp.encode('hello , world', { addSpecialTokens: false });
    const pieces = streamPieces(wp, wpIds);
    expect(pieces.join('')).toBe(wp.decode(wpIds));
    expect(pieces[0]).toBe('hello'); // " " waits: a "," may follow and clean-up would remove it
  });
});

describe('a WordLevel tokenizer encodes unknown words as tokenizers does', () => {
  interface Variant {
    model: Record<string, unknown>;
    load_error?: string;
    known?: { text: string; ids: number[] };
    unknown?: { text: string; error: string };
  }
  const golden = read('word-level', 'golden.json') as Golden & { variants: Record<string, Variant> };
  const json = read('word-level', 'tokenizer.json') as { model: Record<string, unknown> };
  const unknownWords = golden.cases.filter((c) => c.ids_without_special_tokens.includes(0)); // [UNK] is id 0
  const withModel = (model: Record<string, unknown>) => ({ ...json, model: { ...model, vocab: json.model.vocab } });

  test('without tokenizer_config.json (where the unk_token used to come from) unknown words get the model\'s unk id, not NaN', () => {
    expect(json.model.type).toBe('WordLevel');
    expect(unknownWords.length).toBeGreaterThan(3);
    const bare = tokenizerFromJson(json);
    for (const c of golden.cases) expect(bare.encode(c.text)).toEqual(c.ids);
  });

  test('the model\'s unk_token wins over tokenizer_config.json\'s, as in tokenizers', () => {
    const tok = tokenizerFromJson(json, { unk_token: '[EOS]' });
    for (const c of unknownWords) expect(tok.encode(c.text)).toEqual(c.ids);
  });

  test.each(['unk_token missing', 'unk_token null'])('%s: refused at load, as tokenizers refuses the file', (name) => {
    const v = golden.variants[name]!;
    expect(v.load_error).toMatch(/unk_token|expected a string/);
    expect(() => tokenizerFromJson(withModel(v.model))).toThrow(expect.objectContaining({
      name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'tokenizer', message: expect.stringMatching(/WordLevel model needs a unk_token/),
    }));
  });

  test('unk_token not in the vocabulary: known words encode, an unknown one is refused by name (tokenizers: an error too)', () => {
    const v = golden.variants['unk_token not in the vocabulary']!;
    expect(v.unknown!.error).toMatch(/Missing \[UNK\] token/);
    const tok = tokenizerFromJson(withModel(v.model));
    expect(tok.encode(v.known!.text)).toEqual(v.known!.ids);
    expect(() => tok.encode(v.unknown!.text)).toThrow(expect.objectContaining({
      name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: 'text', message: expect.stringMatching(/"zebra" is not in the tokenizer's vocabulary, and its unk_token "\[NOPE\]" is not either/),
    }));
  });
});

describe('chat prompts are encoded as transformers encodes them (one BOS)', () => {
  const golden: Golden = read('byte-level-bpe', 'golden.json');
  const config = read('byte-level-bpe', 'tokenizer_config.json');
  const chat = golden.chat!;

  test('the template (which writes the BOS itself) renders as in transformers', () => {
    expect(renderChatTemplate(config, chat.messages)).toBe(chat.rendered);
    expect(chat.rendered.startsWith('<|begin_of_text|>')).toBe(true);
  });

  test('encodePrompts / generateText with addSpecialTokens: false give apply_chat_template(tokenize=True)\'s ids', async () => {
    const tok = await loadTokenizer(path.join(ROOT, 'byte-level-bpe'));
    const bos = chat.ids[0]!;
    expect(chat.ids.filter((id) => id === bos)).toHaveLength(1);
    const model = { config: { vocabSize: 1024, maxPositions: 4096 } } as unknown as CausalLM;
    expect(encodePrompts(model, tok, chat.rendered, { addSpecialTokens: false })).toEqual([chat.ids]);
    // The default adds a second BOS in front: what --chat used to feed the model.
    expect(encodePrompts(model, tok, chat.rendered)[0]!.slice(0, 2)).toEqual([bos, bos]);
    expect(() => encodePrompts(model, tok, chat.rendered, { addSpecialTokens: 'no' as unknown as boolean }))
      .toThrow(/addSpecialTokens/);
  });
});
