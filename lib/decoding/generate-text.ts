// generateText: prompts in, streamed text out, on top of generate() and a tokenizer.
import { EntropixError } from '../core/errors';
import { FinishReason, generate, GenerateOptions, GenerateStep } from './generate';
import { SamplerState } from '../sampling/regimes';
import { validateSeed } from '../sampling/rng';
import { createTextStream, EncodeOptions, Tokenizer } from '../text/tokenizer';
import { describe, requireNumber } from '../core/validate';
import type { LanguageModel } from '../models/causal-lm';

export interface GenerateTextOptions extends GenerateOptions {
  /**
   * What happens when a row reaches the model's context before maxNewTokens: 'stop' (default)
   * ends it with finishReason 'length'; 'slide' goes on from the last half-context of its tokens
   * (a new prefill, so the model forgets what slid out).
   */
  contextOverflow?: 'stop' | 'slide';
  /**
   * Add the tokenizer's special tokens (e.g. a BOS) to each prompt (default true). false for a
   * rendered chat template, which writes them itself, as transformers encodes chat prompts.
   */
  addSpecialTokens?: boolean;
}

export interface TextStep {
  /** The text each row added at this step ('' for a finished row; a multi-byte character waits for its last byte). */
  delta: string[];
  /** Each row's generated text so far. */
  text: string[];
  step: GenerateStep;
}

/** Encodes prompts, checking them against the tokenizer and the model's config (vocabSize, maxPositions); throws EntropixError. */
export function encodePrompts(model: Pick<LanguageModel, 'config'>, tokenizer: Tokenizer, prompt: unknown, options: EncodeOptions = {}): number[][] {
  requireModelConfig(model);
  const prompts = typeof prompt === 'string' ? [prompt] : prompt;
  if (!Array.isArray(prompts) || prompts.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', `prompt must be a string or a non-empty array of strings, got ${describe(prompt)}`, 'prompt');
  }
  const add = options?.addSpecialTokens;
  if (add !== undefined && typeof add !== 'boolean') {
    throw new EntropixError('INVALID_ARGUMENT', `options.addSpecialTokens must be true or false, got ${describe(add)}`, 'options.addSpecialTokens');
  }
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new EntropixError('INVALID_ARGUMENT',
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${model.config.vocabSize}: they do not belong together`, 'tokenizer');
  }
  return prompts.map((p: unknown, i) => {
    const where = prompts.length === 1 ? 'prompt' : `prompt[${i}]`;
    if (typeof p !== 'string') throw new EntropixError('INVALID_ARGUMENT', `${where} must be a string, got ${describe(p)}`, where);
    if (p.length === 0) throw new EntropixError('INVALID_ARGUMENT', `${where} is empty`, where);
    const ids = tokenizer.encode(p, { addSpecialTokens: add ?? true });
    if (ids.length > model.config.maxPositions) {
      throw new EntropixError('INVALID_ARGUMENT',
        `${where} is ${ids.length} tokens long, longer than the model's context of ${model.config.maxPositions}`, where);
    }
    return ids;
  });
}

/**
 * Streams the generated text of each prompt. The tokenizer's eos ids stop rows too. Each yielded
 * step carries the new text per row and all text so far, and the generate() step (over all rows).
 * `model` is any LanguageModel, as for generate(): one without a cache or attention scores will do.
 */
