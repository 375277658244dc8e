import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, EntropixSampler, SamplerState, computeMetrics } from '../lib';
import { generate as generateSteps, GenerateOptions, GenerateStep } from '../lib/decoding/generate';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';
import type { CausalLM } from '../lib/models/causal-lm';
import { randomModel, SHAPE } from './helpers/llama-reference';
import { hfConfig, writeCheckpoint } from './helpers/hf-writer';
import { opened } from './helpers/generators';

/** generate(), closed after the test even when the test times out or fails. */
const generate: typeof generateSteps = (...args) => opened(generateSteps(...args));

async function collect(it: AsyncIterable<GenerateStep>): Promise<GenerateStep[]> {
  const steps: GenerateStep[] = [];
  for await (const s of it) steps.push(s);
  return steps;
}

const column = (steps: GenerateStep[], row: number) => steps.map((s) => s.tokenIds[row]!);

/** Asserts the promise rejects with EntropixError `code` and no tensor is left behind. */
async function expectRejected(run: () => Promise<unknown>, code: string, argument?: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  expect((caught as Error)?.name).toBe('EntropixError');
  expect((caught as { code: string }).code).toBe(code);
  if (argument) expect((caught as { argument: string }).argument).toMatch(argument);
  expect(tf.memory().numTensors).toBe(before);
}

