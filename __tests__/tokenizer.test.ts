import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextStream, renderChatTemplate, tokenizerFromJson, Tokenizer } from '../lib';
import { applyChatTemplate, loadTokenizer } from '../lib/text/tokenizer-files';
import { byteTokenizerConfig, byteTokenizerJson, END_OF_TEXT_ID } from '../lib/text/byte-tokenizer';

const bytes = (s: string) => Array.from(Buffer.from(s, 'utf8'));
/** transformers 5 cleans up spaces on a BPE tokenizer only when the config insists. */
const FORCED_CLEANUP = { clean_up_tokenization_spaces: true, clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output: true };
const SAMPLES = ['In the beginning God created the heaven and the earth.', 'héllo wörld 😀 — ½ ∑', ' two  spaces\tand\nlines\n', 'a'];

describe('the byte tokenizer (a standard tokenizer.json)', () => {
  const tok = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(128));

  test('ids are the UTF-8 bytes after one <|endoftext|>; decode inverts encode', () => {
    for (const s of SAMPLES) {
      expect(tok.encode(s)).toEqual([END_OF_TEXT_ID, ...bytes(s)]);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    expect(tok.vocabSize).toBe(257);
    expect(tok.eosTokenIds).toEqual([256]);
  });

  test('all 256 byte values decode as the raw bytes they stand for', () => {
    // Each byte in a position where it completes valid UTF-8 decodes to exactly that character.
    const cases: [number[], string][] = [];
    for (let b = 0x00; b <= 0x7f; b++) cases.push([[b], String.fromCharCode(b)]);
    for (let b = 0x80; b <= 0xbf; b++) cases.push([[0xc2, b], String.fromCharCode(b)]); // continuation bytes
    for (let b = 0xc2; b <= 0xdf; b++) cases.push([[b, 0x80], String.fromCharCode(((b & 0x1f) << 6) | 0)]);
    for (let b = 0xe0; b <= 0xef; b++) {
      const second = b === 0xe0 ? 0xa0 : 0x80;
      cases.push([[b, second, 0x80], String.fromCharCode(((b & 0x0f) << 12) | ((second & 0x3f) << 6))]);
    }
    for (let b = 0xf0; b <= 0xf4; b++) {
      const second = b === 0xf0 ? 0x90 : 0x80;
      cases.push([[b, second, 0x80, 0x80], String.fromCodePoint(((b & 0x07) << 18) | ((second & 0x3f) << 12))]);
    }
    for (const [ids, text] of cases) {
      expect(tok.decode(ids)).toBe(text);
      expect(tok.encode(text)).toEqual([END_OF_TEXT_ID, ...ids]);
    }
    // Bytes that never occur in UTF-8, and an incomplete sequence, decode to U+FFFD.
    for (const b of [0xc0, 0xc1, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]) expect(tok.decode([b])).toBe('\uFFFD');
    expect(tok.decode([0xe2, 0x82])).toBe('\uFFFD');
    expect(tok.decode([0xe2, 0x82, 0xac])).toBe('€');
  });

  test('special tokens are skipped in decode', () => {
    expect(tok.decode([END_OF_TEXT_ID, 72, 105, END_OF_TEXT_ID])).toBe('Hi');
  });
});

describe('a Hugging Face byte-level BPE tokenizer with merges', () => {
  // Vocabulary: the printable ASCII byte characters plus two merges, "Ġ" being the space byte.
  const vocab: Record<string, number> = {};
  for (let b = 33; b <= 126; b++) vocab[String.fromCharCode(b)] = b - 33;
  vocab['Ġ'] = 94;
  vocab['th'] = 95;
  vocab['Ġth'] = 96;
  const json = {
    version: '1.0', added_tokens: [{ id: 97, content: '</s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }],
    normalizer: null, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null, decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab, merges: ['t h', 'Ġ th'] },
  };
  const tok = tokenizerFromJson(json, { eos_token: '</s>' }, [5]);

  test('merges apply as derived by hand, and decode restores the text', () => {
    // "the the": "th" + "e", then "Ġth" + "e".
    expect(tok.encode('the the')).toEqual([95, 'e'.charCodeAt(0) - 33, 96, 'e'.charCodeAt(0) - 33]);
    expect(tok.decode(tok.encode('the the'))).toBe('the the');
  });

  test('eos ids: the given ones plus the config eos_token; vocabSize counts added tokens', () => {
    expect(tok.eosTokenIds).toEqual([5, 97]);
    expect(tok.vocabSize).toBe(98);
  });
});

/** A SentencePiece-style (Llama 2) tokenizer.json: "▁" for spaces, <0xXX> byte tokens for what the vocabulary lacks. */
const SPM_PIECES = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
  '▁', 'h', 'e', 'l', 'o', '▁h', 'll', 'llo', '▁he', '▁hello', 'w', 'r', 'd', '▁w'];
