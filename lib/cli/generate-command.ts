// `entropix generate`: loads a converted model and its tokenizer, streams Entropix-sampled text,
// and optionally writes a per-token trace (JSON) and the entropy/varentropy plot (SVG).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendName, describeBackend, useBackend } from '../core/backend';
import { resolveSamplerConfig } from '../sampling/config';
import { EntropixError } from '../core/errors';
import { encodePrompts, generateText } from '../decoding/generate-text';
import type { CausalLM } from '../models/causal-lm';
import type { SamplerConfig } from '../sampling/config';
import type { Tokenizer } from '../text/tokenizer';
import type { GenerateOptions } from '../decoding/generate';
import { loadModel } from '../models/load-dir';
import { EntropixSampler } from '../sampling/sampler';
import { applyChatTemplate, loadTokenizer } from '../text/tokenizer-files';
import { colorize, colorLegend } from './colors';
import { plotSvg } from './plot';
import { checkOutputs, OutputFile, writeFileAtomic } from './output-files';
import { TokenRecord } from './token-record';
import { startWatchdog, textBudgetSeconds } from './watchdog';
import { regimeName, Trace, traceToJson } from './trace';

/** The bundled model, next to dist/ in the package. */
export const DEFAULT_MODEL_DIR = path.join(__dirname, '..', '..', 'models', 'kjv-tiny');
export const SAMPLER_CHOICES = ['entropix', 'plain', 'greedy'] as const;

export interface GenerateArgs {
  prompts: string[];
  model: string;
  backend: BackendName;
  maxNewTokens: number;
  seed?: number;
  sampler: (typeof SAMPLER_CHOICES)[number];
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  chat: boolean;
  trace?: string;
  plot?: string;
  color: boolean;
  quiet: boolean;
  /** Print the backend and GPU adapter in use (stderr). */
  verbose?: boolean;
}

function checkModelDir(dir: string): void {
  const code = (file: string): string | undefined => {
    try {
      fs.statSync(file);
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EIO';
    }
  };
  const denied = (c: string | undefined) => c === 'EACCES' || c === 'EPERM';
  if (code(dir) === 'ENOENT') throw new EntropixError('INVALID_ARGUMENT', `no model at ${dir}: the directory does not exist`, 'model');
  if (denied(code(dir)) || denied(code(path.join(dir, 'model.json')))) {
    throw new EntropixError('INVALID_ARGUMENT', `cannot read the model at ${dir}: permission denied`, 'model');
  }
  if (code(path.join(dir, 'model.json')) !== undefined) {
    throw new EntropixError('INVALID_ARGUMENT', `${dir} has no model.json: convert a checkpoint with \`entropix convert\` first`, 'model');
  }
}

/** The base parameters given on the command line, for either sampler. */
function baseOverrides(a: GenerateArgs): { temperature?: number; topK?: number; topP?: number; minP?: number } {
  const o: { temperature?: number; topK?: number; topP?: number; minP?: number } = {};
  if (a.temperature !== undefined) o.temperature = a.temperature;
  if (a.topK !== undefined) o.topK = a.topK;
  if (a.topP !== undefined) o.topP = a.topP;
  if (a.minP !== undefined) o.minP = a.minP;
  return o;
}

/**
 * Runs one generation and returns the exit code: 0, or 130 when interrupted (Ctrl-C, SIGTERM):
 * then the text so far ends with a newline and the trace and plot asked for are written for the
 * tokens so far, marked as aborted. A reader that goes away (`| head`) stops it quietly (0).
 * Every check that needs no model runs before any output.
 */
export async function runGenerate(a: GenerateArgs): Promise<number> {
  if (!Number.isInteger(a.maxNewTokens) || a.maxNewTokens <= 0) {
    throw new EntropixError('INVALID_ARGUMENT', `--max-new-tokens must be a positive integer, got ${a.maxNewTokens}`, 'max-new-tokens');
  }
  if (a.prompts.some((p) => p.length === 0)) throw new EntropixError('INVALID_ARGUMENT', '--prompt is empty', 'prompt');
  checkModelDir(a.model);
  const outputs: OutputFile[] = [];
  if (a.trace !== undefined) outputs.push({ flag: 'trace', path: a.trace });
  if (a.plot !== undefined) outputs.push({ flag: 'plot', path: a.plot });
  const targets = checkOutputs(outputs, a.model);
  const tracePath = a.trace !== undefined ? targets[0] : undefined;
  const plotPath = a.plot !== undefined ? targets[outputs.length - 1] : undefined;
  await useBackend(a.backend);
  if (a.verbose) process.stderr.write(`${describeBackend()}\n`);
  const model = await loadModel(a.model);
  try {
    // Tokenizer, template and prompt encoding run before the SIGINT listener exists, so Ctrl-C
    // keeps its default meaning (end the process) while they run: they are synchronous, and a
    // listener could not run until they returned. A watchdog bounds their time.
    const watchdog = startWatchdog(textBudgetSeconds(),
      `entropix: error: the tokenizer or chat template of ${a.model} took longer than ${textBudgetSeconds()} s (ENTROPIX_TEXT_BUDGET_S)`);
    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare(a, model);
    } finally {
      await watchdog.stop();
    }
    const { tokenizer, config, sampler, prompts } = prepared;
    return await stream(a, model, tokenizer, prompts, sampler, config, tracePath, plotPath);
  } finally {
    model.dispose();
  }
}

