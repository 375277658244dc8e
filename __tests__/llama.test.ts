import { tf, useBackend } from '../lib';
import { LlamaCache, llamaForward, ropeInverseFrequencies, rotaryAngles, rotaryMatrices, validateForward } from '../lib/models/llama';
import { expectClose, randomModel, referenceForward, SHAPE } from './helpers/llama-reference';
import { expectRefused } from './helpers/tensors';

test('Llama 3.1 RoPE scaling: short wavelengths kept, long ones divided by the factor, a smooth band between', () => {
  // Llama 3.2's published settings: theta 500000, head 64, factor 32, low 1, high 4, original 8192.
  const scaling = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
  const plain = ropeInverseFrequencies(64, 500000);
  const scaled = ropeInverseFrequencies(64, 500000, scaling);
  let bands = 0;
  plain.forEach((f, i) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < 8192 / 4) expect(scaled[i]).toBe(f);
    else if (wavelength > 8192) expect(scaled[i]).toBeCloseTo(f / 32, 12);
    else {
      bands++;
      expect(scaled[i]).toBeGreaterThan(f / 32);
      expect(scaled[i]).toBeLessThan(f);
    }
  });
  expect(bands).toBeGreaterThan(0);
  expect(scaled[0]).toBe(plain[0]);
  expect(scaled[31]).toBeCloseTo(plain[31]! / 32, 12);
});

