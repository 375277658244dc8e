// The decoder loop: prefill once, then one token per step with the KV cache. Sampled ids go back
// into the model as a tensor; the only read per step is one asynchronous read of a small [B, 9]
// table (token, state, log-probability, six metrics), started before the next step is queued so
// the two overlap where the backend runs asynchronously. Any LanguageModel will do: one with no
// cache is given the whole sequence each step, one with no attention scores is sampled from its
// logits alone.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { EntropixSampler } from '../sampling/sampler';
import { computeMetrics, Metrics } from '../sampling/metrics';
import { sampleTokens, SamplingParams } from '../sampling/sample-tokens';
import { SamplerState } from '../sampling/regimes';
import { randomSeed, Seed, stepSeed, validateSeed } from '../sampling/rng';
import { samplingStrategy } from '../sampling/backends/strategy';
import { describe, requireDim, requireNumber, requireTensor } from '../core/validate';
import type { KVCache, LanguageModel } from '../models/causal-lm';
import { attendedKeys } from './attended-keys';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Default: an EntropixSampler with the model's generationDefaults.sampler. */
  sampler?: EntropixSampler | SamplingParams | 'greedy';
  /** One seed, or one per row; omitted: random. Row i's draws depend only on its own seed. */
  seed?: Seed;
  /** For every row, added to the model's eos ids. */
  stopTokenIds?: number[];
  /** Aborting rejects the iteration with EntropixError 'ABORTED' and releases every tensor. */
  signal?: AbortSignal;
}

export type FinishReason = null | 'stop' | 'length' | 'invalid';

export interface GenerateStep {
  /** −1 for a row that finished at an earlier step (or had no usable logit: 'invalid'). */
  tokenIds: number[];
  /** SamplerState per row (Base for plain sampling and greedy). */
  states: SamplerState[];
  /** log p(token) under the raw logits (temperature 1); NaN for −1. */
  logprobs: number[];
  metrics: {
    entropy: number[]; varentropy: number[]; attnEntropy: number[];
    attnVarentropy: number[]; agreement: number[]; interactionStrength: number[];
  };
  /** True from the step that emitted the stop token (included) on. */
  done: boolean[];
  /** Why the row finished at this step or earlier; null while it runs. 'length': maxNewTokens or the context. */
  finishReason: FinishReason[];
}

const METRIC_KEYS = ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'] as const;
const COLUMNS = 3 + METRIC_KEYS.length; // token, state, logprob, metrics

type StepSampler = (logits: Tensor2D, scores: Tensor | null, keyMask: Tensor2D, lastTokens: Tensor1D, seed: Seed) =>
  { tokens: Tensor1D; states: Tensor1D; metrics: Metrics };

function stepSampler(model: LanguageModel, choice: GenerateOptions['sampler']): StepSampler {
  if (choice === 'greedy' || (choice !== undefined && !(choice instanceof EntropixSampler))) {
    const params: SamplingParams = choice === 'greedy' ? { temperature: 0 } : choice;
    return (logits, scores, keyMask, _last, seed) => {
      const tokens = sampleTokens(logits, params, seed);
      const metrics = computeMetrics(logits, scores, scores ? { keyMask } : {});
      return { tokens, states: tf.fill([logits.shape[0]], SamplerState.Base, 'int32') as Tensor1D, metrics };
    };
  }
  const sampler = choice ?? new EntropixSampler(model.generationDefaults?.sampler ?? {});
  return (logits, scores, keyMask, lastTokens, seed) =>
    sampler.sample(logits, scores, { keyMask: scores ? keyMask : undefined, lastTokens, seed });
}

