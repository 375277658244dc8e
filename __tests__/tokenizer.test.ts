import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTextStream, renderChatTemplate, tokenizerFromJson, Tokenizer } from '../lib';
import { applyChatTemplate, loadTokenizer } from '../lib/tokenizer-files';
import { byteTokenizerConfig, byteTokenizerJson, END_OF_TEXT_ID } from '../lib/byte-tokenizer';

const bytes = (s: string) => Array.from(Buffer.from(s, 'utf8'));
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

  test('every byte value round-trips through decode as raw bytes', () => {
    for (let b = 0; b < 128; b++) expect(bytes(tok.decode([b]))).toEqual([b]);
    // Bytes ≥ 128 alone are not UTF-8: they decode to U+FFFD, and complete sequences to their character.
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
    const tok = await loadTokenizer(dir);
    expect(tok.encode('ok')).toEqual([256, 111, 107]);
    expect(tok.eosTokenIds).toEqual([10, 46, 256]);
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
