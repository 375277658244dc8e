// EntropixSampler: metrics → regimes → sampleTokens (sample-tokens.ts), one fixed sequence of tf ops per step.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { resolveSamplerConfig, SamplerConfig } from './config';
import { EntropixError } from '../core/errors';
import { topCandidates } from './candidates';
import { drawTokens } from './sample-tokens';
import { rowIdColumn } from './row-index';
import { Metrics, metricTable, validateMetricInputs } from './metrics';
import { compileRegimes, decideRegimes, RegimeTable } from './regimes';
import { gumbelNoise, randomSeed, Seed, validateSeed } from './rng';
import { REAL_THRESHOLD, sanitizeScores } from './special-values';
import { requireDim, requireTensor } from '../core/validate';

export interface SampleStepOptions {
  /** int32 [B]: each row's previous token (treading emits the clarifying token only once in a row). */
  lastTokens?: Tensor1D;
  /** [B, T]: 1 marks a real key in attentionScores. */
  keyMask?: Tensor2D;
  /** One seed, or one per row; omitted: a random one. */
  seed?: Seed;
}

export type SampleResult = {
  tokens: Tensor1D; // int32 [B], −1 for a row with no usable logit
  states: Tensor1D; // int32 [B], SamplerState
  metrics: Metrics;
};

export class EntropixSampler {
  readonly config: Readonly<SamplerConfig>;
  private readonly table: RegimeTable;

  constructor(config: Partial<SamplerConfig> = {}) {
    this.config = Object.freeze(resolveSamplerConfig(config));
    this.table = compileRegimes(this.config);
  }

  /**
   * One Entropix step for a batch: logits [B, V] float32, the last layer's attention scores
   * [B, H, T] or [B, H, Q, T] (pre-softmax q·k/√d; the last query row is used). Every row gets its
   * own regime. The caller owns every returned tensor (`tf.dispose(result)`).
   */
  sample(logits: Tensor2D, attentionScores: Tensor, options: SampleStepOptions = {}): SampleResult {
    if (typeof options !== 'object' || options === null) {
      throw new EntropixError('INVALID_ARGUMENT', 'options must be an object', 'options');
    }
    const batch = validateMetricInputs(logits, attentionScores, options.keyMask);
    const { lastTokens } = options;
    if (lastTokens !== undefined && lastTokens !== null) {
      requireTensor(lastTokens, 'options.lastTokens', [1], ['int32']);
      requireDim(lastTokens, 'options.lastTokens', 0, batch, 'the batch size of logits');
    }
    const seed = validateSeed(options.seed ?? randomSeed(), batch, 'options.seed');
    const regimes = this.table;
    const k = Math.min(this.config.candidateCap, logits.shape[1]);
    const clarifyingId = this.config.clarifyingTokenId;
    if (clarifyingId !== null && clarifyingId >= logits.shape[1]) {
      throw new EntropixError('INVALID_ARGUMENT',
        `config.clarifyingTokenId ${clarifyingId} is not a token id of these logits (vocabulary ${logits.shape[1]})`, 'config.clarifyingTokenId');
    }

    return tf.tidy(() => {
      const clean = sanitizeScores(logits);
      const cand = topCandidates(clean, k);
      const top = tf.slice(cand.values, [0, 0], [-1, 1]) as Tensor2D;
      const rowIds = rowIdColumn(batch);
      const { table, metrics } = metricTable(
        clean, top, tf.slice(cand.indices, [0, 0], [-1, 1]) as Tensor2D, rowIds, attentionScores, options.keyMask);
      const d = decideRegimes(regimes, table);
      const samples = regimes.adaptiveSamples;
      let tokens = drawTokens({
        clean, cand, top,
        rowIds,
        real: tf.reshape(tf.greater(top, REAL_THRESHOLD), [batch]),
        noise: tf.tensor3d(gumbelNoise(seed, batch, samples, k), [batch, samples, k]),
      }, {
        temperature: d.temperature,
        topK: d.topK,
        topP: d.topP,
        minP: d.minP,
        samplesPerRow: samples > 1 ? d.samples : undefined,
        topKMayBeOff: regimes.topKMayBeOff,
      });
      if (regimes.clarifies && clarifyingId !== null) {
        let emit = tf.reshape(tf.greater(d.clarify, 0.5), [batch]);
        if (lastTokens) emit = tf.logicalAnd(emit, tf.notEqual(lastTokens, clarifyingId));
        tokens = tf.where(emit, tf.fill([batch], clarifyingId, 'int32'), tokens) as Tensor1D;
      }
      const result: SampleResult = { tokens, states: tf.cast(d.states, 'int32') as Tensor1D, metrics };
      return result;
    });
  }
}