describe.each(['wasm', 'cpu'] as const)('generate on %s', (backend) => {
  let root: string;
  let model: CausalLM;
  let short: CausalLM; // the same weights with a 16-position context
  beforeAll(async () => {
    await useBackend(backend);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-gen-'));
    const { arrays, weights } = randomModel(SHAPE, 7);
    tf.dispose(weights as unknown as tf.TensorContainer);
    // A long context for the flat-memory test, a short one for the context limit; eos ids
    // [2, 3] come from the helper's config.
    for (const [dir, context] of [['long', 1200], ['short', 16]] as const) {
      await writeCheckpoint(path.join(root, dir), arrays);
      fs.writeFileSync(path.join(root, dir, 'config.json'),
        JSON.stringify({ ...hfConfig('llama', false), max_position_embeddings: context }));
    }
    model = await loadHfCheckpoint(path.join(root, 'long'));
    short = await loadHfCheckpoint(path.join(root, 'short'));
  });
  afterAll(() => {
    model?.dispose();
    short?.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });
  // No eos in these tests unless asked: the random model would stop at random places.
  const noEos = (m: CausalLM): CausalLM => ({ ...m, forward: m.forward.bind(m), generationDefaults: { ...m.generationDefaults, eosTokenIds: [] } });

  test('greedy: tokens are the argmax of the model, logprobs and metrics match a direct forward', async () => {
    const prompt = [5, 1, 30, 12];
    const steps = await collect(generate(noEos(model), [prompt], { maxNewTokens: 4, sampler: 'greedy' }));
    expect(steps).toHaveLength(4);
    let ids = prompt;
    for (const step of steps) {
      const r = model.forward(tf.tensor2d([ids], undefined, 'int32'));
      const logits = Array.from(await r.logits.data());
      const metrics = computeMetrics(r.logits, r.attentionScores);
      const argmax = logits.indexOf(Math.max(...logits));
      const lse = Math.log(logits.reduce((s, x) => s + Math.exp(x), 0));
      expect(step.tokenIds[0]).toBe(argmax);
      expect(step.states[0]).toBe(SamplerState.Base);
      expect(step.logprobs[0]).toBeCloseTo(logits[argmax]! - lse, 4);
      expect(step.metrics.entropy[0]).toBeCloseTo((await metrics.entropy.data())[0]!, 4);
      expect(step.metrics.attnEntropy[0]).toBeCloseTo((await metrics.attnEntropy.data())[0]!, 4);
      tf.dispose([r.logits, r.attentionScores, metrics]);
      r.cache.dispose();
      ids = [...ids, step.tokenIds[0]!];
    }
    expect(steps.map((s) => s.finishReason[0])).toEqual([null, null, null, 'length']);
    expect(steps.map((s) => s.done[0])).toEqual([false, false, false, true]);
  });

  test('the same seed gives the same tokens; another seed other tokens', async () => {
    const run = (seed: number) => collect(generate(noEos(model), [[4, 8, 15]], { maxNewTokens: 24, seed, sampler: { temperature: 1.5 } }));
    const a = column(await run(1), 0);
    expect(column(await run(1), 0)).toEqual(a);
    expect(column(await run(2), 0)).not.toEqual(a);
  });

  test('batch rows (left-padded, per-row seeds) equal their single-row runs, with the Entropix sampler', async () => {
    const prompts = [[5, 1, 30, 12, 7, 9], [2 + 20, 11], [33, 4, 4]];
    const seeds = [11, 22, 33];
    // Wide thresholds so that several regimes fire on this random model.
    const sampler = new EntropixSampler({ lowEntropy: 4, lowVarentropy: 3, mediumEntropy: 4.1, highEntropy: 4.4, highVarentropy: 3 });
    const options = { maxNewTokens: 12, sampler };
    const batch = await collect(generate(noEos(model), prompts, { ...options, seed: seeds }));
    const states = new Set<number>();
    for (let row = 0; row < prompts.length; row++) {
      const alone = await collect(generate(noEos(model), [prompts[row]!], { ...options, seed: [seeds[row]!] }));
      expect(column(batch, row)).toEqual(column(alone, 0));
      alone.forEach((s, i) => {
        expect(batch[i]!.states[row]).toBe(s.states[0]);
        states.add(s.states[0]!);
        for (const key of Object.keys(s.metrics) as (keyof GenerateStep['metrics'])[]) {
          expect(Math.abs(batch[i]!.metrics[key][row]! - s.metrics[key][0]!)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(s.metrics[key][0]!)));
        }
        expect(batch[i]!.logprobs[row]).toBeCloseTo(s.logprobs[0]!, 4);
      });
    }
    expect(states.size).toBeGreaterThan(1);
  });

  test('a stop token ends its row (token included), later steps give -1; other rows go on', async () => {
    const prompts = [[5, 1, 30], [9, 9, 2 + 10]];
    const free = await collect(generate(noEos(model), prompts, { maxNewTokens: 10, sampler: 'greedy' }));
    const stopAt = 3;
    const stopToken = free[stopAt]!.tokenIds[0]!;
    const firstIndex = column(free, 0).indexOf(stopToken);
    const steps = await collect(generate(noEos(model), prompts, { maxNewTokens: 10, sampler: 'greedy', stopTokenIds: [stopToken] }));
    const row0 = column(steps, 0);
    expect(row0.slice(0, firstIndex + 1)).toEqual(column(free, 0).slice(0, firstIndex + 1));
    expect(row0.slice(firstIndex + 1).every((t) => t === -1)).toBe(true);
    expect(steps[firstIndex]!.finishReason[0]).toBe('stop');
    expect(steps.map((s) => s.done[0])).toEqual(steps.map((_, i) => i >= firstIndex));
    // The other row stops at the same token if it emits it, else runs to the end.
    const other = column(free, 1);
    const otherStop = other.indexOf(stopToken);
    const expectedSteps = Math.max(firstIndex, otherStop === -1 ? 9 : otherStop) + 1;
    expect(steps).toHaveLength(expectedSteps);
  });

  test("the model's eos ids stop rows", async () => {
    const free = await collect(generate(noEos(model), [[6, 6, 6]], { maxNewTokens: 8, sampler: 'greedy' }));
    const eos = free[2]!.tokenIds[0]!;
    const withEos = { ...noEos(model), generationDefaults: { eosTokenIds: [eos] } };
    const steps = await collect(generate(withEos, [[6, 6, 6]], { maxNewTokens: 8, sampler: 'greedy' }));
    expect(steps).toHaveLength(column(free, 0).indexOf(eos) + 1);
    expect(steps[steps.length - 1]!.finishReason[0]).toBe('stop');
  });

  test('the context ends a row with finishReason length', async () => {
    expect(short.config.maxPositions).toBe(16);
    const long = Array.from({ length: 14 }, (_, i) => (i * 7) % 37);
    const steps = await collect(generate(noEos(short), [long], { maxNewTokens: 10, sampler: 'greedy' }));
    expect(steps).toHaveLength(3); // 14 + 2 forwarded positions = 16
    expect(steps.map((s) => s.finishReason[0])).toEqual([null, null, 'length']);
    // A prompt that fills the context still gets the one token its logits give.
    const full = await collect(generate(noEos(short), [new Array(16).fill(1)], { maxNewTokens: 10, sampler: 'greedy' }));
    expect(full.map((s) => s.finishReason[0])).toEqual(['length']);
    await expectRejected(() => collect(generate(short, [new Array(17).fill(1)], { maxNewTokens: 2 })), 'INVALID_ARGUMENT', /promptIds\[0\]/);
  });

  // 1000 steps on wasm (3 s); the cpu backend is ~25x slower, so 100 there.
  const long = backend === 'wasm' ? 1000 : 100;
  test(`memory stays flat: the same tensor count after 10 and ${long} steps, nothing left after`, async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    let n = 0;
    for await (const _ of generate(noEos(model), [[1, 2, 3], [4, 5]], { maxNewTokens: long + 1, seed: 3 })) {
      n++;
      if (n === 10 || n === long) counts.push(tf.memory().numTensors);
    }
    expect(n).toBe(long + 1);
    expect(counts[1]).toBe(counts[0]);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  // On cpu the sampler's host step reads its four inputs (logits, scores, keyMask, lastTokens) once.
  test('one asynchronous read per step; no synchronous read on wasm, the host step\'s four on cpu', async () => {
    const engine = tf.engine() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const original = { read: engine.read!, readSync: engine.readSync! };
    let reads = 0;
    let syncReads = 0;
    engine.read = (...a: unknown[]) => { reads++; return original.read.apply(engine, a); };
    engine.readSync = (...a: unknown[]) => { syncReads++; return original.readSync.apply(engine, a); };
    try {
      const steps = await collect(generate(noEos(model), [[1, 2, 3]], { maxNewTokens: 6, seed: 1 }));
      expect(steps).toHaveLength(6);
      expect(reads).toBe(6);
      expect(syncReads).toBe(backend === 'cpu' ? 4 * 6 : 0);
    } finally {
      Object.assign(engine, original);
    }
  });

  test('abort mid-generation rejects with ABORTED and releases every tensor', async () => {
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    let seen = 0;
    await expectRejected(async () => {
      for await (const _ of generate(noEos(model), [[1, 2]], { maxNewTokens: 50, signal: controller.signal })) {
        if (++seen === 3) controller.abort();
      }
    }, 'ABORTED');
    expect(seen).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    await expectRejected(() => collect(generate(model, [[1]], { maxNewTokens: 5, signal: controller.signal })), 'ABORTED');
  });

  test('an abort from a timer arrives while generating (the loop lets the event loop run)', async () => {
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    setTimeout(() => controller.abort(), 30);
    let seen = 0;
    await expectRejected(async () => {
      for await (const _ of generate(noEos(model), [[1, 2]], { maxNewTokens: 1100, signal: controller.signal })) seen++;
    }, 'ABORTED');
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(1100);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('leaving the loop early releases every tensor', async () => {
    const before = tf.memory().numTensors;
    for await (const step of generate(noEos(model), [[1, 2]], { maxNewTokens: 50 })) {
      if (step) break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  test.each<[string, number[][], Partial<GenerateOptions>, RegExp]>([
    ['maxNewTokens 0', [[1]], { maxNewTokens: 0 }, /maxNewTokens/],
    ['maxNewTokens 1.5', [[1]], { maxNewTokens: 1.5 }, /maxNewTokens/],
    ['no prompts', [], { maxNewTokens: 2 }, /promptIds/],
    ['an empty prompt', [[1], []], { maxNewTokens: 2 }, /promptIds\[1\]/],
    ['an id outside the vocabulary', [[1, 37]], { maxNewTokens: 2 }, /promptIds\[0\]/],
    ['a negative id', [[-1]], { maxNewTokens: 2 }, /promptIds\[0\]/],
    ['a prompt longer than the context', [new Array(1201).fill(1)], { maxNewTokens: 2 }, /promptIds\[0\]/],
    ['seeds for the wrong batch', [[1], [2]], { maxNewTokens: 2, seed: [1] }, /seed/],
    ['a bad sampler', [[1]], { maxNewTokens: 2, sampler: 'hot' as never }, /sampler/],
    ['bad stop ids', [[1]], { maxNewTokens: 2, stopTokenIds: [0.5] }, /stopTokenIds/],
  ])('refuses %s with a typed error', async (_, prompts, options, argument) => {
    await expectRejected(() => collect(generate(model, prompts, options as GenerateOptions)), 'INVALID_ARGUMENT', argument);
  });
});