export async function* generateText(
  model: LanguageModel, tokenizer: Tokenizer, prompt: string | string[], options: GenerateTextOptions,
): AsyncGenerator<TextStep, void, undefined> {
  if (typeof options !== 'object' || options === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'options must be an object with maxNewTokens', 'options');
  }
  requireNumber(options.maxNewTokens, 'options.maxNewTokens', { min: 1, integer: true });
  if (typeof model !== 'object' || model === null || typeof (model as LanguageModel).forward !== 'function') {
    throw new EntropixError('INVALID_ARGUMENT', `model must be a LanguageModel (with a forward), got ${describe(model)}`, 'model');
  }
  const ids = encodePrompts(model, tokenizer, prompt, { addSpecialTokens: options.addSpecialTokens });
  const overflow = options?.contextOverflow ?? 'stop';
  if (overflow !== 'stop' && overflow !== 'slide') {
    throw new EntropixError('INVALID_ARGUMENT', `options.contextOverflow must be 'stop' or 'slide', got ${describe(overflow)}`, 'options.contextOverflow');
  }
  const batch = ids.length;
  const seeds = perRowSeeds(options?.seed, batch);
  const stopTokenIds = [...new Set([...(options?.stopTokenIds ?? []), ...tokenizer.eosTokenIds])];
  // The prompt's last tokens as context: decoders that drop a leading space keep the first one.
  const streams = ids.map((p) => createTextStream(tokenizer, p.slice(-4)));
  const text = ids.map(() => '');
  const reasons: FinishReason[] = ids.map(() => null);
  const keep = Math.max(1, Math.floor(model.config.maxPositions / 2));
  let produced = 0;
  for (let round = 0; produced < options.maxNewTokens; round++) {
    const rows = reasons.flatMap((r, i) => (r === null ? [i] : []));
    if (rows.length === 0) break;
    const prompts = rows.map((i) => (round === 0 ? ids[i]! : ids[i]!.slice(-keep)));
    const roundOptions: GenerateOptions = {
      ...options, maxNewTokens: options.maxNewTokens - produced, stopTokenIds,
      // The first round is plain generate() (all rows); later rounds give each row a seed of its own.
      seed: round === 0 ? options.seed : seeds && rows.map((i) => seeds[i]! + round * 1_000_003),
    };
    for await (const sub of generate(model, prompts, roundOptions)) {
      produced++;
      const step = widen(sub, rows, batch);
      const delta = step.tokenIds.map((id, row) => {
        const j = rows.indexOf(row);
        if (j < 0 || reasons[row] !== null) return '';
        if (id >= 0) ids[row]!.push(id);
        let added = id >= 0 ? streams[row]!.push([id]) : '';
        const reason = sub.finishReason[j]!;
        // A row that hit the context goes on in the next round when sliding and tokens remain.
        const slides = reason === 'length' && overflow === 'slide' && produced < options.maxNewTokens;
        if (reason !== null && !slides) {
          reasons[row] = reason;
          added += streams[row]!.flush();
        }
        text[row] += added;
        return added;
      });
      for (let r = 0; r < batch; r++) {
        step.done[r] = reasons[r] !== null;
        step.finishReason[r] = reasons[r]!;
      }
      yield { delta, text: [...text], step };
    }
    if (overflow === 'stop') break;
  }
}

/** The model's context and vocabulary are read before generate() would check them: check them here first. */
function requireModelConfig(model: unknown): void {
  const config: unknown = typeof model === 'object' && model !== null ? (model as LanguageModel).config : undefined;
  if (typeof config !== 'object' || config === null) {
    throw new EntropixError('INVALID_ARGUMENT', 'model.config must be an object with vocabSize and maxPositions', 'model.config');
  }
  const { vocabSize, maxPositions } = config as { vocabSize?: unknown; maxPositions?: unknown };
  requireNumber(vocabSize, 'model.config.vocabSize', { min: 1, integer: true });
  requireNumber(maxPositions, 'model.config.maxPositions', { min: 1, integer: true });
}

/** One seed per row for the rounds after the first (a number seed n gives row i n + i); undefined stays random. */
function perRowSeeds(seed: unknown, batch: number): number[] | undefined {
  if (seed === undefined) return undefined;
  const s = validateSeed(seed, batch, 'options.seed');
  return typeof s === 'number' ? Array.from({ length: batch }, (_, i) => s + i) : [...s];
}

/** A step over the rows of this round, spread back over the whole batch (other rows: −1, finished). */
function widen(sub: GenerateStep, rows: number[], batch: number): GenerateStep {
  const full = <T>(fill: T, pick: (j: number) => T): T[] =>
    Array.from({ length: batch }, (_, r) => (rows.includes(r) ? pick(rows.indexOf(r)) : fill));
  const metrics = {} as GenerateStep['metrics'];
  for (const key of Object.keys(sub.metrics) as (keyof GenerateStep['metrics'])[]) {
    metrics[key] = full(NaN, (j) => sub.metrics[key][j]!);
  }
  return {
    tokenIds: full(-1, (j) => sub.tokenIds[j]!), states: full<number>(SamplerState.Base, (j) => sub.states[j]!),
    logprobs: full(NaN, (j) => sub.logprobs[j]!), metrics,
    done: full(true, (j) => sub.done[j]!), finishReason: full<FinishReason>(null, (j) => sub.finishReason[j]!),
  };
}