describe.each(['cpu', 'wasm'] as const)('native Llama on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  const owner = {};

  test('rotary embedding matches a hand-derived case (rotate-half pairs i and i + hd/2)', async () => {
    // hd = 4, theta = 10000: frequencies 1 and 1/100; position 1 rotates (x0, x2) by 1 rad and
    // (x1, x3) by 0.01 rad.
    // The rotation is one matrix per position, [B, T, hd, hd], applied as x·M.
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 1, 4]);
    const out = tf.tidy(() => {
      const { cos, sin } = rotaryAngles(tf.tensor2d([[1]]), 4, 10000);
      return tf.matMul(x, rotaryMatrices(cos, sin));
    });
    const c1 = Math.cos(1), s1 = Math.sin(1), c2 = Math.cos(0.01), s2 = Math.sin(0.01);
    expectClose(await out.data(), [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2], 1e-6);
    tf.dispose([x, out]);
  });

  test.each([false, true])('one full forward equals a float64 reference (biases: %s)', async (withBias) => {
    const { arrays, weights } = randomModel(SHAPE, 11, withBias);
    const ids = [3, 17, 0, 36, 5, 9, 21];
    const out = tf.tidy(() => {
      const r = llamaForward(SHAPE, weights, owner, tf.tensor2d([ids], [1, ids.length], 'int32'), null, null);
      r.cache.dispose();
      return { logits: r.logits, scores: r.attentionScores };
    });
    const ref = referenceForward(SHAPE, arrays, ids);
    expect(out.scores.shape).toEqual([1, SHAPE.numHeads, ids.length]);
    expectClose(await out.logits.data(), ref.logits);
    expectClose(await out.scores.data(), ref.scores.flat());
    tf.dispose([out, weights as unknown as tf.TensorContainer]);
  });

  test('prefill then decode steps with the cache equal one forward over the whole sequence', async () => {
    const { weights } = randomModel(SHAPE, 5);
    const ids = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 8, 7, 6, 5, 4, 3, 2]];
    const full = llamaForward(SHAPE, weights, owner, tf.tensor2d(ids, undefined, 'int32'), null, null);
    let step = llamaForward(SHAPE, weights, owner, tf.tensor2d(ids.map((r) => r.slice(0, 5)), undefined, 'int32'), null, null);
    for (let t = 5; t < 8; t++) {
      const next = llamaForward(SHAPE, weights, owner, tf.tensor2d(ids.map((r) => [r[t]!]), undefined, 'int32'), step.cache, null);
      tf.dispose([step.logits, step.attentionScores]);
      step.cache.dispose();
      step = next;
    }
    expect(step.cache.length).toBe(8);
    expectClose(await step.logits.data(), await full.logits.data());
    expectClose(await step.attentionScores.data(), await full.attentionScores.data());
    tf.dispose([full.logits, full.attentionScores, step.logits, step.attentionScores]);
    full.cache.dispose();
    step.cache.dispose();
    tf.dispose(weights as unknown as tf.TensorContainer);
  });

  test('a left-padded batch with an attention mask equals each row alone', async () => {
    const { weights } = randomModel(SHAPE, 8);
    const rows = [[4, 8, 15, 16, 23, 2], [7, 9, 11]];
    const padded = rows.map((r) => [...new Array(6 - r.length).fill(0), ...r]);
    const mask = rows.map((r) => [...new Array(6 - r.length).fill(0), ...new Array(r.length).fill(1)]);
    const batch = llamaForward(SHAPE, weights, owner, tf.tensor2d(padded, undefined, 'int32'), null, tf.tensor2d(mask));
    // One decode step on top, the mask grown by one real column.
    const next = llamaForward(SHAPE, weights, owner, tf.tensor2d([[12], [13]], undefined, 'int32'), batch.cache,
      tf.tensor2d(mask.map((m) => [...m, 1])));
    for (let r = 0; r < 2; r++) {
      const alone = llamaForward(SHAPE, weights, owner, tf.tensor2d([[...rows[r]!, 12 + r]], undefined, 'int32'), null, null);
      const logits = (await next.logits.data()).slice(r * SHAPE.vocabSize, (r + 1) * SHAPE.vocabSize);
      expectClose(logits, await alone.logits.data());
      // Scores over the row's real keys match; padded keys are reported as computed (pre-mask).
      const scores = await next.attentionScores.array() as number[][][];
      const mine = scores[r]!.map((head) => head.slice(6 - rows[r]!.length));
      expectClose(mine.flat(), (await alone.attentionScores.array() as number[][][])[0]!.flat());
      tf.dispose([alone.logits, alone.attentionScores]);
      alone.cache.dispose();
    }
    tf.dispose([batch.logits, batch.attentionScores, next.logits, next.attentionScores]);
    batch.cache.dispose();
    next.cache.dispose();
    tf.dispose(weights as unknown as tf.TensorContainer);
  });

  test('a row with an id outside the vocabulary gets NaN logits; other rows are unaffected', async () => {
    const { weights } = randomModel(SHAPE, 9);
    const run = (ids: number[][]) => tf.tidy(() => {
      const r = llamaForward(SHAPE, weights, owner, tf.tensor2d(ids, undefined, 'int32'), null, null);
      r.cache.dispose();
      return r.logits;
    });
    const bad = run([[3, SHAPE.vocabSize], [1, 2], [-1, 4]]);
    const alone = run([[1, 2]]);
    const rows = (await bad.array()) as number[][];
    expect(rows[0]!.every(Number.isNaN)).toBe(true);
    expect(rows[2]!.every(Number.isNaN)).toBe(true);
    expectClose(rows[1]!, await alone.data());
    tf.dispose([bad, alone, weights as unknown as tf.TensorContainer]);
  });

  test('bad input is refused with a typed error, before anything is allocated', () => {
    const ids = tf.zeros([2, 3], 'int32');
    const floatIds = tf.zeros([2, 3]);
    const cache = new LlamaCache(owner, [tf.zeros([2, 2, 4, 8]) as tf.Tensor4D], [tf.zeros([2, 2, 4, 8]) as tf.Tensor4D]);
    const otherCache = new LlamaCache({}, [tf.zeros([2, 2, 4, 8]) as tf.Tensor4D], [tf.zeros([2, 2, 4, 8]) as tf.Tensor4D]);
    const oneRow = tf.zeros([1, 3], 'int32');
    const mask = tf.ones([2, 3]);
    expectRefused(() => validateForward(SHAPE, owner, floatIds, null, null), 'INVALID_DTYPE', 'inputIds');
    expectRefused(() => validateForward(SHAPE, owner, otherCache.keys[0], null, null), 'INVALID_SHAPE', 'inputIds');
    expectRefused(() => validateForward(SHAPE, owner, ids, otherCache, null), 'INVALID_ARGUMENT', 'cache');
    expectRefused(() => validateForward(SHAPE, owner, oneRow, cache, null), 'INVALID_SHAPE', 'cache');
    expectRefused(() => validateForward(SHAPE, owner, ids, cache, mask), 'INVALID_SHAPE', 'options.attentionMask');
    expectRefused(() => validateForward({ ...SHAPE, maxPositions: 6 }, owner, ids, cache, null), 'INVALID_ARGUMENT', 'inputIds');
    expect(() => validateForward(SHAPE, owner, ids, cache, tf.ones([2, 7]))).not.toThrow();
    cache.dispose();
    otherCache.dispose();
    expectRefused(() => validateForward(SHAPE, owner, ids, cache, null), 'INVALID_ARGUMENT', 'cache');
    tf.dispose([ids, floatIds, oneRow, mask]);
  });
});
