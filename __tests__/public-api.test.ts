// The public signatures a user meets: plain tf.Tensor inputs (as GraphModel.execute returns them)
// with ranks checked at run time, sampleTokens' optional seed, and the types of the main entry.
import {
  tf,
  useBackend,
  computeMetrics,
  sampleTokens,
  EntropixSampler,
  EntropixError,
  SamplerState,
  REGIME_NAMES,
} from '../lib';
import type {
  ModelConfig,
  HfModelType,
  Llama3RopeScaling,
  GenerateStep,
  RegimeName,
  StateName,
  RegimeThresholds,
  RowParam,
} from '../lib';

/** What GraphModel.execute gives: a Tensor of unknown rank. */
const plain = (values: number[][] | number[][][], dtype: 'float32' | 'int32' = 'float32'): tf.Tensor =>
  tf.tensor(values, undefined, dtype);

function refusal(f: () => unknown): EntropixError {
  const before = tf.memory().numTensors;
  try {
    f();
  } catch (e) {
    expect(tf.memory().numTensors).toBe(before); // a refused call allocates nothing
    expect(e).toBeInstanceOf(EntropixError);
    return e as EntropixError;
  }
  throw new Error('not refused');
}

describe('public signatures', () => {
  beforeAll(() => useBackend('cpu'));

  test('computeMetrics, sampleTokens and EntropixSampler.sample take plain Tensors', () => {
    const logits = plain([
      [0, 5, 1, -2],
      [3, 0, 0, 0],
    ]);
    const scores = plain([[[1, 2, 3]], [[0, 0, 1]]]);
    const keyMask = plain([
      [1, 1, 1],
      [0, 1, 1],
    ]);
    const lastTokens = tf.tensor([1, 2], undefined, 'int32');
    const temperature: RowParam = tf.tensor([0, 0]);
    const m = computeMetrics(logits, scores, { keyMask });
    expect(m.entropy.shape).toEqual([2]);
    const ids = sampleTokens(logits, { temperature }, 1);
    expect(Array.from(ids.dataSync())).toEqual([1, 0]);
    const r = new EntropixSampler().sample(logits, scores, { keyMask, lastTokens, seed: 1 });
    expect(r.tokens.shape).toEqual([2]);
    expect(r.states.dtype).toBe('int32');
    tf.dispose([logits, scores, keyMask, lastTokens, temperature, m, ids, r]);
  });

  test('ranks are still checked at run time', () => {
    const flat = tf.tensor([0, 1, 2]);
    const scores = plain([[[1, 2, 3]]]);
    expect(refusal(() => computeMetrics(flat, scores)).message).toMatch(/logits/);
    expect(refusal(() => sampleTokens(flat, {})).message).toMatch(/logits/);
    expect(refusal(() => new EntropixSampler().sample(flat, scores)).message).toMatch(/logits/);
    const logits = plain([[0, 1, 2]]);
    const column = plain([[1]]);
    const intColumn = plain([[1]], 'int32');
    expect(refusal(() => sampleTokens(logits, { temperature: column })).message).toMatch(/temperature/);
    expect(refusal(() => computeMetrics(logits, scores, { keyMask: flat })).message).toMatch(/keyMask/);
    expect(refusal(() => new EntropixSampler().sample(logits, scores, { lastTokens: intColumn })).message).toMatch(
      /lastTokens/,
    );
    tf.dispose([flat, scores, logits, column, intColumn]);
  });

  test('sampleTokens without a seed draws with a random one (as sampler.sample does)', async () => {
    const logits = tf.zeros([1, 1000]); // uniform: 30 seeded-alike draws would repeat one token
    const draws = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const t = sampleTokens(logits, { temperature: 1 });
      draws.add((await t.data())[0]!);
      t.dispose();
    }
    expect(draws.size).toBeGreaterThan(20); // P(≤ 20 distinct of 30 uniform draws over 1000) < 1e-9
    // A given seed still fixes the draw; undefined behaves as omitted.
    const a = sampleTokens(logits, { temperature: 1 }, 7);
    const b = sampleTokens(logits, { temperature: 1 }, 7, {});
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const c = sampleTokens(logits, { temperature: 0 }, undefined, { candidateCap: 8 });
    expect(c.shape).toEqual([1]);
    tf.dispose([logits, a, b, c]);
  });

  test('the types a user handles come from the main entry', () => {
    const config: Pick<ModelConfig, 'modelType' | 'vocabSize'> = {
      modelType: 'llama' satisfies HfModelType,
      vocabSize: 8,
    };
    const scaling: Llama3RopeScaling['type'] = 'llama3';
    const step: Pick<GenerateStep, 'states'> = { states: [SamplerState.Flowing, SamplerState.Base] };
    const names: RegimeName[] = [...REGIME_NAMES];
    const state: StateName = 'base';
    const th: RegimeThresholds = {
      lowEntropy: 0.1,
      lowVarentropy: 0.1,
      mediumEntropy: 3,
      highEntropy: 5,
      highVarentropy: 5,
    };
    expect([config.vocabSize, scaling, step.states, names.length, state, th.highEntropy]).toEqual([
      8,
      'llama3',
      [0, 5],
      5,
      'base',
      5,
    ]);
  });
});
