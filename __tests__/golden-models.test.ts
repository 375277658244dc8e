// Golden outputs of transformers (see __tests__/fixtures/golden/README.md): tiny random checkpoints
// written by save_pretrained, with the logits and greedy tokens transformers computed for a
// left-padded batch. The native model and the converted graph must reproduce both.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, generate } from '../lib';
import type { CausalLM, KVCache } from '../lib/models/causal-lm';
import { convertHfCheckpoint } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';

const MODELS = path.join(__dirname, 'fixtures', 'golden', 'models');

interface Golden {
  input_ids: number[][];
  attention_mask: number[][];
  new_tokens: number[][];
  eos_token_id: number;
  logits: number[][][]; // [step, row, vocab]: the prefill's last position, then each decode step
}

const golden = (name: string): Golden => JSON.parse(fs.readFileSync(path.join(MODELS, name, 'golden.json'), 'utf8'));

/** Tolerance: every logit within 2e-5 of the row's largest |logit| (float32 sums in another order; measured ≤ 4.8e-6 on wasm). */
const RELATIVE_TOLERANCE = 2e-5;

function expectLogitsClose(actual: Float32Array, expected: number[][], what: string): void {
  const vocab = expected[0]!.length;
  expected.forEach((row, r) => {
    const scale = Math.max(...row.map(Math.abs));
    let worst = 0;
    row.forEach((x, j) => { worst = Math.max(worst, Math.abs(actual[r * vocab + j]! - x)); });
    if (!(worst <= RELATIVE_TOLERANCE * scale)) {
      throw new Error(`${what}, row ${r}: max |Δlogit| ${worst.toExponential(2)} > ${RELATIVE_TOLERANCE} × ${scale.toFixed(3)}`);
    }
  });
}

/** Prefill on the padded batch, then feed transformers' greedy tokens through the cache, comparing logits at every step. */
async function checkLogits(model: CausalLM, g: Golden, what: string): Promise<void> {
  const before = tf.memory().numTensors;
  let mask = g.attention_mask.map((r) => [...r]);
  let cache: KVCache | null = null;
  for (let step = 0; step < g.logits.length; step++) {
    const ids = step === 0 ? g.input_ids : g.new_tokens.map((t) => [t[step - 1]!]);
    if (step > 0) mask = mask.map((r) => [...r, 1]);
    const input = tf.tensor2d(ids, undefined, 'int32');
    const attentionMask = tf.tensor2d(mask, undefined, 'int32');
    const r = model.forward(input, cache, { attentionMask });
    cache = r.cache;
    const logits = (await r.logits.data()) as Float32Array;
    tf.dispose([input, attentionMask, r.logits, r.attentionScores]);
    expectLogitsClose(logits, g.logits[step]!, `${what}, step ${step}`);
  }
  (cache as KVCache | null)?.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

/** generate() with the greedy sampler on the unpadded prompts: transformers' tokens, up to its eos. */
async function checkGreedy(model: CausalLM, g: Golden): Promise<void> {
  const prompts = g.input_ids.map((r, i) => r.filter((_, j) => g.attention_mask[i]![j] === 1));
  const ours: number[][] = prompts.map(() => []);
  for await (const step of generate(model, prompts, { maxNewTokens: g.new_tokens[0]!.length, sampler: 'greedy', seed: 0 })) {
    step.tokenIds.forEach((t, r) => { if (t >= 0) ours[r]!.push(t); });
  }
  const expected = g.new_tokens.map((t) => {
    const eos = t.indexOf(g.eos_token_id);
    return eos < 0 ? t : t.slice(0, eos + 1);
  });
  expect(ours).toEqual(expected);
}

const CASES = ['llama31', 'qwen2', 'mistral', 'llama-bf16-sharded'] as const;

describe('golden transformers outputs on wasm', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(CASES)('%s: loadHfCheckpoint matches the logits and greedy tokens', async (name) => {
    const g = golden(name);
    const model = await loadHfCheckpoint(path.join(MODELS, name));
    try {
      await checkLogits(model, g, `${name} native`);
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });

  test.each(CASES)('%s: convertHfCheckpoint + loadModel matches the logits and greedy tokens', async (name) => {
    const g = golden(name);
    const out = path.join(root, name);
    await convertHfCheckpoint(path.join(MODELS, name), out);
    const model = await loadModel(out);
    try {
      await checkLogits(model, g, `${name} converted`);
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });
});

describe('golden transformers outputs on cpu', () => {
  beforeAll(() => useBackend('cpu'));

  test('llama31 (Llama 3.1 rope scaling): the native model matches the logits and greedy tokens', async () => {
    const g = golden('llama31');
    const model = await loadHfCheckpoint(path.join(MODELS, 'llama31'));
    try {
      await checkLogits(model, g, 'llama31 native on cpu');
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });
});
