// Calibration as a library: quantiles of metric samples (against NumPy), the windows cut from a
// text, and the teacher-forced run over the bundled model (left-padded batches, decoding's own
// metrics, refusals). The CLI and the shipped thresholds: calibrate-cli.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useBackend, EntropixError, calibrate, corpusWindows, teacherForcedMetrics, thresholdsFromMetrics } from '../lib/node';
import { quantile, regimeShares, validateQuantiles } from '../lib/sampling/calibration';
import { regimeAt, STATE_NAMES } from '../lib/sampling/states';
import { generate } from '../lib/decoding/generate';
import { loadModel } from '../lib/models/load-dir';
import { loadTokenizer } from '../lib/text/tokenizer-files';
import type { CausalLM } from '../lib/models/causal-lm';
import { opened } from './helpers/generators';

const MODEL = path.join(__dirname, '..', 'models', 'kjv-tiny');
const FIXTURE = path.join(__dirname, 'fixtures', 'calibrate', 'kjv-heldout-windows.txt');

function refusal(f: () => unknown): EntropixError {
  const before = tf.memory().numTensors;
  try {
    f();
  } catch (e) {
    expect(tf.memory().numTensors).toBe(before);
    expect(e).toBeInstanceOf(EntropixError);
    return e as EntropixError;
  }
  throw new Error('not refused');
}

async function asyncRefusal(f: () => Promise<unknown>): Promise<EntropixError> {
  const before = tf.memory().numTensors;
  try {
    await f();
  } catch (e) {
    expect(tf.memory().numTensors).toBe(before);
    expect(e).toBeInstanceOf(EntropixError);
    return e as EntropixError;
  }
  throw new Error('not refused');
}

describe('quantiles and thresholds (pure)', () => {
  test('quantile interpolates linearly between ranks, as NumPy does', () => {
    // numpy 2.4.6: np.quantile([3.5, -1, 0.25, 7, 2, 2, 9.75, 0.5, 4, 1], q) (method 'linear').
    const sorted = Float64Array.from([3.5, -1, 0.25, 7, 2, 2, 9.75, 0.5, 4, 1]).sort();
    const numpy: [number, number][] = [[0, -1], [0.1, 0.12500000000000003], [0.25, 0.625], [0.5, 2], [0.8, 4.6000000000000005],
      [0.9, 7.274999999999999], [0.99, 9.502500000000001], [1, 9.75]];
    for (const [q, want] of numpy) expect(quantile(sorted, q)).toBeCloseTo(want, 12);
  });

  test('the five thresholds sit at the low / medium / high quantiles; non-finite positions are left out', () => {
    const entropy = Array.from({ length: 101 }, (_, i) => i / 10); // 0 … 10
    const varentropy = entropy.map((e) => 2 * e);
    const th = thresholdsFromMetrics([...entropy, NaN, 3], [...varentropy, 1, Infinity], { low: 0.25, medium: 0.5, high: 0.75 });
    expect(th.lowEntropy).toBeCloseTo(2.5, 12);
    expect(th.lowVarentropy).toBeCloseTo(5, 12);
    expect(th.mediumEntropy).toBeCloseTo(5, 12);
    expect(th.highEntropy).toBeCloseTo(7.5, 12);
    expect(th.highVarentropy).toBeCloseTo(15, 12);
    const d = thresholdsFromMetrics(entropy, varentropy); // 50 / 80 / 90
    expect([d.lowEntropy, d.mediumEntropy, d.highEntropy, d.highVarentropy]).toEqual([5, 8, 9, 18].map((x) => expect.closeTo(x, 12)));
  });

  test('regime shares follow regimeAt (the sampler conditions) and add up to 1', () => {
    const th = { lowEntropy: 1, lowVarentropy: 1, mediumEntropy: 2, highEntropy: 3, highVarentropy: 3 };
    // flowing, treading, exploring, resampling, adaptive, adaptive, base (NaN)
    const e = [0.5, 2.5, 1, 4, 1.5, 0.5, NaN];
    const v = [0.5, 0.5, 4, 4, 2, 1.5, 1];
    const shares = regimeShares(e, v, th);
    expect(shares).toEqual({ flowing: 1 / 7, treading: 1 / 7, exploring: 1 / 7, resampling: 1 / 7, adaptive: 2 / 7, base: 1 / 7 });
    expect(e.map((x, i) => regimeAt(x, v[i]!, th))).toEqual(['flowing', 'treading', 'exploring', 'resampling', 'adaptive', 'adaptive', 'base']);
    expect(STATE_NAMES.reduce((s, n) => s + shares[n], 0)).toBeCloseTo(1, 12);
  });

  test.each([
    ['quantiles above 1', () => thresholdsFromMetrics([1], [1], { low: 0.5, medium: 0.8, high: 90 }), /high must be a fraction in \[0, 1\]/],
    ['quantiles out of order', () => thresholdsFromMetrics([1], [1], { low: 0.9, medium: 0.8, high: 0.95 }), /low ≤ medium ≤ high/],
    ['a missing quantile', () => validateQuantiles({ low: 0.5, high: 0.9 }), /medium must be a fraction/],
    ['unequal lengths', () => thresholdsFromMetrics([1, 2], [1], undefined), /one pair per position/],
    ['no finite position', () => thresholdsFromMetrics([NaN], [1]), /no position has finite/],
    ['an empty sample', () => thresholdsFromMetrics([], []), /no position has finite/],
    ['shares of unequal lengths', () => regimeShares([1, 2], [1], { lowEntropy: 1, lowVarentropy: 1, mediumEntropy: 2, highEntropy: 3, highVarentropy: 3 }), /one value per position/],
  ])('refuses %s', (_, f, message) => {
    const e = refusal(f);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });
});

