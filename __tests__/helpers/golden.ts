// Comparing our models with transformers' golden outputs (__tests__/fixtures/golden/README.md):
// logits (and last-layer attention where the fixture records it) through the cache, greedy tokens.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, generate, useBackend } from '../../lib';
import { convertHfCheckpoint } from '../../lib/models/convert';
import { loadModel } from '../../lib/models/load-dir';
import { loadHfCheckpoint } from '../../lib/models/hf-checkpoint';
import type { CausalLM, KVCache } from '../../lib/models/causal-lm';

export const MODELS = path.join(__dirname, '..', 'fixtures', 'golden', 'models');

export interface Golden {
  input_ids: number[][];
  attention_mask: number[][];
  new_tokens: number[][];
  eos_token_id: number;
  logits: number[][][]; // [step, row, vocab]: the prefill's last position, then each decode step
  attention?: number[][][][]; // [step, row, head, key]: last layer, last query row, after softmax (fixtures that record it)
}

export const golden = (name: string): Golden => JSON.parse(fs.readFileSync(path.join(MODELS, name, 'golden.json'), 'utf8'));

/** Every logit within 2e-5 of the row's largest |logit| (float32 sums in another order). */
const RELATIVE_TOLERANCE = 2e-5;
/** Attention probabilities, absolute. */
const PROBABILITY_TOLERANCE = 1e-5;

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

/**
 * Our scores [B, H, S] are the softmax's inputs before the mask: their softmax over the keys the
 * mask shows must be transformers' probabilities (0 at hidden keys).
 */
function expectAttentionClose(scores: Float32Array, mask: number[][], window: number | null, expected: number[][][], what: string): void {
  const heads = expected[0]!.length;
  const keys = mask[0]!.length;
  expected.forEach((rowHeads, b) => rowHeads.forEach((probs, h) => {
    expect(probs.length).toBe(keys);
    const at = (j: number) => scores[(b * heads + h) * keys + j]!;
    // The last query (slot S − 1) sees the real keys after slot S − 1 − window.
    const shown = mask[b]!.map((m, j) => m === 1 && (window === null || j >= keys - window));
    const max = Math.max(...probs.map((_, j) => (shown[j] ? at(j) : -Infinity)));
    const e = probs.map((_, j) => (shown[j] ? Math.exp(at(j) - max) : 0));
    const sum = e.reduce((a, x) => a + x, 0);
    let worst = 0;
    probs.forEach((p, j) => { worst = Math.max(worst, Math.abs(e[j]! / sum - p)); });
    if (!(worst <= PROBABILITY_TOLERANCE)) throw new Error(`${what}, row ${b}, head ${h}: max |Δp| ${worst.toExponential(2)}`);
  }));
}

/** Prefill on the padded batch, then transformers' greedy tokens through the cache, comparing logits (and attention, where recorded) at every step. */
export async function checkSteps(model: CausalLM, g: Golden, what: string): Promise<void> {
  // The last layer's window (Gemma 2: only when its last layer slides).
  const { slidingWindow, slidingLayers } = model.config;
  const window = slidingLayers && !slidingLayers[slidingLayers.length - 1] ? null : slidingWindow;
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
    const scores = (await r.attentionScores.data()) as Float32Array;
    tf.dispose([input, attentionMask, r.logits, r.attentionScores]);
    expectLogitsClose(logits, g.logits[step]!, `${what}, step ${step}`);
    if (g.attention && step < g.attention.length) expectAttentionClose(scores, mask, window, g.attention[step]!, `${what}, step ${step} attention`);
  }
  (cache as KVCache | null)?.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

/** generate() with the greedy sampler on the unpadded prompts: transformers' tokens, up to its eos. */
export async function checkGreedy(model: CausalLM, g: Golden): Promise<void> {
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

/**
 * The golden comparisons for each fixture on wasm: the native model (loadHfCheckpoint) and the
 * converted graph (convertHfCheckpoint + loadModel) must match transformers' logits, attention
 * (where recorded) through the cache, and its greedy tokens.
 */
export function describeGoldenModels(title: string, cases: readonly string[]): void {
  describe(title, () => {
    let root: string;
    beforeAll(async () => {
      await useBackend('wasm');
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-'));
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    test.each(cases)('%s: loadHfCheckpoint matches logits, attention and greedy tokens', async (name) => {
      const g = golden(name);
      const model = await loadHfCheckpoint(path.join(MODELS, name));
      try {
        await checkSteps(model, g, `${name} native`);
        await checkGreedy(model, g);
      } finally {
        model.dispose();
      }
    });

    test.each(cases)('%s: convertHfCheckpoint + loadModel matches logits, attention and greedy tokens', async (name) => {
      const g = golden(name);
      const out = path.join(root, name);
      await convertHfCheckpoint(path.join(MODELS, name), out);
      const model = await loadModel(out);
      try {
        await checkSteps(model, g, `${name} converted`);
        await checkGreedy(model, g);
      } finally {
        model.dispose();
      }
    });
  });
}
