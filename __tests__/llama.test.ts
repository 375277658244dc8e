import { tf, useBackend } from '../lib';
import {
  applyRotary, LlamaCache, llamaForward, LlamaShape, LlamaWeights, rotaryAngles, validateForward,
} from '../lib/models/llama';
import { expectRefused } from './helpers/tensors';

const SHAPE: LlamaShape = {
  vocabSize: 37, hiddenSize: 24, numLayers: 2, numHeads: 6, numKvHeads: 2, headDim: 8,
  intermediateSize: 40, maxPositions: 64, ropeTheta: 10000, rmsNormEps: 1e-5,
};

/** A seeded random model: float32 arrays, and the same as tensors. */
function randomModel(shape: LlamaShape, seed: number, withBias = false): { arrays: ModelArrays; weights: LlamaWeights } {
  let s = seed >>> 0;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  const mat = (rows: number, cols: number, scale: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.fround(rand() * scale)));
  const vec = (n: number, base = 1) => Array.from({ length: n }, () => Math.fround(base + rand() * 0.2));
  const { hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter, vocabSize: v } = shape;
  const arrays: ModelArrays = {
    embed: mat(v, d, 1),
    layers: Array.from({ length: shape.numLayers }, () => ({
      inputNorm: vec(d), q: mat(hq * hd, d, 0.5), k: mat(hkv * hd, d, 0.5), v: mat(hkv * hd, d, 0.5),
      o: mat(d, hq * hd, 0.5), postNorm: vec(d), gate: mat(inter, d, 0.5), up: mat(inter, d, 0.5), down: mat(d, inter, 0.5),
      qBias: withBias ? vec(hq * hd, 0) : undefined, kBias: withBias ? vec(hkv * hd, 0) : undefined,
      vBias: withBias ? vec(hkv * hd, 0) : undefined,
    })),
    finalNorm: vec(d),
    lmHead: mat(v, d, 1),
  };
  const t2 = (m: number[][]) => tf.tensor2d(m);
  const t1 = (x: number[] | undefined) => (x ? tf.tensor1d(x) : undefined);
  const weights: LlamaWeights = {
    embed: t2(arrays.embed),
    layers: arrays.layers.map((l) => ({
      inputNorm: t1(l.inputNorm)!, q: t2(l.q), k: t2(l.k), v: t2(l.v), o: t2(l.o), postNorm: t1(l.postNorm)!,
      gate: t2(l.gate), up: t2(l.up), down: t2(l.down), qBias: t1(l.qBias), kBias: t1(l.kBias), vBias: t1(l.vBias),
    })),
    finalNorm: t1(arrays.finalNorm)!,
    lmHead: t2(arrays.lmHead),
  };
  return { arrays, weights };
}

interface LayerArrays {
  inputNorm: number[]; q: number[][]; k: number[][]; v: number[][]; o: number[][]; postNorm: number[];
  gate: number[][]; up: number[][]; down: number[][]; qBias?: number[]; kBias?: number[]; vBias?: number[];
}
interface ModelArrays { embed: number[][]; layers: LayerArrays[]; finalNorm: number[]; lmHead: number[][] }

// ---- A float64 reference written from the Hugging Face modeling code's definitions ----
const dot = (a: number[], b: number[]) => a.reduce((acc, x, i) => acc + x * b[i]!, 0);
const linearRef = (x: number[], w: number[][], b?: number[]) => w.map((row, i) => dot(row, x) + (b?.[i] ?? 0));
const rmsRef = (x: number[], w: number[], eps: number) => {
  const r = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * w[i]!);
};
/** Rotates pairs (i, i + hd/2) by position · theta^(−2i/hd). */
const ropeRef = (x: number[], pos: number, theta: number) => {
  const h = x.length / 2;
  const out = x.slice();
  for (let i = 0; i < h; i++) {
    const a = pos / theta ** ((2 * i) / x.length);
    out[i] = x[i]! * Math.cos(a) - x[i + h]! * Math.sin(a);
    out[i + h] = x[i + h]! * Math.cos(a) + x[i]! * Math.sin(a);
  }
  return out;
};

/** Logits of the last token and the last layer's last-row scores, for one sequence. */
function referenceForward(shape: LlamaShape, m: ModelArrays, ids: number[]): { logits: number[]; scores: number[][] } {
  const { numHeads: hq, numKvHeads: hkv, headDim: hd, rmsNormEps: eps, ropeTheta: theta } = shape;
  let h = ids.map((id) => m.embed[id]!.slice());
  let scoresLast: number[][] = [];
  m.layers.forEach((l, li) => {
    const x = h.map((row) => rmsRef(row, l.inputNorm, eps));
    const split = (vec: number[], n: number) => Array.from({ length: n }, (_, j) => vec.slice(j * hd, (j + 1) * hd));
    const q = x.map((row, t) => split(linearRef(row, l.q, l.qBias), hq).map((head) => ropeRef(head, t, theta)));
    const k = x.map((row, t) => split(linearRef(row, l.k, l.kBias), hkv).map((head) => ropeRef(head, t, theta)));
    const v = x.map((row) => split(linearRef(row, l.v, l.vBias), hkv));
    const attnOut = x.map((_, t) => {
      const out: number[] = [];
      for (let j = 0; j < hq; j++) {
        const kv = Math.floor(j / (hq / hkv));
        const sc = k.map((kt) => dot(q[t]![j]!, kt[kv]!) / Math.sqrt(hd));
        if (li === m.layers.length - 1 && t === ids.length - 1) scoresLast.push(sc.slice());
        const visible = sc.slice(0, t + 1);
        const mx = Math.max(...visible);
        const e = visible.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let dd = 0; dd < hd; dd++) out.push(e.reduce((acc, p, u) => acc + (p / z) * v[u]![kv]![dd]!, 0));
      }
      return out;
    });
    h = h.map((row, t) => row.map((val, i) => val + linearRef(attnOut[t]!, l.o)[i]!));
    h = h.map((row) => {
      const y = rmsRef(row, l.postNorm, eps);
      const g = linearRef(y, l.gate);
      const u = linearRef(y, l.up);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const down = linearRef(act, l.down);
      return row.map((val, i) => val + down[i]!);
    });
  });
  if (scoresLast.length === 0) scoresLast = [];
  const last = rmsRef(h[h.length - 1]!, m.finalNorm, eps);
  return { logits: linearRef(last, m.lmHead), scores: scoresLast };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4): void {
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(actual.length).toBe(expected.length);
  expect(worst).toBeLessThanOrEqual(rel * scale);
}

describe.each(['cpu', 'wasm'] as const)('native Llama on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  const owner = {};

  test('rotary embedding matches a hand-derived case (rotate-half pairs i and i + hd/2)', async () => {
    // hd = 4, theta = 10000: frequencies 1 and 1/100; position 1 rotates (x0, x2) by 1 rad and
    // (x1, x3) by 0.01 rad.
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 1, 4]);
    const out = tf.tidy(() => {
      const { cos, sin } = rotaryAngles(tf.tensor2d([[1]]), 4, 10000);
      return applyRotary(x, cos, sin);
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
