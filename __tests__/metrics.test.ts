// computeMetrics against hand-computed values and a float64 reference written from the
// specification, on every backend that runs in Node without a GPU.
import type { Tensor } from '@tensorflow/tfjs-core';
import { computeMetrics, EntropixError, tf, useBackend } from '../lib';
import type { EntropixErrorCode, Metrics } from '../lib';
import { rng as prng } from './helpers/paths';

type Matrix = number[][]; // [B, V] logits, [B, T] keyMask, or [H, T] one row's scores
type Scores = number[][][] | number[][][][]; // [B, H, T] or [B, H, Q, T]
type MetricName = keyof Metrics;
type RowMetrics = Record<MetricName, number>;

const METRIC_NAMES: readonly MetricName[] = [
  'entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength',
];

/**
 * Tolerance for comparisons with the float64 reference: |actual − expected| ≤ TOL·max(1, |expected|),
 * i.e. 1e-4 absolute for values below 1 and 1e-4 relative above. NaN must match NaN.
 */
const TOL = 1e-4;

// ---------------------------------------------------------------------------------------------
// Running computeMetrics on plain arrays

/** Runs computeMetrics and returns one RowMetrics per batch row; disposes everything it made. */
function runMetrics(logits: Matrix, scores: Scores, keyMask?: Matrix): RowMetrics[] {
  const x = tf.tensor2d(logits);
  const s = tf.tensor(scores);
  const m = keyMask ? tf.tensor2d(keyMask) : undefined;
  try {
    const result = computeMetrics(x, s, m ? { keyMask: m } : {});
    const columns = METRIC_NAMES.map((name) => Array.from(result[name].dataSync()));
    disposeMetrics(result);
    return logits.map((_, b) => {
      const row = {} as RowMetrics;
      METRIC_NAMES.forEach((name, i) => { row[name] = columns[i]![b]!; });
      return row;
    });
  } finally {
    tf.dispose([x, s, ...(m ? [m] : [])]);
  }
}

/** Metrics is an interface, which tf.dispose's TensorContainer type does not accept directly. */
function disposeMetrics(m: Metrics): void {
  tf.dispose(Object.values(m));
}

function isClose(actual: number, expected: number, tol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
}

/** Every (row, metric) where `actual` and `expected` differ by more than `tol`, as readable lines. */
function mismatches(actual: RowMetrics[], expected: Partial<RowMetrics>[], tol = TOL): string[] {
  expect(actual).toHaveLength(expected.length);
  const out: string[] = [];
  expected.forEach((want, b) => {
    for (const name of METRIC_NAMES) {
      const e = want[name];
      if (e === undefined) continue;
      const a = actual[b]![name];
      if (!isClose(a, e, tol)) out.push(`row ${b} ${name}: got ${a}, expected ${e}`);
    }
  });
  return out;
}