/** The tokenizer, the sampler and the prompts as the model will see them (encoded once, to check them). */
async function prepare(a: GenerateArgs, model: CausalLM) {
  const tokenizer = await loadTokenizer(a.model);
  const config = resolveSamplerConfig({ ...model.generationDefaults.sampler, ...baseOverrides(a) });
  const sampler: GenerateOptions['sampler'] = a.sampler === 'entropix' ? new EntropixSampler(config)
    : a.sampler === 'greedy' ? 'greedy'
      : { temperature: config.temperature, topK: config.topK, topP: config.topP, minP: config.minP };
  const prompts = a.chat
    ? await Promise.all(a.prompts.map((p) => applyChatTemplate(a.model, [{ role: 'user', content: p }], { addGenerationPrompt: true })))
    : a.prompts;
  encodePrompts(model, tokenizer, prompts);
  return { tokenizer, config, sampler, prompts };
}

async function stream(
  a: GenerateArgs, model: CausalLM, tokenizer: Tokenizer, prompts: string[], sampler: GenerateOptions['sampler'],
  config: SamplerConfig, tracePath: string | undefined, plotPath: string | undefined,
): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  let readerGone = false;
  // The first signal stops the generation between steps; a second one ends the process at once.
  const onSignal = () => {
    interrupted = true;
    controller.abort();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  const onOutputError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    readerGone = true;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const out = process.stdout;
  out.on('error', onOutputError);
  const write = (text: string) => {
    if (!readerGone) out.write(text);
  };
  try {
    const seed = a.seed ?? Math.floor(Math.random() * 2 ** 31);
    const single = prompts.length === 1;
    if (single) write(a.prompts[0]!);
    const record = new TokenRecord(tracePath !== undefined || plotPath !== undefined);
    let texts: string[] = prompts.map(() => '');
    let finishReasons: (string | null)[] = prompts.map(() => null);
    const started = Date.now();
    let stepIndex = 0;
    const finished = new Set<number>();
    try {
      for await (const { delta, text, step } of generateText(model, tokenizer, prompts, {
        maxNewTokens: a.maxNewTokens, sampler, seed, signal: controller.signal, contextOverflow: 'slide',
        addSpecialTokens: !a.chat, // a rendered chat template writes its own BOS
      })) {
        step.tokenIds.forEach((tokenId, row) => {
          if (finished.has(row)) return; // a row reports −1 after the step it finished at
          if (step.done[row]) finished.add(row);
          record.add({
            row, step: stepIndex, tokenId, text: delta[row]!, state: step.states[row]!,
            regime: regimeName(step.states[row]!), logprob: step.logprobs[row]!,
            entropy: step.metrics.entropy[row]!, varentropy: step.metrics.varentropy[row]!,
            attnEntropy: step.metrics.attnEntropy[row]!, attnVarentropy: step.metrics.attnVarentropy[row]!,
            agreement: step.metrics.agreement[row]!, interactionStrength: step.metrics.interactionStrength[row]!,
          });
        });
        if (single && delta[0]) write(a.color ? colorize(delta[0], step.states[0]!) : delta[0]);
        texts = text;
        finishReasons = step.finishReason;
        stepIndex++;
      }
    } catch (e) {
      if (!(e instanceof EntropixError && e.code === 'ABORTED' && controller.signal.aborted)) throw e;
    }
    if (readerGone) return 0;
    const aborted = interrupted;
    const seconds = (Date.now() - started) / 1000;
    if (single) write('\n');
    else texts.forEach((t, i) => write(`--- [${i}] ${a.prompts[i]}${t}\n`));
    const trace: Trace = {
      version: 1, model: a.model, backend: a.backend, sampler: a.sampler, seed,
      thresholds: a.sampler === 'entropix' ? {
        lowEntropy: config.lowEntropy, lowVarentropy: config.lowVarentropy, mediumEntropy: config.mediumEntropy,
        highEntropy: config.highEntropy, highVarentropy: config.highVarentropy,
      } : null,
      prompts, texts, finishReasons, tokens: record.tokens,
      ...(aborted ? { aborted: true } : {}),
    };
    if (tracePath) writeFileAtomic(tracePath, traceToJson(trace), 'trace');
    if (plotPath) {
      const title = `${path.basename(a.model)} · ${a.sampler} · seed ${seed}${aborted ? ' · aborted' : ''}`;
      writeFileAtomic(plotPath, plotSvg(trace, { title }), 'plot');
    }
    const generated = record.generated;
    if (aborted) process.stderr.write(`entropix: interrupted after ${generated} tokens\n`);
    if (!a.quiet) {
      const counts = Object.entries(record.counts).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
      process.stderr.write(`${generated} tokens in ${seconds.toFixed(2)} s (${(generated / seconds).toFixed(1)} tokens/s, ${a.backend}); `
        + `seed ${seed}; regimes: ${counts}\n`);
      if (a.color) process.stderr.write(`${colorLegend()}\n`);
    }
    return aborted ? 130 : 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
