// generateText on the bundled model (models/kjv-tiny, the converted graph) with its byte tokenizer.
import * as path from 'node:path';
import { tf, useBackend } from '../lib';
import { generateText as generateTextSteps, GenerateTextOptions, TextStep } from '../lib/decoding/generate-text';
import { generate as generateSteps, GenerateStep } from '../lib/decoding/generate';
import { loadModel } from '../lib/models/load-dir';
import { loadTokenizer } from '../lib/text/tokenizer-files';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import type { CausalLM, LanguageModel } from '../lib/models/causal-lm';
import { tokenizerFromJson, Tokenizer } from '../lib/text/tokenizer';
import { byteTokenizerConfig, byteTokenizerJson } from '../lib/text/byte-tokenizer';
import { opened } from './helpers/generators';

// Closed after each test even when the test times out or fails.
const generate: typeof generateSteps = (...args) => opened(generateSteps(...args));
const generateText: typeof generateTextSteps = (...args) => opened(generateTextSteps(...args));

const MODEL = path.join(__dirname, '..', 'models', 'kjv-tiny');

async function collectSteps(it: AsyncIterable<GenerateStep>): Promise<GenerateStep[]> {
  const steps: GenerateStep[] = [];
  for await (const s of it) steps.push(s);
  return steps;
}

async function collect(it: AsyncIterable<TextStep>): Promise<TextStep[]> {
  const steps: TextStep[] = [];
  for await (const s of it) steps.push(s);
  return steps;
}

