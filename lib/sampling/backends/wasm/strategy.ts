// The wasm strategy: XNNPACK does the passes over the vocabulary and the keys that it does fast
// (the clip, the softmaxes), and JS kernels on the wasm heap (kernels.ts) do everything else in a
// few calls: the candidate selection, the metric epilogue, the regime decision, and the whole
// filter chain with the draw. Tokens, states and metrics equal the generic path's (tested).
import type { NamedAttrMap, NamedTensorMap, Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';
import type { Metrics } from '../../metrics';
import { attentionSoftmax } from '../../metrics';
import { drawScalars, fullVocabularyMass } from '../../sample-tokens';
import type { SamplingStrategy } from '../strategy';
import { CANDIDATES, DECIDE, DRAW, METRIC_TABLE, registerWasmKernels } from './kernels';

const BLOCK = 16;

const run = (name: string, inputs: NamedTensorMap, attrs: object = {}): Tensor | Tensor[] =>
  tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as Tensor | Tensor[];

export function wasmStrategy(generic: SamplingStrategy): SamplingStrategy {
  registerWasmKernels();
  const { tuning } = generic;
  return {
    ...generic,
    name: 'wasm',
    candidates: (clean, k) => {
      const [batch, vocab] = clean.shape;
      k = Math.min(k, vocab);
      const inputs: NamedTensorMap = { x: clean };
      // Block maxima by one SIMD max-pool (as candidates.ts's two-stage search): the JS selection
      // then reads V/16 maxima and the kept blocks' members instead of every logit.
      const blocks = vocab / BLOCK;
      if (Number.isInteger(blocks) && blocks >= 4 * k) {
        inputs.blockMax = tf.maxPool(tf.reshape(clean, [batch, BLOCK, 1, blocks]) as Tensor4D, [BLOCK, 1], [BLOCK, 1], 'valid');
      }
      const [values, indices] = run(CANDIDATES, inputs, { k }) as Tensor2D[];
      return { values: values!, indices: indices! };
    },
    metricTable: (clean, cand, _rowIds, scores, keyMask) => {
      const inputs: NamedTensorMap = { clean, p: tf.softmax(clean), candidates: cand.values };
      if (scores) { // none: the kernel writes 0 attention columns and NaN attention metrics
        const attention = attentionSoftmax(scores, keyMask, tuning);
        inputs.attnClean = attention.clean;
        inputs.attnP = attention.p;
      }
      const [table, entropy, varentropy, attnEntropy, attnVarentropy, agreement, interactionStrength] = run(
        METRIC_TABLE, inputs, { heads: scores?.shape[1] ?? 0 }) as Tensor[];
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
  };
}