function expectMetrics(actual: RowMetrics[], expected: Partial<RowMetrics>[], tol = TOL): void {
  expect(mismatches(actual, expected, tol)).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Float64 reference, written from the specification with plain loops

const log2 = Math.log2;

/** Entropy and varentropy (bits) of a probability vector; zero entries contribute nothing. */
function entropyOf(p: readonly number[]): { entropy: number; varentropy: number } {
  let entropy = 0;
  for (const q of p) if (q > 0) entropy -= q * log2(q);
  let varentropy = 0;
  for (const q of p) if (q > 0) varentropy += q * (log2(q) + entropy) ** 2;
  return { entropy, varentropy };
}

/** Softmax over `x` where `real[i]`; others get probability 0. Returns null when nothing is real. */
function maskedSoftmax(x: readonly number[], real: readonly boolean[]): number[] | null {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (real[i] && x[i]! > max) max = x[i]!;
  if (max === -Infinity) return null;
  const p = x.map((v, i) => (real[i] ? Math.exp(v - max) : 0));
  let z = 0;
  for (const q of p) z += q;
  return p.map((q) => q / z);
}

/** entropy/varentropy of one logits row: NaN counts as −Inf, +Inf tokens take all the mass. */
function refLogitMetrics(row: readonly number[]): { entropy: number; varentropy: number } {
  const infinite = row.map((v) => v === Infinity);
  if (infinite.some(Boolean)) {
    const n = infinite.filter(Boolean).length;
    return entropyOf(infinite.map((inf) => (inf ? 1 / n : 0)));
  }
  const p = maskedSoftmax(row, row.map((v) => !Number.isNaN(v) && v !== -Infinity));
  return p ? entropyOf(p) : { entropy: NaN, varentropy: NaN };
}

/** The attention metrics of one row: `scores` [H, T] (the query row used), `mask` [T] or none. */
function refAttentionMetrics(scores: Matrix, mask?: readonly number[]): Omit<RowMetrics, 'entropy' | 'varentropy'> {
  const heads = scores.length;
  const keys = scores[0]!.length;
  const real = scores.map((row) => row.map((s, k) =>
    (mask === undefined || mask[k]! > 0) && !Number.isNaN(s) && s !== -Infinity));
  scores.forEach((row, h) => row.forEach((s, k) => {
    if (real[h]![k] && s === Infinity) throw new Error('an unmasked +Inf attention score is not specified');
  }));

  const probs = scores.map((row, h) => maskedSoftmax(row, real[h]!) ?? new Array<number>(keys).fill(0));
  const headEntropy = probs.map((p) => entropyOf(p).entropy); // 0 for a head with no real key
  let attnEntropy = 0;
  for (const e of headEntropy) attnEntropy += e / heads;
  let attnVarentropy = 0;
  if (heads > 1) for (const e of headEntropy) attnVarentropy += (e - attnEntropy) ** 2 / (heads - 1);

  const meanP = new Array<number>(keys).fill(0);
  for (let h = 0; h < heads; h++) for (let k = 0; k < keys; k++) meanP[k]! += probs[h]![k]! / heads;
  let pairs = 0;
  let spread = 0;
  let strength = 0;
  for (let h = 0; h < heads; h++) {
    for (let k = 0; k < keys; k++) {
      if (!real[h]![k]) continue;
      pairs++;
      spread += Math.abs(probs[h]![k]! - meanP[k]!);
      strength += Math.abs(scores[h]![k]!);
    }
  }
  return {
    attnEntropy,
    attnVarentropy,
    agreement: pairs > 0 ? spread / pairs : 0,
    interactionStrength: pairs > 0 ? strength / pairs : 0,
  };
}

/** The query row the metrics use: the scores themselves for [H, T], the last query for [H, Q, T]. */
function lastQuery(rowScores: number[][] | number[][][]): Matrix {
  return rowScores.map((head) => (Array.isArray(head[0]) ? (head as Matrix)[head.length - 1]! : head as number[]));
}

function refMetrics(logits: Matrix, scores: Scores, keyMask?: Matrix): RowMetrics[] {
  return logits.map((row, b) => ({
    ...refLogitMetrics(row),
    ...refAttentionMetrics(lastQuery(scores[b]!), keyMask?.[b]),
  }));
}

// ---------------------------------------------------------------------------------------------
// Deterministic random inputs

/** A standard normal sample (Box–Muller), rounded to float32 so the reference sees what tf sees. */
function normal(rand: () => number, scale: number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.fround(scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
}

function normalArray(rand: () => number, n: number, scale: number): number[] {
  return Array.from({ length: n }, () => normal(rand, scale));
}

const B = 3;
const V = 1000;
const H = 4;
const T = 37;
const LOGIT_SCALES = [0.3, 3, 25]; // nearly uniform, typical, nearly one-hot
const SCORE_SCALES = [0.5, 2, 8];

function randomLogits(rand: () => number): Matrix {
  return LOGIT_SCALES.map((scale) => normalArray(rand, V, scale));
}

function randomScores(rand: () => number, queries = 1): Scores {
  const head = (scale: number) => (queries === 1
    ? normalArray(rand, T, scale)
    : Array.from({ length: queries }, () => normalArray(rand, T, scale)));
  return SCORE_SCALES.map((scale) => Array.from({ length: H }, () => head(scale))) as Scores;
}

/** keyMask [B, T]: row 0 all real, row 1 every fifth key padded, row 2 the last 10 keys padded. */
function randomishKeyMask(): Matrix {
  return [
    new Array<number>(T).fill(1),
    Array.from({ length: T }, (_, k) => (k % 5 === 2 ? 0 : 1)),
    Array.from({ length: T }, (_, k) => (k >= T - 10 ? 0 : 1)),
  ];
}

/** Sets −Inf at some keys of one head of every row (keys excluded from that head only). */
function withNegInfInOneHead(scores: number[][][], head: number): number[][][] {
  return scores.map((row) => row.map((scoresOfHead, h) => (h !== head
    ? scoresOfHead
    : scoresOfHead.map((s, k) => (k % 3 === 0 ? -Infinity : s)))));
}

interface RandomCase {
  name: string;
  logits: Matrix;
  scores: Scores;
  keyMask?: Matrix;
}

function randomCases(): RandomCase[] {
  const rand = prng(20240611);
  const logits = randomLogits(rand);
  // A few −Inf logits in the middle row, so exclusion is exercised on the logits side too.
  const logitsWithNegInf = logits.map((row, b) => row.map((x, i) => (b === 1 && i % 7 === 0 ? -Infinity : x)));
  return [
    { name: '[B,H,T] scores, no mask', logits, scores: randomScores(rand) },
    { name: '[B,H,T] scores with a keyMask', logits: logitsWithNegInf, scores: randomScores(rand), keyMask: randomishKeyMask() },
    {
      name: '[B,H,T] scores with a keyMask and −Inf scores in one head',
      logits,
      scores: withNegInfInOneHead(randomScores(rand) as number[][][], 2),
      keyMask: randomishKeyMask(),
    },
    { name: '[B,H,Q,T] scores with Q=3 and a keyMask', logits, scores: randomScores(rand, 3), keyMask: randomishKeyMask() },
  ];
}

// ---------------------------------------------------------------------------------------------
// Bad input

/** Asserts that `call` throws EntropixError(code, argument) and leaves no tensor behind. */
function expectRefused(call: () => unknown, code: EntropixErrorCode, argument: string): void {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    call();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(EntropixError);
  expect(caught).toMatchObject({ code, argument });
  expect(tf.memory().numTensors).toBe(before);
}

interface BadInput {
  name: string;
  logits: () => unknown;
  scores: () => unknown;
  options?: () => unknown;
  code: EntropixErrorCode;
  argument: string;
}

const goodLogits = (): Tensor => tf.zeros([2, 5]);
const goodScores = (): Tensor => tf.zeros([2, 3, 4]);
const disposed = (make: () => Tensor) => (): Tensor => {
  const t = make();
  t.dispose();
  return t;
};

const BAD_INPUTS: BadInput[] = [
  { name: 'logits of rank 1', logits: () => tf.zeros([5]), scores: goodScores, code: 'INVALID_SHAPE', argument: 'logits' },
  { name: 'logits of rank 3', logits: () => tf.zeros([2, 1, 5]), scores: goodScores, code: 'INVALID_SHAPE', argument: 'logits' },
  { name: 'logits with an empty dimension', logits: () => tf.zeros([2, 0]), scores: goodScores, code: 'INVALID_SHAPE', argument: 'logits' },
  { name: 'int32 logits', logits: () => tf.zeros([2, 5], 'int32'), scores: goodScores, code: 'INVALID_DTYPE', argument: 'logits' },
  { name: 'attentionScores of rank 2', logits: goodLogits, scores: () => tf.zeros([2, 4]), code: 'INVALID_SHAPE', argument: 'attentionScores' },
  { name: 'attentionScores of rank 5', logits: goodLogits, scores: () => tf.zeros([2, 3, 1, 1, 4]), code: 'INVALID_SHAPE', argument: 'attentionScores' },
  { name: 'int32 attentionScores', logits: goodLogits, scores: () => tf.zeros([2, 3, 4], 'int32'), code: 'INVALID_DTYPE', argument: 'attentionScores' },
  { name: 'attentionScores batch ≠ logits batch', logits: goodLogits, scores: () => tf.zeros([3, 3, 4]), code: 'INVALID_SHAPE', argument: 'attentionScores' },
  { name: '[B,H,Q,T] attentionScores batch ≠ logits batch', logits: goodLogits, scores: () => tf.zeros([1, 3, 2, 4]), code: 'INVALID_SHAPE', argument: 'attentionScores' },
  {
    name: 'keyMask of rank 1', logits: goodLogits, scores: goodScores,
    options: () => ({ keyMask: tf.ones([4]) }), code: 'INVALID_SHAPE', argument: 'keyMask',
  },
  {
    name: 'keyMask with the wrong batch', logits: goodLogits, scores: goodScores,
    options: () => ({ keyMask: tf.ones([3, 4]) }), code: 'INVALID_SHAPE', argument: 'keyMask',
  },
  {
    name: 'keyMask with the wrong key count', logits: goodLogits, scores: goodScores,
    options: () => ({ keyMask: tf.ones([2, 5]) }), code: 'INVALID_SHAPE', argument: 'keyMask',
  },
  {
    name: 'keyMask sized by queries, not keys, for [B,H,Q,T]', logits: goodLogits, scores: () => tf.zeros([2, 3, 2, 4]),
    options: () => ({ keyMask: tf.ones([2, 2]) }), code: 'INVALID_SHAPE', argument: 'keyMask',
  },
  { name: 'logits as a nested array', logits: () => [[0, 0, 0]], scores: goodScores, code: 'INVALID_ARGUMENT', argument: 'logits' },
  { name: 'logits undefined', logits: () => undefined, scores: goodScores, code: 'INVALID_ARGUMENT', argument: 'logits' },
  // Null scores mean logits only (logits-only.test.ts); a keyMask then has nothing to mask.
  { name: 'keyMask without attentionScores', logits: goodLogits, scores: () => null, options: () => ({ keyMask: tf.ones([2, 4]) }), code: 'INVALID_ARGUMENT', argument: 'keyMask' },
  { name: 'attentionScores as a plain object', logits: goodLogits, scores: () => ({ shape: [2, 3, 4] }), code: 'INVALID_ARGUMENT', argument: 'attentionScores' },
  {
    name: 'keyMask as an array', logits: goodLogits, scores: goodScores,
    options: () => ({ keyMask: [[1, 1, 1, 1], [1, 1, 1, 1]] }), code: 'INVALID_ARGUMENT', argument: 'keyMask',
  },
  { name: 'options null', logits: goodLogits, scores: goodScores, options: () => null, code: 'INVALID_ARGUMENT', argument: 'options' },
  { name: 'disposed logits', logits: disposed(goodLogits), scores: goodScores, code: 'INVALID_ARGUMENT', argument: 'logits' },
  { name: 'disposed attentionScores', logits: goodLogits, scores: disposed(goodScores), code: 'INVALID_ARGUMENT', argument: 'attentionScores' },
  {
    name: 'disposed keyMask', logits: goodLogits, scores: goodScores,
    options: () => ({ keyMask: disposed(() => tf.ones([2, 4]))() }), code: 'INVALID_ARGUMENT', argument: 'keyMask',
  },
];

// ---------------------------------------------------------------------------------------------

const NEG = -Infinity;
const uniformScores = (heads: number, keys: number): number[][] => Array.from({ length: heads }, () => new Array<number>(keys).fill(0));

describe.each(['cpu', 'wasm'] as const)('computeMetrics on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    expect(tf.getBackend()).toBe(backend);
  });

  describe('hand-computed logit metrics', () => {
    const scores = [uniformScores(1, 2)];
    const cases: { name: string; logits: number[]; entropy: number; varentropy: number }[] = [
      { name: 'uniform over V=8 → 3 bits', logits: new Array<number>(8).fill(1.5), entropy: 3, varentropy: 0 },
      { name: 'one-hot (one 0, rest −Inf) → 0 bits', logits: [NEG, NEG, 0, NEG, NEG], entropy: 0, varentropy: 0 },
      { name: 'two-way fork → 1 bit', logits: [NEG, 2, NEG, 2, NEG, NEG], entropy: 1, varentropy: 0 },
      {
        // p = (1/4, 3/4): surprisals 2 and 2 − log2 3 bits.
        // H = ¼·2 + ¾·(2 − log2 3) = 2 − ¾·log2 3 ≈ 0.811278
        // Var = p1·p2·(s1 − s2)² = (3/16)·(log2 3)² ≈ 0.471020
        name: 'biased fork p=(0.25, 0.75)',
        logits: [Math.log(0.25), NEG, Math.log(0.75)],
        entropy: 2 - 0.75 * Math.log2(3),
        varentropy: (3 / 16) * Math.log2(3) ** 2,
      },
    ];

    it.each(cases)('$name', ({ logits, entropy, varentropy }) => {
      expectMetrics(runMetrics([logits], scores), [{ entropy, varentropy }], 1e-5);
    });

    it('the biased fork literal values', () => {
      const [row] = runMetrics([[Math.log(0.25), Math.log(0.75)]], scores);
      expect(row!.entropy).toBeCloseTo(0.811278, 5);
      expect(row!.varentropy).toBeCloseTo(0.471020, 5);
    });
  });

  describe('hand-computed attention metrics', () => {
    const logits = [[0, 0]];

    it('uniform heads over 4 keys: 2 bits each, no spread, strength = |score|', () => {
      expectMetrics(runMetrics(logits, [[[3, 3, 3, 3], [-1, -1, -1, -1]]]), [{
        attnEntropy: 2, attnVarentropy: 0, agreement: 0, interactionStrength: 2,
      }], 1e-5);
    });

    it('one head: attnVarentropy is 0', () => {
      expectMetrics(runMetrics(logits, [[[0, 0]]]), [{ attnEntropy: 1, attnVarentropy: 0 }], 1e-5);
    });

    it('keys masked by keyMask are excluded from all four metrics', () => {
      // Real keys 0 and 2: head 0 uniform (1 bit), head 1 has p=(1,0) in the limit of a big gap.
      // Head entropies (1, ~0): mean 0.5, unbiased variance 0.5.
      // meanP over keys 0, 2 = (0.75, 0.25); spreads (0.25, 0.25 | 0.25, 0.25) → agreement 0.25.
      // |scores| over real pairs: (1 + 1 + 40 + 0) / 4 = 10.5.
      const scores = [[[1, 99, 1, -99], [40, 7, 0, 7]]];
      expectMetrics(runMetrics(logits, scores, [[1, 0, 1, 0]]), [{
        attnEntropy: 0.5, attnVarentropy: 0.5, agreement: 0.25, interactionStrength: 10.5,
      }], 1e-5);
    });

    it('a key excluded in only one head (−Inf score) is left out of that head’s agreement term', () => {
      // Head 0: p=(0.5, 0.5), 1 bit. Head 1: key 1 is −Inf, p=(1, 0), 0 bits.
      // meanP = (0.75, 0.25). Real pairs: (0,0), (0,1), (1,0) → spreads 0.25 each → agreement 0.25.
      // The excluded pair (1,1) must not add |0 − 0.25|. Strength = (1 + 1 + 2) / 3.
      expectMetrics(runMetrics(logits, [[[1, 1], [2, NEG]]]), [{
        attnEntropy: 0.5, attnVarentropy: 0.5, agreement: 0.25, interactionStrength: 4 / 3,
      }], 1e-5);
    });

    it('a head with no real key has entropy 0 and adds no (head, key) pair', () => {
      // Head 0: uniform over 4 keys (2 bits); head 1: all −Inf (0 bits).
      // Entropies (2, 0): mean 1, variance 2. Only head 0's pairs count: agreement
      // mean over 4 pairs of |0.25 − 0.125| = 0.125; strength = 1.
      expectMetrics(runMetrics(logits, [[[1, 1, 1, 1], [NEG, NEG, NEG, NEG]]]), [{
        attnEntropy: 1, attnVarentropy: 2, agreement: 0.125, interactionStrength: 1,
      }], 1e-5);
    });

    it('[B,H,Q,T]: only the last query row is used', () => {
      const scores = [[[[50, 0, 0, 0], [7, 7, 7, 7]], [[0, 50, 0, 0], [-2, -2, -2, -2]]]];
      expectMetrics(runMetrics(logits, scores), [{
        attnEntropy: 2, attnVarentropy: 0, agreement: 0, interactionStrength: 4.5,
      }], 1e-5);
    });
  });

  describe(`float64 reference on seeded random inputs (B=${B}, V=${V}, H=${H}, T=${T}; tolerance ${TOL} abs/rel)`, () => {
    it.each(randomCases())('$name', ({ logits, scores, keyMask }) => {
      expectMetrics(runMetrics(logits, scores, keyMask), refMetrics(logits, scores, keyMask));
    });

    it('the random inputs are not degenerate (metrics differ between rows)', () => {
      const [c] = randomCases();
      const rows = refMetrics(c!.logits, c!.scores);
      for (const name of METRIC_NAMES) {
        expect(new Set(rows.map((r) => r[name].toFixed(3))).size).toBe(B);
      }
      expect(rows[0]!.entropy).toBeGreaterThan(9); // near log2(1000) ≈ 9.97
      expect(rows[2]!.entropy).toBeLessThan(3);
    });
  });

  describe('batch independence', () => {
    it.each(randomCases())('each row of "$name" equals that row computed alone', ({ logits, scores, keyMask }) => {
      const together = runMetrics(logits, scores, keyMask);
      logits.forEach((row, b) => {
        const alone = runMetrics([row], [scores[b]!] as Scores, keyMask ? [keyMask[b]!] : undefined);
        expectMetrics(alone, [together[b]!], 1e-6);
      });
    });
  });

  describe('NaN and ±Inf', () => {
    const scores = (batch: number) => Array.from({ length: batch }, () => [[0, 1, 2]]);

    it('NaN logits count as −Inf (same as removing them)', () => {
      const withNaN = [[1, NaN, 2, NaN, 0.5], [NaN, 3, NEG, 3, NaN]];
      const removed = [[1, 2, 0.5], [3, 3]];
      const got = runMetrics(withNaN, scores(2));
      expectMetrics(got, [runMetrics([removed[0]!], scores(1))[0]!, runMetrics([removed[1]!], scores(1))[0]!], 1e-6);
      expectMetrics(got, refMetrics(withNaN, scores(2)), 1e-5);
      expect(got[1]!.entropy).toBeCloseTo(1, 5);
    });

    it('a row of all NaN (or all −Inf, or a mix) gets NaN entropy and varentropy; other rows are unaffected', () => {
      const logits = [[NaN, NaN, NaN, NaN], [0, 0, 0, 0], [NEG, NEG, NEG, NEG], [NaN, NEG, NaN, NEG]];
      const got = runMetrics(logits, scores(4));
      for (const b of [0, 2, 3]) {
        expect(got[b]!.entropy).toBeNaN();
        expect(got[b]!.varentropy).toBeNaN();
      }
      expectMetrics([got[1]!], [{ entropy: 2, varentropy: 0 }], 1e-5);
      // The attention metrics of an empty-logit row are still computed.
      for (const row of got) expect(Number.isFinite(row.attnEntropy)).toBe(true);
    });

    it.each([
      { name: 'two +Inf among finite → 1 bit', logits: [5, Infinity, 1e30, Infinity, -3], entropy: 1 },
      { name: 'one +Inf among finite → 0 bits', logits: [5, 100, Infinity, 3e38], entropy: 0 },
      { name: 'three +Inf with NaN and −Inf → log2 3 bits', logits: [Infinity, NaN, Infinity, NEG, Infinity], entropy: Math.log2(3) },
    ])('+Inf logits take all the mass: $name', ({ logits, entropy }) => {
      expectMetrics(runMetrics([logits], scores(1)), [{ entropy, varentropy: 0 }], 1e-5);
    });

    it('NaN and −Inf attention scores are excluded (same as removing the key)', () => {
      const logits = [[0, 0]];
      const withBad = [[[1, NaN, 2, NEG, 0.5], [3, NaN, -1, NEG, 0]]];
      const removed = [[[1, 2, 0.5], [3, -1, 0]]];
      const got = runMetrics(logits, withBad);
      expectMetrics(got, runMetrics(logits, removed), 1e-6);
      expectMetrics(got, refMetrics(logits, withBad), 1e-5);
    });

    it('a masked key with a +Inf (or NaN) score is excluded from every attention metric', () => {
      const logits = [[0, 0]];
      const scores = [[[1, Infinity, 2, 0.5, NaN], [3, Infinity, -1, 0, -Infinity]]];
      const mask = [[1, 0, 1, 1, 0]];
      const got = runMetrics(logits, scores, mask);
      const removed = runMetrics(logits, [[[1, 2, 0.5], [3, -1, 0]]]);
      expectMetrics(got, removed, 1e-6);
      expectMetrics(got, refMetrics(logits, scores, mask), 1e-5);
      for (const name of METRIC_NAMES) expect(Number.isFinite(got[0]![name])).toBe(true);
    });

    it('a row with no real key has all attention metrics 0; other rows are unaffected', () => {
      const logits = [[0, 1], [0, 1], [0, 1]];
      const scores = [
        [[1, 2, 3], [4, 5, 6]], // masked entirely
        [[NEG, NaN, NEG], [NaN, NaN, NEG]], // no real score
        [[0, 0, 0], [0, 0, 0]],
      ];
      const mask = [[0, 0, 0], [1, 1, 1], [1, 1, 1]];
      const zero = { attnEntropy: 0, attnVarentropy: 0, agreement: 0, interactionStrength: 0 };
      const got = runMetrics(logits, scores, mask);
      expectMetrics(got, [zero, zero, { ...zero, attnEntropy: Math.log2(3) }], 1e-6);
    });

    it('keyMask may be bool or int32, and any value > 0 marks a real key', () => {
      const x = tf.tensor2d([[0, 0]]);
      const s = tf.tensor3d([[[1, 5, 2], [0, 9, 3]]]);
      const masks = [
        tf.tensor2d([[1, 0, 1]]),
        tf.tensor2d([[0.5, -1, 2]]),
        tf.tensor2d([[1, 0, 1]], undefined, 'int32'),
        tf.tensor2d([[true, false, true]], undefined, 'bool'),
      ];
      const want = refAttentionMetrics([[1, 5, 2], [0, 9, 3]], [1, 0, 1]);
      for (const keyMask of masks) {
        const m = computeMetrics(x, s, { keyMask });
        expect(mismatches([{
          entropy: 1, varentropy: 0,
          attnEntropy: m.attnEntropy.dataSync()[0]!,
          attnVarentropy: m.attnVarentropy.dataSync()[0]!,
          agreement: m.agreement.dataSync()[0]!,
          interactionStrength: m.interactionStrength.dataSync()[0]!,
        }], [want], 1e-5)).toEqual([]);
        disposeMetrics(m);
      }
      tf.dispose([x, s, ...masks]);
    });
  });

  describe('bad input throws EntropixError and allocates nothing', () => {
    it.each(BAD_INPUTS)('$name → $code ($argument)', ({ logits, scores, options, code, argument }) => {
      const inputs = [logits(), scores(), options ? options() : undefined];
      expectRefused(() => computeMetrics(
        inputs[0] as never, inputs[1] as never, (options ? inputs[2] : undefined) as never,
      ), code, argument);
      tf.dispose(collectTensors(inputs));
    });
  });

  describe('memory', () => {
    it.each([
      { name: '[B,H,T] without keyMask', scores: [2, 3, 7], mask: false },
      { name: '[B,H,Q,T] with keyMask', scores: [2, 3, 4, 7], mask: true },
    ])('$name: returns exactly 6 new tensors and leaks nothing', ({ scores, mask }) => {
      const x = tf.randomNormal([2, 50]) as tf.Tensor2D;
      const s = tf.randomNormal(scores);
      const keyMask = mask ? tf.ones([2, 7]) as tf.Tensor2D : undefined;
      const before = tf.memory().numTensors;
      const result = computeMetrics(x, s, keyMask ? { keyMask } : {});
      expect(tf.memory().numTensors).toBe(before + 6);
      for (const name of METRIC_NAMES) {
        expect(result[name].shape).toEqual([2]);
        expect(result[name].dtype).toBe('float32');
      }
      disposeMetrics(result);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, s, ...(keyMask ? [keyMask] : [])]);
    });
  });
});

/** The live tensors among bad-input arguments (top level and inside an options object). */
function collectTensors(values: unknown[]): Tensor[] {
  const out: Tensor[] = [];
  for (const v of values) {
    if (v instanceof tf.Tensor && !v.isDisposed) out.push(v);
    else if (v && typeof v === 'object' && 'keyMask' in v) out.push(...collectTensors([(v as { keyMask: unknown }).keyMask]));
  }
  return out;
}
