// Golden outputs of transformers (see __tests__/fixtures/golden/README.md): tiny random checkpoints
// written by save_pretrained, with the logits, last-layer attention and greedy tokens transformers computed for a
// left-padded batch. The native model and the converted graph must reproduce them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../lib';
import { checkGreedy, checkSteps as checkLogits, golden, MODELS } from './helpers/golden';
import { convertHfCheckpoint } from '../lib/models/convert';
import { loadModel } from '../lib/models/load-dir';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';

const CASES = ['llama31', 'qwen2', 'mistral', 'llama-bf16-sharded'] as const;

describe('golden transformers outputs on wasm', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('wasm');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(CASES)('%s: loadHfCheckpoint matches the logits, attention and greedy tokens', async (name) => {
    const g = golden(name);
    const model = await loadHfCheckpoint(path.join(MODELS, name));
    try {
      await checkLogits(model, g, `${name} native`);
      await checkGreedy(model, g);
    } finally {
      model.dispose();
    }
  });

  test.each(CASES)('%s: convertHfCheckpoint + loadModel matches the logits, attention and greedy tokens', async (name) => {
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
