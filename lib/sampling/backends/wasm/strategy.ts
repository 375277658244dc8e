// The wasm strategy: XNNPACK does the passes over the vocabulary that it does fast (the clip, the
// softmax, the block maxima, the products and pooled sums of the entropy moments, the attention
// softmax and its mean over heads: SIMD, several times faster per element than a JS loop), and JS
// kernels on the wasm heap (kernels.ts) do everything else in a few calls: the candidate
// selection, the metric epilogue (with one JS pass over the attention), and the regime decision
// with the whole filter chain and the draw. Tokens, states and metrics equal the generic path's
// (tested).
import type { NamedAttrMap, NamedTensorMap, Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';
import type { Candidates } from '../../candidates';
import type { Metrics } from '../../metrics';
import { attentionSoftmax, foldFactor } from '../../metrics';
import { drawScalars, fullVocabularyMass } from '../../sample-tokens';
import type { SamplingStrategy, StepInputs, StepResult } from '../strategy';
import { CANDIDATES, DECIDE, DECIDE_DRAW, DRAW, METRIC_TABLE, registerWasmKernels } from './kernels';

const BLOCK = 16;

const run = (name: string, inputs: NamedTensorMap, attrs: object = {}): Tensor | Tensor[] =>
  tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as Tensor | Tensor[];

/** Average pooling over the height of an NHWC view, without tf.avgPool's extra Cast kernel. */
const avgPoolRows = (x: Tensor, shape: [number, number, number, number]): Tensor =>
  run('AvgPool', { x: tf.reshape(x, shape) }, {
    filterSize: [shape[1], 1], strides: [shape[1], 1], pad: 'valid', dimRoundingMode: undefined,
  }) as Tensor;

export function wasmStrategy(generic: SamplingStrategy): SamplingStrategy {
  registerWasmKernels();
  const { tuning } = generic;
  // Each candidate set's column 0 as [B, 1], which the candidates kernel writes for free.
  const tops = new WeakMap<Tensor, Tensor>();
  const strategy: SamplingStrategy = {
    ...generic,
    name: 'wasm',
    candidates: (clean, k) => {
      const [batch, vocab] = clean.shape;
      k = Math.min(k, vocab);
      const inputs: NamedTensorMap = { x: clean };
      // Block maxima by one SIMD max-pool: the JS selection then reads V/16 maxima and the kept
      // blocks' members instead of every logit.
      const blocks = vocab / BLOCK;
      if (Number.isInteger(blocks) && blocks >= 4 * k) {
        inputs.blockMax = tf.maxPool(tf.reshape(clean, [batch, BLOCK, 1, blocks]) as Tensor4D, [BLOCK, 1], [BLOCK, 1], 'valid');
      }
      const [values, indices, top] = run(CANDIDATES, inputs, { k }) as Tensor2D[];
      tops.set(values!, top!);
      return { values: values!, indices: indices! };
    },
    metricTable: (clean, cand, _rowIds, scores, keyMask) => {
      const [batch, vocab] = clean.shape;
      // Σ p·d and Σ p·d² (d = x − max) as XNNPACK products and one average pool each over a
      // folded [B, R, 1, V/R] view; the kernel adds up the V/R pooled means.
      const p = tf.softmax(clean);
      const kept = tops.get(cand.values);
      const top = kept && !kept.isDisposed ? kept : tf.slice(cand.values, [0, 0], [-1, 1]);
      const d = tf.sub(clean, top);
      const pd = tf.mul(p, d);
      const fold = foldFactor(vocab, tuning);
      const pool = (x: Tensor): Tensor => (fold === 1 ? x : avgPoolRows(x, [batch, fold, 1, vocab / fold]));
      const inputs: NamedTensorMap = {
        p, candidates: cand.values, candidateIds: cand.indices, pd: pool(pd), pdd: pool(tf.mul(pd, d)),
      };
      const heads = scores?.shape[1] ?? 0;
      if (scores) { // none: the kernel writes 0 attention columns and NaN attention metrics
        const attention = attentionSoftmax(scores, keyMask, tuning);
        const keys = attention.p.shape[1];
        inputs.attnClean = attention.clean;
        inputs.attnP = attention.p;
        inputs.meanP = avgPoolRows(attention.p, [batch, heads, 1, keys]);
      }
      const [table, entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength] = run(
        METRIC_TABLE, inputs, { heads, fold }) as Tensor[];
      const metrics = { entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength } as Metrics;
      return { table: table as Tensor2D, metrics };
    },
    decideRegimes: (table, metrics) => {
      const { lower, upper, weights, lo, hi } = table;
      const [states, temperature, topK, topP, minP, samples, clarify] = run(
        DECIDE, { metrics }, { table: { lower, upper, weights, lo, hi } }) as Tensor2D[];
      return {
        states: states as unknown as Tensor1D,
        temperature: temperature!, topK: topK!, topP: topP!, minP: minP!, samples: samples!, clarify: clarify!,
      };
    },
    drawTokens: (inputs, plan) => {
      const { clean, cand, noise } = inputs;
      const ins: NamedTensorMap = { values: cand.values, indices: cand.indices, noise };
      const attrs: Record<string, number | boolean> = {};
      for (const name of ['temperature', 'topK', 'topP', 'minP'] as const) {
        const v = plan[name];
        if (typeof v === 'number') attrs[name] = v;
        else ins[name] = v;
      }
      if (plan.samplesPerRow) ins.samples = plan.samplesPerRow;
      const topPOn = typeof plan.topP !== 'number' || plan.topP < 1;
      attrs.topPOn = topPOn;
      const argmaxOnly = typeof plan.temperature === 'number' && plan.temperature <= 0;
      const topKOffSomewhere = typeof plan.topK === 'number' ? plan.topK <= 0 : plan.topKMayBeOff;
      if (topPOn && !argmaxOnly && topKOffSomewhere) {
        const { invT, minP } = drawScalars(plan);
        ins.fullMass = fullVocabularyMass(clean, tf.slice(cand.values, [0, 0], [-1, 1]), invT, minP);
      }
      if (plan.clarify) {
        ins.clarify = plan.clarify.clarify;
        if (plan.clarify.lastTokens) ins.lastTokens = plan.clarify.lastTokens;
        attrs.clarifyingId = plan.clarify.id;
      }
      return run(DRAW, ins, attrs) as Tensor1D;
    },
    /**
     * EntropixSampler.sample: the pieces above, with the decision and the draw in one kernel that
     * makes each row's noise itself. A table whose top-k may be off needs the full-vocabulary
     * mass between the two (tf ops): it takes the pieces (null).
     */
    sampleStep: (step: StepInputs): StepResult | null => {
      const { logits, scores, keyMask, lastTokens, seed, table, k, clarifyingTokenId } = step;
      if (table.topKMayBeOff) return null;
      const clean = strategy.sanitize(logits);
      const cand: Candidates = strategy.candidates(clean, k);
      const { table: metricRows, metrics } = strategy.metricTable(clean, cand, null as unknown as Tensor2D, scores, keyMask);
      const inputs: NamedTensorMap = { metrics: metricRows, values: cand.values, indices: cand.indices };
      const clarifies = table.clarifies && clarifyingTokenId !== null;
      if (clarifies && lastTokens) inputs.lastTokens = lastTokens;
      const { lower, upper, weights, lo, hi } = table;
      const [tokens, states] = run(DECIDE_DRAW, inputs, {
        table: { lower, upper, weights, lo, hi }, seed, samples: table.adaptiveSamples,
        clarifyingId: clarifies ? clarifyingTokenId : -1,
      }) as Tensor1D[];
      return { tokens: tokens!, states: states!, metrics };
    },
  };
  return strategy;
}
