// GPT-2 against transformers (see __tests__/fixtures/golden/README.md): tiny random GPT2LMHeadModel
// checkpoints written by save_pretrained (one tied float32, one bf16 in shards with a separate
// lm_head and per-layer attention scales), with transformers' logits, last-layer attention
// probabilities and greedy tokens for a left-padded batch. Native and converted models must
// reproduce all three, through the cache.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../lib';
import { checkGreedy, checkSteps, golden, MODELS } from './helpers/golden';
import { convertHfCheckpoint } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';

const CASES = ['gpt2', 'gpt2-bf16-sharded'] as const;

describe('GPT-2: golden transformers outputs on wasm', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-gpt2-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(CASES)('%s: loadHfCheckpoint matches logits, attention and greedy tokens', async (name) => {
    const g = golden(name);
    const model = await loadHfCheckpoint(path.join(MODELS, name));
    try {
      await checkSteps(model, g, `${name} native`);
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });

  test.each(CASES)('%s: convertHfCheckpoint + loadModel matches logits, attention and greedy tokens', async (name) => {
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
