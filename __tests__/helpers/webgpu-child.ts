// Run as a child process by webgpu.test.ts (Dawn must not start inside jest's process): converts
// a small random checkpoint, then runs the converted graph, the native model and generate() on
// wasm and on webgpu, and prints the results as one JSON line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { convertHfCheckpoint, loadHfCheckpoint, loadModel, tf, useBackend } from '../../lib/node';
import type { BackendName, CausalLM } from '../../lib/node';
import { generate } from '../../lib/decoding/generate';
import { randomModel, SHAPE } from './llama-reference';
import { writeCheckpoint } from './hf-writer';

async function run(model: CausalLM): Promise<{ logits: number[]; scores: number[]; decode: number[]; greedy: number[] }> {
  const ids = tf.tensor2d([[5, 1, 30, 12], [0, 0, 7, 9]], [2, 4], 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1], [0, 0, 1, 1]]);
  const r = model.forward(ids, null, { attentionMask: mask });
  const next = tf.tensor2d([[3], [4]], [2, 1], 'int32');
  const mask2 = tf.tidy(() => tf.concat([mask, tf.ones([2, 1])], 1)) as tf.Tensor2D;
  const logits = Array.from(await r.logits.data());
  const scores = Array.from(await r.attentionScores.data());
  const r2 = model.forward(next, r.cache, { attentionMask: mask2 });
  const decode = Array.from(await r2.logits.data());
  tf.dispose([ids, mask, next, mask2, r.logits, r.attentionScores, r2.logits, r2.attentionScores]);
  r2.cache.dispose();
  const greedy: number[] = [];
  const quiet: CausalLM = { config: model.config, generationDefaults: {}, forward: model.forward.bind(model), dispose: () => {} };
  for await (const step of generate(quiet, [[5, 1, 30, 12]], { maxNewTokens: 6, sampler: 'greedy' })) greedy.push(step.tokenIds[0]!);
  return { logits, scores, decode, greedy };
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-webgpu-'));
  try {
    const { arrays, weights } = randomModel(SHAPE, 5);
    tf.dispose(weights as unknown as tf.TensorContainer);
    await writeCheckpoint(path.join(root, 'hf'), arrays);
    await convertHfCheckpoint(path.join(root, 'hf'), path.join(root, 'graph'));
    const out: Record<string, unknown> = {};
    for (const backend of ['wasm', 'webgpu'] as BackendName[]) {
      try {
        await useBackend(backend);
      } catch (e) {
        out[backend] = { unavailable: (e as Error).message };
        continue;
      }
      for (const [name, load] of [['converted', () => loadModel(path.join(root, 'graph'))], ['native', () => loadHfCheckpoint(path.join(root, 'hf'))]] as const) {
        const model = await load();
        out[`${backend} ${name}`] = await run(model);
        model.dispose();
      }
      out[`${backend} tensors left`] = tf.memory().numTensors;
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