describe('corpusWindows', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => i);

  test('all of a short text, in consecutive windows; a last window of one token is dropped', () => {
    const w = corpusWindows(ids.slice(0, 25), 10);
    expect(w.map((x) => x[0])).toEqual([0, 10, 20]);
    expect(w.map((x) => x.length)).toEqual([10, 10, 5]);
    expect(corpusWindows(ids.slice(0, 21), 10).map((x) => x.length)).toEqual([10, 10]);
  });

  test('a capped run spreads non-overlapping windows over the whole text', () => {
    const w = corpusWindows(ids, 40, 200); // 5 windows, stride ⌊960 / 5⌋ = 192
    expect(w.map((x) => x[0])).toEqual([0, 192, 384, 576, 768]);
    expect(w.every((x, i) => x.length === 40 && x.every((id, j) => id === x[0]! + j) && (i === 0 || x[0]! >= w[i - 1]![0]! + 40))).toBe(true);
    expect(corpusWindows(ids.slice(0, 100), 40, 90).map((x) => x[0])).toEqual([0, 40]); // stride at least the window
    expect(corpusWindows(ids, 40, 25)).toEqual([ids.slice(0, 25)]); // fewer tokens than a window: one shorter window
  });

  test.each([
    ['a window of 1', () => corpusWindows(ids, 1), /window must be in \[2, inf\)/],
    ['a fractional cap', () => corpusWindows(ids, 10, 20.5), /maxTokens must be an integer/],
    ['a text of one token', () => corpusWindows([5], 10), /1 tokens; calibration needs at least 2/],
  ])('refuses %s', (_, f, message) => expect(refusal(f).message).toMatch(message));
});

