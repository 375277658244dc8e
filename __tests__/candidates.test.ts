import { tf, useBackend } from '../lib';
import { topCandidates } from '../lib/sampling/candidates';
import { MASKED } from '../lib/sampling/special-values';
import { WASM_TUNING } from '../lib/sampling/backends/tuning';

describe.each(['cpu', 'wasm'] as const)('topCandidates on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  // Shapes that take the two-stage search (vocabulary a multiple of 16, ≥ 64·cap) and one that doesn't.
  test.each([[3, 16 * 1024, 64], [2, 32000, 256], [1, 8192, 128], [2, 1000, 256]])(
    'B=%i V=%i cap=%i: the same candidates as one tf.topk', async (batch, vocab, cap) => {
      const before = tf.memory().numTensors;
      const x = tf.randomNormal([batch, vocab], 0, 3, 'float32', vocab) as tf.Tensor2D;
      const ours = tf.tidy(() => topCandidates(x, cap, WASM_TUNING));
      const ref = tf.topk(x, Math.min(cap, vocab));
      expect(ours.values.shape).toEqual([batch, Math.min(cap, vocab)]);
      expect(ours.indices.dtype).toBe('int32');
      expect(await ours.values.array()).toEqual(await ref.values.array());
      expect(await ours.indices.array()).toEqual(await ref.indices.array());
      tf.dispose([x, ours.values, ours.indices, ref.values, ref.indices]);
      expect(tf.memory().numTensors).toBe(before);
    });

  test('rows with fewer real logits than the cap keep all of them first', async () => {
    const vocab = 16 * 1024;
    const rows = [0, 1].map((r) => {
      const row = new Array<number>(vocab).fill(MASKED);
      for (let i = 0; i < 10; i++) row[(i * 997 + r * 31) % vocab] = i - 5 * r;
      return row;
    });
    const x = tf.tensor2d(rows);
    const ours = tf.tidy(() => topCandidates(x, 64, WASM_TUNING));
    const values = (await ours.values.array()) as number[][];
    const indices = (await ours.indices.array()) as number[][];
    for (let r = 0; r < 2; r++) {
      const want = Array.from({ length: 10 }, (_, i) => 9 - i);
      expect(values[r]!.slice(0, 10)).toEqual(want.map((i) => i - 5 * r));
      expect(indices[r]!.slice(0, 10)).toEqual(want.map((i) => (i * 997 + r * 31) % vocab));
      expect(values[r]!.slice(10).every((v) => v === Math.fround(MASKED))).toBe(true);
    }
    tf.dispose([x, ours.values, ours.indices]);
  });
});