const spmId = (piece: string) => SPM_PIECES.indexOf(piece);
const spmByte = (b: number) => 3 + b;
function spmTokenizerJson(): object {
  return {
    version: '1.0',
    added_tokens: [0, 1, 2].map((id) => ({ id, content: SPM_PIECES[id], special: true, single_word: false, lstrip: false, rstrip: false, normalized: false })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [], special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'Sequence', decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true,
      byte_fallback: true, ignore_merges: false, vocab: Object.fromEntries(SPM_PIECES.map((p, i) => [p, i])),
      merges: ['▁ h', 'l l', 'll o', '▁h e', '▁he llo', '▁ w'],
    },
  };
}
const spmConfig = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', clean_up_tokenization_spaces: false };

/** The byte tokenizer plus two merges that each cut "€" (E2 82 AC): " \xE2" = 257 and "\x82\xAC" = 258. */
function splittingBpeJson(): object {
  const json = byteTokenizerJson() as { model: { vocab: Record<string, number>; merges: string[] }; added_tokens: unknown[]; post_processor: unknown };
  const char = Object.fromEntries(Object.entries(json.model.vocab).map(([c, id]) => [id, c]));
  return {
    ...json, added_tokens: [], post_processor: null,
    model: { ...json.model, vocab: { ...json.model.vocab, [char[0x20] + char[0xe2]]: 257, [char[0x82] + char[0xac]]: 258 },
      merges: [`${char[0x20]} ${char[0xe2]}`, `${char[0x82]} ${char[0xac]}`] },
  };
}

describe('a SentencePiece-style byte-fallback tokenizer', () => {
  const tok = tokenizerFromJson(spmTokenizerJson(), spmConfig);

  test('encodes with merges and <0xXX> byte tokens as derived by hand, after a BOS', () => {
    expect(tok.encode('hello world')).toEqual([1, spmId('▁hello'), spmId('▁w'), spmId('o'), spmId('r'), spmId('l'), spmId('d')]);
    // "é" and "€" are not pieces: their UTF-8 bytes are.
    expect(tok.encode('hé €')).toEqual([1, spmId('▁h'), spmByte(0xc3), spmByte(0xa9), spmId('▁'), spmByte(0xe2), spmByte(0x82), spmByte(0xac)]);
  });

  test('decode joins byte tokens into characters, drops the leading space and skips special tokens', () => {
    for (const s of ['hello world', 'hé €', 'hello\n😀 wörld']) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.decode([1, spmId('▁hello'), 2])).toBe('hello');
    expect(tok.decode([spmByte(0xe2), spmByte(0x82)])).toBe('\uFFFD');
    expect(tok.vocabSize).toBe(SPM_PIECES.length);
    expect(tok.eosTokenIds).toEqual([2]);
  });
});

/** Deterministic pseudo-random integers in [0, n). */
function lcg(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % n;
  };
}

/** Pushes `ids` in the given chunk sizes (cycled) and flushes; returns the pieces. */
function streamPieces(tok: Tokenizer, ids: number[], chunk: (n: number) => number, context: number[] = []): string[] {
  const stream = createTextStream(tok, context);
  const pieces: string[] = [];
  for (let i = 0; i < ids.length;) {
    const n = 1 + chunk(3);
    pieces.push(stream.push(ids.slice(i, i + n)));
    i += n;
  }
  pieces.push(stream.flush());
  return pieces;
}

