// A chat prompt end to end against transformers (see __tests__/fixtures/golden/README.md): a tiny
// Llama sharing a Llama 3 style tokenizer whose chat template writes the BOS itself.
// transformers encodes the rendered template without added special tokens (one BOS) and answers
// greedily; generateText with addSpecialTokens: false and the CLI's --chat must give that reply.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend, generateText } from '../lib';
import { runGenerate } from '../lib/cli/generate-command';
import { convertHfCheckpoint } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { applyChatTemplate, loadTokenizer } from '../lib/text/tokenizer-files';

const SOURCE = path.join(__dirname, 'fixtures', 'golden', 'models', 'chat-llama');
const golden: {
  messages: { role: string; content: string }[]; input_ids: number[]; new_tokens: number[]; text: string;
  new_tokens_with_two_bos: number[];
} = JSON.parse(fs.readFileSync(path.join(SOURCE, 'golden.json'), 'utf8'));

describe('a chat prompt gets one BOS, as in transformers (wasm)', () => {
  let root: string;
  let dir: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-chat-'));
    dir = path.join(root, 'model');
    await convertHfCheckpoint(SOURCE, dir);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('generateText on the rendered template with addSpecialTokens: false gives transformers\' greedy reply', async () => {
    expect(golden.new_tokens_with_two_bos).not.toEqual(golden.new_tokens); // a second BOS would show
    const model = await loadModel(dir);
    try {
      const tokenizer = await loadTokenizer(dir);
      const rendered = await applyChatTemplate(dir, golden.messages);
      expect(tokenizer.encode(rendered, { addSpecialTokens: false })).toEqual(golden.input_ids);
      const tokens: number[] = [];
      let text = '';
      for await (const s of generateText(model, tokenizer, rendered, {
        maxNewTokens: golden.new_tokens.length, sampler: 'greedy', seed: 0, addSpecialTokens: false,
      })) {
        if (s.step.tokenIds[0]! >= 0) tokens.push(s.step.tokenIds[0]!);
        text = s.text[0]!;
      }
      expect(tokens).toEqual(golden.new_tokens);
      expect(text).toBe(golden.text);
    } finally {
      model.dispose();
    }
  });

  test('the CLI\'s --chat feeds the rendered template with one BOS: transformers\' reply', async () => {
    const trace = path.join(root, 'trace.json');
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await runGenerate({
        prompts: [golden.messages[0]!.content], model: dir, backend: 'wasm', maxNewTokens: golden.new_tokens.length,
        sampler: 'greedy', seed: 0, chat: true, trace, color: false, quiet: true,
      });
    } finally {
      write.mockRestore();
    }
    const t = JSON.parse(fs.readFileSync(trace, 'utf8')) as { texts: string[]; tokens: { tokenId: number }[] };
    expect(t.tokens.map((x) => x.tokenId)).toEqual(golden.new_tokens);
    expect(t.texts[0]).toBe(golden.text);
  });
});
