// EntropixSampler: metrics → regimes → sampleTokens (sample-tokens.ts), one fixed sequence of tf ops per step.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { resolveSamplerConfig, SamplerConfig } from './config';
import { EntropixError } from '../core/errors';
import { rowIdColumn } from './row-index';
import { Metrics, validateMetricInputs } from './metrics';
import { compileLogitsOnlyRegimes, compileRegimes, RegimeTable } from './regimes';
import { gumbelNoise, randomSeed, Seed, validateSeed } from './rng';
import { samplingStrategy } from './backends/strategy';
import { requireDim, requireTensor } from '../core/validate';

export interface SampleStepOptions {
  /** int32 [B]: each row's previous token (treading emits the clarifying token only once in a row). */
  lastTokens?: Tensor;
  /** [B, T]: 1 marks a real key in attentionScores. */
  keyMask?: Tensor;
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
  /** For logits without attention scores: the rules' constant parts, no gates (regimes.ts). */
  private readonly logitsOnlyTable: RegimeTable;

  constructor(config: Partial<SamplerConfig> = {}) {
    this.config = Object.freeze(resolveSamplerConfig(config));
    this.table = compileRegimes(this.config);
    this.logitsOnlyTable = compileLogitsOnlyRegimes(this.config);
  }

  /**
   * One Entropix step for a batch: logits [B, V] float32, the last layer's attention scores
   * [B, H, T] or [B, H, Q, T] (pre-softmax q·k/√d; the last query row is used). Every row gets its
   * own regime. The caller owns every returned tensor (`tf.dispose(result)`). Ranks are checked at
   * run time, so plain Tensors (as GraphModel.execute returns) need no cast. attentionScores null
   * or undefined: logits only (attention metrics NaN, gates off, each rule's constant part).
   */
  sample(logits: Tensor, attentionScores: Tensor | null | undefined, options: SampleStepOptions = {}): SampleResult {
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
    const scores = attentionScores ?? null;
    const regimes = scores ? this.table : this.logitsOnlyTable;
    const k = Math.min(this.config.candidateCap, logits.shape[1]!);
    const clarifyingId = this.config.clarifyingTokenId;
    if (clarifyingId !== null && clarifyingId >= logits.shape[1]!) {
      throw new EntropixError('INVALID_ARGUMENT',
        `config.clarifyingTokenId ${clarifyingId} is not a token id of these logits (vocabulary ${logits.shape[1]})`, 'config.clarifyingTokenId');
    }

    const strategy = samplingStrategy();
    return tf.tidy(() => {
      const fused = strategy.sampleStep?.({
        logits: logits as Tensor2D, scores, keyMask: options.keyMask as Tensor2D | undefined,
        lastTokens: (lastTokens ?? undefined) as Tensor1D | undefined, seed,
        table: regimes, k, clarifyingTokenId: clarifyingId,
      });
      if (fused) return fused;
      const clean = strategy.sanitize(logits as Tensor2D);
      const cand = strategy.candidates(clean, k);
      const rowIds = rowIdColumn(batch);
      const { table, metrics } = strategy.metricTable(clean, cand, rowIds, scores, options.keyMask as Tensor2D | undefined);
      const d = strategy.decideRegimes(regimes, table);
      const samples = regimes.adaptiveSamples;
      const tokens = strategy.drawTokens({
        clean, cand,
        rowIds,
        noise: tf.tensor3d(gumbelNoise(seed, batch, samples, k), [batch, samples, k]),
      }, {
        temperature: d.temperature,
        topK: d.topK,
        topP: d.topP,
        minP: d.minP,
        samplesPerRow: samples > 1 ? d.samples : undefined,
        topKMayBeOff: regimes.topKMayBeOff,
        clarify: regimes.clarifies && clarifyingId !== null
          ? { clarify: d.clarify, id: clarifyingId, lastTokens: (lastTokens ?? undefined) as Tensor1D | undefined }
          : undefined,
      });
      const result: SampleResult = { tokens, states: d.states, metrics }; // states: int32 on every strategy
      return result;
    });
  }
}