describe('createTextStream', () => {
  const tok = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(128));

  test.each(SAMPLES)('pushing %j byte by byte never emits a broken character; pushes + flush = decode', (s) => {
    const stream = createTextStream(tok);
    const pieces = bytes(s).map((b) => stream.push([b]));
    pieces.push(stream.flush());
    for (const p of pieces) expect(p).not.toContain('\uFFFD');
    expect(pieces.join('')).toBe(s);
  });

  test('a character split over pushes appears once, whole, at its last byte', () => {
    const stream = createTextStream(tok);
    const euro = bytes('€');
    expect(stream.push([euro[0]!])).toBe('');
    expect(stream.push([euro[1]!])).toBe('');
    expect(stream.push([euro[2]!, 33])).toBe('€!');
  });

  test('flush returns an incomplete character as U+FFFD', () => {
    const stream = createTextStream(tok);
    expect(stream.push([0xf0, 0x9f])).toBe('');
    expect(stream.flush()).toBe('\uFFFD');
  });

  test('a decoder that drops a leading space still streams the space, thanks to the context', () => {
    // A SentencePiece-like tokenizer: "▁" marks a space, stripped at the start of a decode.
    const spm: Tokenizer = {
      encode: () => [], vocabSize: 3, eosTokenIds: [],
      decode: (ids) => ids.map((i) => ['▁The', '▁cat', 's'][i]).join('').replace(/▁/g, ' ').replace(/^ /, ''),
    };
    const stream = createTextStream(spm, [0]);
    expect(stream.push([1])).toBe(' cat');
    expect(stream.push([2])).toBe('s');
  });
  test('byte-level BPE tokens that cut a character: the character comes out with its last token', () => {
    const tok = tokenizerFromJson(splittingBpeJson(), {});
    expect(tok.encode(' € €')).toEqual([257, 258, 257, 258]);
    const stream = createTextStream(tok);
    expect(stream.push([257])).toBe(' ');
    expect(stream.push([258])).toBe('€');
    expect(stream.push([257, 258, 0x41])).toBe(' €A');
    expect(stream.flush()).toBe('');
  });

  test('byte-fallback tokens: a character split over <0xXX> tokens never comes out broken', () => {
    const tok = tokenizerFromJson(spmTokenizerJson(), spmConfig);
    const ids = tok.encode('hello wörld 😀 hé €');
    const stream = createTextStream(tok, ids.slice(0, 1)); // the BOS as context
    const pieces = ids.slice(1).map((id) => stream.push([id]));
    pieces.push(stream.flush());
    for (const p of pieces) expect(p).not.toContain('\uFFFD');
    expect(pieces.join('')).toBe('hello wörld 😀 hé €');
    // "😀" is four byte tokens: the whole emoji comes with the fourth, and the space before it
    // with its own "▁" token (a BPE tokenizer does no clean-up, so nothing can remove it later).
    const emoji = ids.indexOf(spmByte(0xf0)) - 1;
    expect(pieces.slice(emoji - 1, emoji + 4)).toEqual([' ', '', '', '', '😀']);
  });

  test('text that clean_up_tokenization_spaces rewrites streams as the final decode has it', () => {
    const tok = tokenizerFromJson(byteTokenizerJson(), { ...byteTokenizerConfig(128), ...FORCED_CLEANUP });
    const ids = tok.encode('I said , do n\'t go . It \'s late !');
    expect(tok.decode(ids)).toBe('I said, don\'t go. It\'s late!');
    const stream = createTextStream(tok);
    const out = ids.map((id) => stream.push([id])).join('') + stream.flush();
    expect(out).toBe('I said, don\'t go. It\'s late!');
  });

  test.each([
    ['the byte tokenizer, with clean-up', () => tokenizerFromJson(byteTokenizerJson(), { ...byteTokenizerConfig(128), ...FORCED_CLEANUP })],
    ['byte-level BPE cutting characters', () => tokenizerFromJson(splittingBpeJson(), {})],
    ['SentencePiece byte fallback, with clean-up', () => tokenizerFromJson(spmTokenizerJson(), { ...spmConfig, ...FORCED_CLEANUP })],
  ])('random texts in random chunks (%s): pushes + flush = decode, no broken character', (_, make) => {
    const tok = make();
    const alphabet = ['a', 'n', 't', 'h', 'e', 'l', 'o', ' ', ' ', '.', ',', '!', '?', "'", 's', '\n', 'é', '€', '😀', '字', ' €'];
    const rand = lcg(7);
    for (let trial = 0; trial < 60; trial++) {
      const text = Array.from({ length: 1 + rand(40) }, () => alphabet[rand(alphabet.length)]).join('');
      const ids = tok.encode(text);
      const pieces = streamPieces(tok, ids, rand);
      for (const p of pieces) expect(p).not.toContain('\uFFFD');
      expect(pieces.join('')).toBe(tok.decode(ids));
    }
  });

  test('a push decodes a bounded window, however long the history', () => {
    const inner = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(128));
    let longest = 0;
    const counting: Tokenizer = { ...inner, decode: (ids) => ((longest = Math.max(longest, ids.length)), inner.decode(ids)) };
    const text = 'In the beginning 字字字 😀😀 wörld, . \'s '.repeat(60);
    const stream = createTextStream(counting);
    const out = bytes(text).map((b) => stream.push([b])).join('') + stream.flush();
    expect(out).toBe(text);
    // 4 ids of context + at most a held space, an incomplete character and the new id.
    expect(longest).toBeLessThanOrEqual(10);
  });

  test('one large push ending inside a character holds back only that character', () => {
    const tok = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(128));
    const stream = createTextStream(tok);
    const text = 'x'.repeat(100) + ' 😀';
    const all = bytes(text);
    expect(stream.push(all.slice(0, -1))).toBe('x'.repeat(100) + ' ');
    expect(stream.push(all.slice(-1))).toBe('😀');
  });

  test('endless invalid UTF-8 is not held forever, and still adds up to the decode', () => {
    const tok = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(128));
    const stream = createTextStream(tok);
    const pieces = Array.from({ length: 100 }, () => stream.push([0x80]));
    expect(pieces.slice(0, 40).join('')).toContain('\uFFFD'); // given up on after a bounded wait
    expect(pieces.join('') + stream.flush()).toBe('\uFFFD'.repeat(100));
  });
});

