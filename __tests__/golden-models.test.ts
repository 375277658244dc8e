// Golden outputs of transformers (see __tests__/fixtures/golden/README.md): tiny random checkpoints
// written by save_pretrained, with the logits, last-layer attention and greedy tokens transformers computed for a
// left-padded batch. The native model and the converted graph must reproduce them.
import * as path from 'node:path';
import { useBackend } from '../lib';
import { checkGreedy, checkSteps as checkLogits, describeGoldenModels, golden, MODELS } from './helpers/golden';
import { loadHfCheckpoint } from '../lib/models/hf-checkpoint';

const CASES = ['llama31', 'qwen2', 'mistral', 'llama-bf16-sharded', 'mistral-bf16-sharded', 'qwen2-bf16-sharded'] as const;

describeGoldenModels('golden transformers outputs on wasm', CASES);

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