function validate(model: LanguageModel, promptIds: unknown, options: unknown): { prompts: number[][]; options: GenerateOptions } {
  if (typeof model !== 'object' || model === null || typeof (model as LanguageModel).forward !== 'function') {
    throw new EntropixError('INVALID_ARGUMENT', `model must be a LanguageModel (with a forward), got ${describe(model)}`, 'model');
  }
  if (typeof model.config !== 'object' || model.config === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'model.config must be an object with vocabSize and maxPositions', 'model.config');
  }
  requireNumber(model.config.vocabSize, 'model.config.vocabSize', { min: 1, integer: true });
  requireNumber(model.config.maxPositions, 'model.config.maxPositions', { min: 1, integer: true });
  if (typeof options !== 'object' || options === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'options must be an object with maxNewTokens', 'options');
  }
  const o = options as GenerateOptions;
  requireNumber(o.maxNewTokens, 'options.maxNewTokens', { min: 1, integer: true });
  const { vocabSize, maxPositions } = model.config;
  if (!Array.isArray(promptIds) || promptIds.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', 'promptIds must be a non-empty array of token id arrays', 'promptIds');
  }
  promptIds.forEach((row: unknown, i) => {
    const where = `promptIds[${i}]`;
    if (!Array.isArray(row) || row.length === 0) {
      throw new EntropixError('INVALID_ARGUMENT', `${where} is empty: every prompt needs at least one token`, where);
    }
    if (row.length > maxPositions) {
      throw new EntropixError('INVALID_ARGUMENT',
        `${where} has ${row.length} tokens, longer than the model's context of ${maxPositions}`, where);
    }
    row.forEach((id: unknown, j) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new EntropixError('INVALID_ARGUMENT',
          `${where}[${j}] = ${describe(id)} is not a token id of this model (integers in [0, ${vocabSize}))`, where);
      }
    });
  });
  if (o.stopTokenIds !== undefined) {
    if (!Array.isArray(o.stopTokenIds) || o.stopTokenIds.some((id) => !Number.isInteger(id))) {
      throw new EntropixError('INVALID_ARGUMENT', 'options.stopTokenIds must be an array of integers', 'options.stopTokenIds');
    }
  }
  if (o.seed !== undefined) validateSeed(o.seed, promptIds.length, 'options.seed');
  const s = o.sampler;
  if (s !== undefined && s !== 'greedy' && !(s instanceof EntropixSampler) && (typeof s !== 'object' || s === null)) {
    throw new EntropixError('INVALID_ARGUMENT',
      `options.sampler must be an EntropixSampler, sampling parameters or 'greedy', got ${describe(s)}`, 'options.sampler');
  }
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && 'aborted' in o.signal)) {
    throw new EntropixError('INVALID_ARGUMENT', 'options.signal must be an AbortSignal', 'options.signal');
  }
  // The sampler meets the model here: its clarifying token must be one of the model's, like the eos ids.
  const clarifying = s instanceof EntropixSampler ? s.config.clarifyingTokenId
    : s === undefined ? model.generationDefaults?.sampler?.clarifyingTokenId ?? null : null;
  if (clarifying !== null && clarifying !== undefined && !(Number.isInteger(clarifying) && clarifying >= 0 && clarifying < vocabSize)) {
    throw new EntropixError('INVALID_ARGUMENT',
      `the sampler's clarifyingTokenId ${clarifying} is not a token id of this model (integers in [0, ${vocabSize}))`, 'options.sampler');
  }
  return { prompts: promptIds as number[][], options: o };
}

function aborted(): EntropixError {
  return new EntropixError('ABORTED', 'generation was aborted', 'options.signal');
}

/** Left-pads the prompts into ids [B, P] (pad id 0, masked out) and the attention mask [B, P]. */
function leftPad(prompts: number[][]): { ids: Tensor2D; mask: Tensor2D } {
  const width = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(prompts.length * width);
  const mask = new Float32Array(prompts.length * width);
  prompts.forEach((p, row) => {
    const offset = row * width + width - p.length;
    ids.set(p, offset);
    mask.fill(1, offset, offset + p.length);
  });
  return { ids: tf.tensor2d(ids, [prompts.length, width], 'int32'), mask: tf.tensor2d(mask, [prompts.length, width]) };
}

/**
 * Generates up to maxNewTokens per row. Prompts of different lengths run as one left-padded
 * batch; every row gets its own regime each step. Validation happens on the first `next()`;
 * breaking out of the loop, an abort or an error releases every tensor.
 */
