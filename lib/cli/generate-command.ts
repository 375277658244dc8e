// `entropix generate`: loads a converted model and its tokenizer, streams Entropix-sampled text,
// and optionally writes a per-token trace (JSON) and the entropy/varentropy plot (SVG).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendName, describeBackend, useBackend } from '../core/backend';
import { resolveSamplerConfig } from '../sampling/config';
import { EntropixError } from '../core/errors';
import { generateText } from '../decoding/generate-text';
import type { GenerateOptions } from '../decoding/generate';
import { loadModel } from '../models/graph-model';
import { EntropixSampler } from '../sampling/sampler';
import { applyChatTemplate, loadTokenizer } from '../text/tokenizer-files';
import { colorize, colorLegend } from './colors';
import { plotSvg } from './plot';
import { regimeCounts, regimeName, Trace, TraceToken, traceToJson } from './trace';

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
  if (!fs.existsSync(dir)) throw new EntropixError('INVALID_ARGUMENT', `no model at ${dir}: the directory does not exist`, 'model');
  if (!fs.existsSync(path.join(dir, 'model.json'))) {
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

export async function runGenerate(a: GenerateArgs): Promise<void> {
  if (!Number.isInteger(a.maxNewTokens) || a.maxNewTokens <= 0) {
    throw new EntropixError('INVALID_ARGUMENT', `--max-new-tokens must be a positive integer, got ${a.maxNewTokens}`, 'max-new-tokens');
  }
  if (a.prompts.some((p) => p.length === 0)) throw new EntropixError('INVALID_ARGUMENT', '--prompt is empty', 'prompt');
  checkModelDir(a.model);
  await useBackend(a.backend);
  if (a.verbose) process.stderr.write(`${describeBackend()}\n`);
  const model = await loadModel(a.model);
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const tokenizer = await loadTokenizer(a.model);
    const config = resolveSamplerConfig({ ...model.generationDefaults.sampler, ...baseOverrides(a) });
    const sampler: GenerateOptions['sampler'] = a.sampler === 'entropix' ? new EntropixSampler(config)
      : a.sampler === 'greedy' ? 'greedy'
        : { temperature: config.temperature, topK: config.topK, topP: config.topP, minP: config.minP };
    const prompts = a.chat
      ? await Promise.all(a.prompts.map((p) => applyChatTemplate(a.model, [{ role: 'user', content: p }], { addGenerationPrompt: true })))
      : a.prompts;
    const seed = a.seed ?? Math.floor(Math.random() * 2 ** 31);
    const stream = prompts.length === 1;
    const out = process.stdout;
    if (stream) out.write(a.prompts[0]!);
    const tokens: TraceToken[] = [];
    let texts: string[] = prompts.map(() => '');
    let finishReasons: (string | null)[] = prompts.map(() => null);
    const started = Date.now();
    let generated = 0;
    let stepIndex = 0;
    const finished = new Set<number>();
    for await (const { delta, text, step } of generateText(model, tokenizer, prompts, {
      maxNewTokens: a.maxNewTokens, sampler, seed, signal: controller.signal, contextOverflow: 'slide',
    })) {
      step.tokenIds.forEach((tokenId, row) => {
        if (finished.has(row)) return; // a row reports −1 after the step it finished at
        if (step.done[row]) finished.add(row);
        generated++;
        tokens.push({
          row, step: stepIndex, tokenId, text: delta[row]!, state: step.states[row]!,
          regime: regimeName(step.states[row]!), logprob: step.logprobs[row]!,
          entropy: step.metrics.entropy[row]!, varentropy: step.metrics.varentropy[row]!,
          attnEntropy: step.metrics.attnEntropy[row]!, attnVarentropy: step.metrics.attnVarentropy[row]!,
          agreement: step.metrics.agreement[row]!, interactionStrength: step.metrics.interactionStrength[row]!,
        });
      });
      if (stream && delta[0]) out.write(a.color ? colorize(delta[0], step.states[0]!) : delta[0]);
      texts = text;
      finishReasons = step.finishReason;
      stepIndex++;
    }
    const seconds = (Date.now() - started) / 1000;
    if (stream) out.write('\n');
    else texts.forEach((t, i) => out.write(`--- [${i}] ${a.prompts[i]}${t}\n`));
    const trace: Trace = {
      version: 1, model: a.model, backend: a.backend, sampler: a.sampler, seed,
      thresholds: a.sampler === 'entropix' ? {
        lowEntropy: config.lowEntropy, lowVarentropy: config.lowVarentropy, mediumEntropy: config.mediumEntropy,
        highEntropy: config.highEntropy, highVarentropy: config.highVarentropy,
      } : null,
      prompts, texts, finishReasons, tokens,
    };
    if (a.trace) fs.writeFileSync(a.trace, traceToJson(trace));
    if (a.plot) fs.writeFileSync(a.plot, plotSvg(trace, { title: `${path.basename(a.model)} · ${a.sampler} · seed ${seed}` }));
    if (!a.quiet) {
      const counts = Object.entries(regimeCounts(tokens)).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
      process.stderr.write(`${generated} tokens in ${seconds.toFixed(2)} s (${(generated / seconds).toFixed(1)} tokens/s, ${a.backend}); `
        + `seed ${seed}; regimes: ${counts}\n`);
      if (a.color) process.stderr.write(`${colorLegend()}\n`);
    }
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    model.dispose();
  }
}