describe('chat templates', () => {
  const config = {
    bos_token: '<s>', eos_token: { content: '</s>' },
    chat_template: "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}",
  };

  test('renders messages with bos/eos and the generation prompt', () => {
    const messages = [{ role: 'user', content: 'Hi' }];
    expect(renderChatTemplate(config, messages)).toBe('<s>[user] Hi</s>[assistant] ');
    expect(renderChatTemplate(config, messages, { addGenerationPrompt: false })).toBe('<s>[user] Hi</s>');
  });

  test('a list of named templates uses "default"; raise_exception becomes a typed error', () => {
    const named = { chat_template: [{ name: 'tool_use', template: 'tools' }, { name: 'default', template: '{{ messages | length }} {{ add_generation_prompt }}' }] };
    expect(renderChatTemplate(named, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], { addGenerationPrompt: false })).toBe('2 false');
    const strict = { chat_template: "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}ok" };
    expect(renderChatTemplate(strict, [{ role: 'user', content: 'x' }])).toBe('ok');
    expect(() => renderChatTemplate(strict, [{ role: 'system', content: 'x' }])).toThrow(/user first/);
  });

  test('a config without a template, and a broken template, are refused', () => {
    expect(() => renderChatTemplate({}, [{ role: 'user', content: 'x' }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => renderChatTemplate({ chat_template: '{% for %}' }, [{ role: 'user', content: 'x' }]))
      .toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'chat' }));
  });
});

describe('loadTokenizer', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-tok-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('reads a model directory, with eos ids from every file that names them', async () => {
    const dir = path.join(root, 'ok');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...byteTokenizerConfig(64), chat_template: '{{ messages[0].content }}!' }));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ eos_token_id: [10] }));
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 46 }));
    fs.writeFileSync(path.join(dir, 'entropix.json'), JSON.stringify({ eosTokenIds: [3, 10] }));
    const tok = await loadTokenizer(dir);
    expect(tok.encode('ok')).toEqual([256, 111, 107]);
    expect(tok.decode(tok.encode('ok €'))).toBe('ok €');
    expect(tok.vocabSize).toBe(257);
    expect(tok.eosTokenIds).toEqual([3, 10, 46, 256]);
    expect(await applyChatTemplate(dir, [{ role: 'user', content: 'Amen' }])).toBe('Amen!');
  });

  test.each([
    ['a missing directory', 'nope', /not a directory/],
    ['no tokenizer.json', 'empty', /tokenizer\.json does not exist/],
    ['corrupt JSON', 'corrupt', /not valid JSON/],
  ])('refuses %s with a one-line typed error', async (_, name, message) => {
    fs.mkdirSync(path.join(root, 'empty'), { recursive: true });
    fs.mkdirSync(path.join(root, 'corrupt'), { recursive: true });
    fs.writeFileSync(path.join(root, 'corrupt', 'tokenizer.json'), '{"version": ');
    await expect(loadTokenizer(path.join(root, name))).rejects.toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', message });
  });
});