export async function* generate(
  model: LanguageModel, promptIds: number[][], options: GenerateOptions,
): AsyncGenerator<GenerateStep, void, undefined> {
  const { prompts, options: o } = validate(model, promptIds, options);
  if (o.signal?.aborted) throw aborted();
  const batch = prompts.length;
  const sample = stepSampler(model, o.sampler);
  const stop = new Set([...(model.generationDefaults?.eosTokenIds ?? []), ...(o.stopTokenIds ?? [])]);
  const seed = o.seed ?? randomSeed();
  const width = Math.max(...prompts.map((p) => p.length));
  // Token n (1-based) needs a forward over width + n − 1 positions.
  const limit = Math.min(o.maxNewTokens, model.config.maxPositions - width + 1);

  let cache: KVCache | null = null;
  let sequence: Tensor2D | null = null; // every position so far, kept only for a model with no cache
  let mask: Tensor2D | null = null;
  let fed: Tensor2D | null = null; // the tokens to feed next, int32 [B, 1]
  let pending: Tensor2D | null = null; // the step table being read
  const done = new Array<boolean>(batch).fill(false);
  const reasons = new Array<FinishReason>(batch).fill(null);
  try {
    // Step n: forward the previous tokens (prefill for n = 1), sample, and queue the table read.
    const runStep = (n: number): void => {
      const first = n === 1 ? leftPad(prompts) : null;
      // A model without a cache re-runs the whole sequence.
      const ids = first ? first.ids : sequence ? tf.concat([sequence, fed!], 1) as Tensor2D : fed!;
      const nextMask = first ? first.mask : tf.tidy(() => tf.concat([mask!, tf.ones([batch, 1])], 1) as Tensor2D);
      let out: { table: Tensor2D; fed: Tensor2D };
      try {
        const result = model.forward(ids, cache, { attentionMask: nextMask });
        cache = result.cache ?? null; // forward took over the previous cache
        try {
          out = tf.tidy(() => {
            checkLogits(result.logits, batch, model.config.vocabSize);
            const last = tf.reshape(tf.slice(ids, [0, ids.shape[1] - 1], [-1, 1]), [batch]) as Tensor1D;
            const keyMask = attendedKeys(nextMask, model.config);
            const s = sample(result.logits, result.attentionScores ?? null, keyMask, last, stepSeed(seed, n));
            const columns = [s.tokens, s.states, tokenLogprobs(result.logits, s.tokens), ...METRIC_KEYS.map((k) => s.metrics[k])];
            const table = tf.stack(columns.map((c) => tf.cast(c, 'float32')), 1) as Tensor2D;
            return { table, fed: tf.reshape(s.tokens, [batch, 1]) as Tensor2D };
          });
        } finally {
          tf.dispose([result.logits, result.attentionScores ?? []]);
        }
      } catch (e) {
        tf.dispose(first ? [first.ids, first.mask] : nextMask);
        if (!first && ids !== fed) ids.dispose();
        throw e;
      }
      if (ids !== fed) release(fed);
      if (cache) release(ids, sequence);
      else if (ids !== sequence) release(sequence);
      sequence = cache ? null : ids;
      release(mask);
      mask = nextMask;
      fed = out.fed;
      pending = out.table;
    };

    runStep(1);
    for (let n = 1; n <= limit; n++) {
      const table = pending!;
      pending = null;
      let values: Float32Array;
      try {
        const read = table.data() as Promise<Float32Array>;
        // Queue the next step before waiting for this one's values (unless it will not be needed).
        if (n < limit && done.some((d) => !d) && !o.signal?.aborted) runStep(n + 1);
        values = await read;
      } finally {
        table.dispose();
      }
      if (o.signal?.aborted) throw aborted();
      const step = decodeTable(values, batch, done, reasons, stop, n === limit ? 'length' : null);
      yield step;
      // On cpu/wasm data() resolves at once, so without this the loop would never let timers,
      // I/O or signals run: an abort from a button, a timeout or Ctrl-C could not arrive.
      await nextMacrotask();
      if (o.signal?.aborted) throw aborted();
      if (done.every((d) => d)) return;
    }
  } finally {
    release(mask, fed, pending, sequence);
    (cache as KVCache | null)?.dispose();
  }
}

/** Resolves after the event loop has had a turn (setImmediate in Node, a message in browsers). */
function nextMacrotask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void; MessageChannel?: typeof MessageChannel };
  if (g.setImmediate) return new Promise((resolve) => g.setImmediate!(resolve));
  if (g.MessageChannel) {
    return new Promise((resolve) => {
      const channel = new g.MessageChannel!();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function release(...tensors: (Tensor | null)[]): void {
  for (const t of tensors) t?.dispose();
}

/** A model's logits must be float32 [B, V] (the sampler checks the rank and dtype, not B and V). */
function checkLogits(logits: unknown, batch: number, vocab: number): void {
  const x = requireTensor(logits, 'the model\'s logits', [2], ['float32']);
  requireDim(x, 'the model\'s logits', 0, batch, 'the number of prompts');
  requireDim(x, 'the model\'s logits', 1, vocab, 'model.config.vocabSize');
}

/** log softmax(logits)[token] per row; NaN where the token is −1. */
function tokenLogprobs(logits: Tensor2D, tokens: Tensor1D): Tensor1D {
  const batch = logits.shape[0];
  const clean = samplingStrategy().sanitize(logits);
  const safe = tf.cast(tf.maximum(tokens, 0), 'int32');
  const picked = tf.gatherND(clean, tf.stack([tf.range(0, batch, 1, 'int32'), safe], 1));
  const lp = tf.sub(picked, tf.reshape(tf.logSumExp(clean, 1), [batch]));
  return tf.where(tf.less(tokens, 0), tf.fill([batch], NaN), lp) as Tensor1D;
}

function decodeTable(
  v: Float32Array, batch: number, done: boolean[], reasons: FinishReason[], stop: Set<number>, atLimit: FinishReason,
): GenerateStep {
  const step: GenerateStep = {
    tokenIds: [], states: [], logprobs: [], done: [], finishReason: [],
    metrics: { entropy: [], varentropy: [], attnEntropy: [], attnVarentropy: [], agreement: [], interactionStrength: [] },
  };
  for (let r = 0; r < batch; r++) {
    const at = r * COLUMNS;
    const wasDone = done[r]!;
    const token = wasDone ? -1 : v[at]!;
    if (!wasDone) {
      if (token < 0) reasons[r] = 'invalid';
      else if (stop.has(token)) reasons[r] = 'stop';
      else if (atLimit) reasons[r] = atLimit;
      done[r] = reasons[r] !== null;
    }
    step.tokenIds.push(token);
    // A row that finished earlier still runs in the batch; its values mean nothing and are not shown.
    step.states.push(wasDone ? SamplerState.Base : v[at + 1]!);
    step.logprobs.push(wasDone ? NaN : v[at + 2]!);
    METRIC_KEYS.forEach((k, i) => step.metrics[k].push(wasDone ? NaN : v[at + 3 + i]!));
    step.done.push(done[r]!);
    step.finishReason.push(reasons[r]!);
  }
  return step;
}