describe('generateText on the bundled model (wasm)', () => {
  let model: CausalLM;
  let tokenizer: Tokenizer;
  // Without eos the runs last exactly as long as asked.
  let endless: CausalLM;
  let endlessTokenizer: Tokenizer;
  beforeAll(async () => {
    await useBackend('wasm');
    model = await loadModel(MODEL);
    tokenizer = await loadTokenizer(MODEL);
    endless = { config: model.config, generationDefaults: { ...model.generationDefaults, eosTokenIds: [] }, forward: model.forward.bind(model), dispose: () => {} };
    endlessTokenizer = { ...tokenizer, encode: tokenizer.encode, decode: tokenizer.decode, eosTokenIds: [] };
  });
  afterAll(() => model.dispose());

  test('the model and tokenizer belong together: byte vocabulary, eos <|endoftext|>, calibrated thresholds', () => {
    expect(model.config.vocabSize).toBe(257);
    expect(tokenizer.vocabSize).toBe(257);
    expect(model.generationDefaults.eosTokenIds).toEqual([256]);
    expect(tokenizer.eosTokenIds).toEqual([256]);
    expect(model.generationDefaults.sampler?.lowEntropy).toBeGreaterThan(0.1); // not Llama 3's default
  });

  test('deltas add up to the text, which is the decoded tokens; same seeds, same text', async () => {
    const prompts = ['And God said', 'The LORD is my shepherd'];
    const run = () => collect(generateText(endless, endlessTokenizer, prompts, { maxNewTokens: 60, seed: [5, 6] }));
    const steps = await run();
    expect(steps).toHaveLength(60);
    for (let row = 0; row < 2; row++) {
      const text = steps.map((s) => s.delta[row]).join('');
      expect(steps[59]!.text[row]).toBe(text);
      expect(text).toBe(tokenizer.decode(steps.map((s) => s.step.tokenIds[row]!)));
    }
    expect((await run())[59]!.text).toEqual(steps[59]!.text);
  });

  test('without sliding, generateText draws exactly what generate() draws for the same seed', async () => {
    const prompts = ['Amen', 'And Jesus said'];
    const text = await collect(generateText(endless, endlessTokenizer, prompts, { maxNewTokens: 30, seed: 9 }));
    const ids = await collectSteps(generate(endless, prompts.map((p) => tokenizer.encode(p)), { maxNewTokens: 30, seed: 9 }));
    expect(text.map((s) => s.step.tokenIds)).toEqual(ids.map((s) => s.tokenIds));
  });

  test('a batch row equals its single-row run with the same per-row seed', async () => {
    const batch = await collect(generateText(endless, endlessTokenizer, ['In the beginning', 'Blessed'], { maxNewTokens: 40, seed: [11, 12] }));
    const alone = await collect(generateText(endless, endlessTokenizer, ['Blessed'], { maxNewTokens: 40, seed: [12] }));
    expect(batch[39]!.text[1]).toBe(alone[39]!.text[0]);
    expect(batch.map((s) => s.step.states[1])).toEqual(alone.map((s) => s.step.states[0]));
  });

  test('a stop token ends the row with its text included', async () => {
    const steps = await collect(generateText(endless, endlessTokenizer, 'And he said', { maxNewTokens: 300, seed: 3, stopTokenIds: [10], contextOverflow: 'slide' }));
    const last = steps[steps.length - 1]!;
    expect(last.step.finishReason[0]).toBe('stop');
    expect(last.text[0].endsWith('\n')).toBe(true);
    expect(last.text[0].indexOf('\n')).toBe(last.text[0].length - 1);
  });

  test("'stop' ends at the context; 'slide' goes on past it with flat memory (10 vs 400 steps: three slides of the 128-token context)", async () => {
    const prompt = 'And it came to pass';
    const promptTokens = tokenizer.encode(prompt).length;
    const stopped = await collect(generateText(endless, endlessTokenizer, prompt, { maxNewTokens: 1000, seed: 1 }));
    expect(stopped).toHaveLength(model.config.maxPositions - promptTokens + 1);
    expect(stopped[stopped.length - 1]!.step.finishReason[0]).toBe('length');

    const before = tf.memory().numTensors;
    const counts: number[] = [];
    let n = 0;
    let last: TextStep | undefined;
    for await (const s of generateText(endless, endlessTokenizer, prompt, { maxNewTokens: 401, seed: 1, contextOverflow: 'slide' })) {
      n++;
      if (n === 10 || n === 400) counts.push(tf.memory().numTensors);
      if (n < 401) expect(s.step.done[0]).toBe(false);
      last = s;
    }
    expect(n).toBe(401);
    expect(counts[1]).toBe(counts[0]);
    expect(last!.step.finishReason[0]).toBe('length');
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  test.each<[string, unknown, Partial<GenerateTextOptions>, RegExp]>([
    ['an empty prompt', '', {}, /prompt is empty/],
    ['an empty prompt list', [], {}, /non-empty array/],
    ['a prompt that is not a string', [42], {}, /must be a string/],
    ['a prompt longer than the context', 'x'.repeat(200), {}, /longer than the model's context/],
    ['maxNewTokens 0', 'And', { maxNewTokens: 0 }, /maxNewTokens/],
    ['an unknown contextOverflow', 'And', { contextOverflow: 'wrap' as never }, /contextOverflow/],
  ])('refuses %s with a typed error and leaks nothing', async (_, prompt, options, message) => {
    const before = tf.memory().numTensors;
    await expect(collect(generateText(model, tokenizer, prompt as string, { maxNewTokens: 5, ...options })))
      .rejects.toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', message });
    expect(tf.memory().numTensors).toBe(before);
  });

  test('refuses a tokenizer whose vocabulary is larger than the model; a padded-larger model is fine', async () => {
    const big = { ...tokenizer, encode: tokenizer.encode, decode: tokenizer.decode, vocabSize: 1000 };
    await expect(collect(generateText(model, big, 'And', { maxNewTokens: 2 }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: 'tokenizer' });
    const small = { ...tokenizer, encode: tokenizer.encode, decode: tokenizer.decode, vocabSize: 200 };
    expect(await collect(generateText(model, small, 'And', { maxNewTokens: 2, seed: 1 }))).toHaveLength(2);
  });
});

describe('generateText on a hand-written LanguageModel (no cache, no attention scores)', () => {
  // The least a user's model provides: vocabulary, context, and a forward from ids to logits.
  // This one predicts "the byte after the last one" (z wraps to a), over the byte tokenizer.
  const V = 257;
  const a = 'a'.charCodeAt(0);
  const seen: number[] = [];
  const nextByte: LanguageModel = {
    config: { vocabSize: V, maxPositions: 8 },
    forward(inputIds) {
      seen.push(inputIds.shape[1]);
      return tf.tidy(() => {
        const last = tf.reshape(tf.slice(inputIds, [0, inputIds.shape[1] - 1], [-1, 1]), [-1]);
        const next = tf.cast(tf.add(tf.mod(tf.sub(tf.add(last, 1), a), 26), a), 'int32'); // [B]
        return { logits: tf.mul(tf.cast(tf.oneHot(next, V), 'float32'), 5) as Tensor2D };
      });
    },
  };
  const tokenizer = tokenizerFromJson(byteTokenizerJson(), byteTokenizerConfig(8));
  beforeAll(() => useBackend('wasm'));

  test('greedy text is the model\'s, the whole sequence goes in at every step, and the attention metrics are NaN', async () => {
    seen.length = 0;
    const before = tf.memory().numTensors;
    const steps = await collect(generateText(nextByte, tokenizer, ['ab', 'x'], { maxNewTokens: 5, sampler: 'greedy', seed: 0 }));
    expect(steps.at(-1)!.text).toEqual(['cdefg', 'yzabc']);
    expect(steps.map((s) => s.step.finishReason[0])).toEqual([null, null, null, null, 'length']);
    // No cache: the left-padded prompts (BOS + 2 bytes) and every token so far, at each step.
    expect(seen).toEqual([3, 4, 5, 6, 7]);
    expect(steps.every((s) => s.step.metrics.attnEntropy.every(Number.isNaN))).toBe(true);
    expect(steps.every((s) => s.step.metrics.entropy.every(Number.isFinite))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  test("'slide' goes on past the 8-position context with a fresh prefill of the last half", async () => {
    seen.length = 0;
    const steps = await collect(generateText(nextByte, tokenizer, 'a', { maxNewTokens: 12, sampler: 'greedy', seed: 0, contextOverflow: 'slide' }));
    expect(steps.at(-1)!.text).toEqual(['bcdefghijklm']);
    expect(Math.max(...seen)).toBeLessThanOrEqual(8);
    const stopped = await collect(generateText(nextByte, tokenizer, 'a', { maxNewTokens: 12, sampler: 'greedy', seed: 0 }));
    expect(stopped.at(-1)!.text[0]!.length).toBeLessThan(12);
    expect(stopped.at(-1)!.step.finishReason[0]).toBe('length');
  });

  test.each<[string, unknown, RegExp]>([
    ['a model without forward', { config: { vocabSize: V, maxPositions: 8 } }, /must be a LanguageModel/],
    ['a model without config', { forward: () => null }, /model\.config must be an object/],
    ['a model with a fractional context', { config: { vocabSize: V, maxPositions: 7.5 }, forward: () => null }, /maxPositions/],
  ])('refuses %s with a typed error before any forward', async (_, model, message) => {
    await expect(collect(generateText(model as LanguageModel, tokenizer, 'a', { maxNewTokens: 2 })))
      .rejects.toMatchObject({ name: 'EntropixError', code: 'INVALID_ARGUMENT', message });
  });
});