describe('teacher forcing on the bundled model (wasm)', () => {
  let model: CausalLM;
  let windows: number[][];
  beforeAll(async () => {
    await useBackend('wasm');
    model = await loadModel(MODEL);
    const tokenizer = await loadTokenizer(MODEL);
    windows = corpusWindows(tokenizer.encode(fs.readFileSync(FIXTURE, 'utf8'), { addSpecialTokens: false }), 120);
  });
  afterAll(() => model.dispose());

  test('the fixture reads back as the 24 held-out windows of 120 tokens (5 chapter starts among them)', () => {
    expect(windows).toHaveLength(24);
    expect(windows.every((w) => w.length === 120)).toBe(true);
    expect(windows.flat().filter((id) => id === 256)).toHaveLength(5);
    expect(windows[0]![0]).toBe(256);
  });

  test('a left-padded batch gives each row its metrics alone, within float rounding', async () => {
    const rows = [windows[0]!.slice(0, 16), windows[1]!.slice(0, 7), windows[2]!.slice(0, 2), windows[3]!.slice(0, 12)];
    const before = tf.memory().numTensors;
    const batched = await teacherForcedMetrics(model, rows, { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(batched.offsets)).toEqual([0, 15, 21, 22, 33]);
    for (let r = 0; r < rows.length; r++) {
      const alone = await teacherForcedMetrics(model, [rows[r]!], { batchSize: 1 });
      for (const k of ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'] as const) {
        const got = batched[k].subarray(batched.offsets[r], batched.offsets[r + 1]);
        const diff = Math.max(...Array.from(got, (x, i) => Math.abs(x - alone[k][i]!)));
        expect(diff).toBeLessThan(1e-4 * Math.max(1, ...Array.from(alone[k], Math.abs)));
      }
    }
  });

  test("position p's metrics are decoding's: generate from tokens 0..p reports the same at its first step", async () => {
    const seq = windows[5]!.slice(0, 20);
    const forced = await teacherForcedMetrics(model, [seq]);
    for (const p of [0, 7, 18]) {
      const steps = opened(generate(model, [seq.slice(0, p + 1)], { maxNewTokens: 1, sampler: 'greedy' }));
      const first = (await steps.next()).value!;
      await steps.return(undefined);
      expect(forced.entropy[p]).toBeCloseTo(first.metrics.entropy[0]!, 3);
      expect(forced.varentropy[p]).toBeCloseTo(first.metrics.varentropy[0]!, 3);
      expect(forced.attnEntropy[p]).toBeCloseTo(first.metrics.attnEntropy[0]!, 3);
      expect(forced.interactionStrength[p]).toBeCloseTo(first.metrics.interactionStrength[0]!, 2);
    }
  });

  test('calibrate returns unrounded thresholds at the quantiles of its own samples, progress counted in positions', async () => {
    const rows = windows.slice(0, 3).map((w) => w.slice(0, 20));
    const progress: [number, number][] = [];
    const r = await calibrate(model, rows, { quantiles: { low: 0.4, medium: 0.7, high: 0.95 }, onProgress: (d, t) => progress.push([d, t]) });
    expect(r.metrics.entropy).toHaveLength(57);
    expect(progress).toHaveLength(19);
    expect(progress[progress.length - 1]).toEqual([57, 57]);
    expect(r.thresholds).toEqual(thresholdsFromMetrics(r.metrics.entropy, r.metrics.varentropy, { low: 0.4, medium: 0.7, high: 0.95 }));
    expect(r.shares).toEqual(regimeShares(r.metrics.entropy, r.metrics.varentropy, r.thresholds));
  });

  test.each([
    ['no sequences', [], {}, /non-empty array/],
    ['a one-token sequence', [[1]], {}, /at least 2 token ids/],
    ['an id outside the vocabulary', [[1, 257]], {}, /\[1\] = 257 is not a token id of this model/],
    ['a sequence longer than the context', [new Array(129).fill(65)], {}, /129 tokens, longer than the model's context of 128/],
    ['batchSize 0', [[1, 2]], { batchSize: 0 }, /batchSize must be in \[1, inf\)/],
    ['bad quantiles', [[1, 2]], { quantiles: { low: 0.5, medium: 0.2, high: 0.9 } }, /low ≤ medium ≤ high/],
  ])('refuses %s before any forward, allocating nothing', async (_, seqs, options, message) => {
    const e = await asyncRefusal(() => calibrate(model, seqs as number[][], options));
    expect(e.message).toMatch(message);
  });

  test('an aborted run rejects with ABORTED and leaks nothing', async () => {
    const controller = new AbortController();
    const e = await asyncRefusal(() => teacherForcedMetrics(model, [windows[0]!.slice(0, 20)], {
      signal: controller.signal, onProgress: (done) => { if (done === 5) controller.abort(); },
    }));
    expect(e.code).toBe('ABORTED');
  });
});
