#!/usr/bin/env node
// The `entropix` command line: generate (stream Entropix-sampled text from a converted model)
// convert (a Hugging Face checkpoint to a TF.js graph model) and calibrate (a model's regime
// thresholds from held-out text).
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_NAMES } from '../core/backend';
import { EntropixError } from '../core/errors';
import { parseQuantiles, runCalibrate, DEFAULT_QUANTILES_FLAG } from './calibrate-command';
import { runConvert } from './convert-command';
import { DEFAULT_MODEL_DIR, runGenerate, SAMPLER_CHOICES } from './generate-command';
import { silenceCpuBanner } from './tfjs-banner';

/** Options that take one value each: given twice, or with a value that is not a number, is a usage error. */
const SINGLE_VALUED = ['model', 'backend', 'max-new-tokens', 'seed', 'sampler', 'temperature', 'top-k', 'top-p', 'min-p', 'trace', 'plot', 'dtype',
  'corpus', 'quantiles', 'max-tokens', 'window', 'batch'];
const NUMERIC = ['max-new-tokens', 'seed', 'temperature', 'top-k', 'top-p', 'min-p', 'max-tokens', 'window', 'batch'];

/** A mistake in the command line itself: exit 2, before any output. */
class UsageError extends Error {}

/** Refuses a usage problem yargs does not see itself (UsageError); true otherwise. */
export function checkUsage(a: Record<string, unknown>): true {
  for (const name of SINGLE_VALUED) {
    if (Array.isArray(a[name])) throw new UsageError(`--${name} was given more than once (${(a[name] as unknown[]).join(', ')})`);
  }
  for (const name of NUMERIC) {
    const v = a[name];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new UsageError(`--${name} must be a number`);
  }
  return true;
}

/** One line for the user; the stack only with --verbose. Exit code 1 (2 for usage errors). */
function fail(error: unknown, verbose: boolean): never {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  const kind = error instanceof EntropixError ? '' : ' (unexpected)';
  process.stderr.write(`entropix: error${kind}: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose');
  silenceCpuBanner();
  try {
    await yargs(argv)
      .scriptName('entropix')
      .command('generate', 'stream Entropix-sampled text from a converted model', (y) => y
        .option('prompt', { requiresArg: true, type: 'string', array: true, demandOption: true, describe: 'prompt text (repeat for a batch)' })
        .option('model', { requiresArg: true, type: 'string', default: DEFAULT_MODEL_DIR, describe: 'converted model directory' })
        .option('backend', { requiresArg: true, choices: BACKEND_NAMES, default: 'wasm' as const, describe: 'TF.js backend' })
        .option('max-new-tokens', { requiresArg: true, type: 'number', default: 200, describe: 'tokens to generate per prompt' })
        .option('seed', { requiresArg: true, type: 'number', describe: 'random seed (default: random)' })
        .option('sampler', { requiresArg: true, choices: SAMPLER_CHOICES, default: 'entropix' as const })
        .option('temperature', { requiresArg: true, type: 'number', describe: 'base temperature (plain) / T0 (entropix)' })
        .option('top-k', { requiresArg: true, type: 'number', describe: 'base top-k; 0: off' })
        .option('top-p', { requiresArg: true, type: 'number', describe: 'base top-p; 1: off' })
        .option('min-p', { requiresArg: true, type: 'number', describe: 'base min-p; 0: off' })
        .option('chat', { type: 'boolean', default: false, describe: "format the prompt with the model's chat template" })
        .option('trace', { requiresArg: true, type: 'string', describe: 'write per-token ids, text, regime and metrics (JSON)' })
        .option('plot', { requiresArg: true, type: 'string', describe: 'draw the entropy/varentropy plane with each token (SVG)' })
        .option('color', { type: 'boolean', default: false, describe: 'colour streamed tokens by regime' })
        .option('quiet', { type: 'boolean', default: false, describe: 'no summary on stderr' })
        .check(checkUsage),
      async (a) => { process.exitCode = await runGenerate({
        prompts: a.prompt, model: a.model, backend: a.backend, maxNewTokens: a['max-new-tokens'], seed: a.seed,
        sampler: a.sampler, temperature: a.temperature, topK: a['top-k'], topP: a['top-p'], minP: a['min-p'],
        chat: a.chat, trace: a.trace, plot: a.plot, color: a.color, quiet: a.quiet, verbose: a.verbose as boolean,
      }); })
      .command('convert <source> <out>', 'convert a Hugging Face Llama-family or GPT-2 checkpoint to a TF.js graph model', (y) => y
        .positional('source', { type: 'string', demandOption: true, describe: 'Hugging Face model directory' })
        .positional('out', { type: 'string', demandOption: true, describe: 'output directory (must not exist or be empty)' })
        .option('dtype', { requiresArg: true, choices: ['float32', 'float16'] as const, default: 'float32' as const })
        .check(checkUsage),
      async (a) => { process.exitCode = await runConvert({ source: a.source!, out: a.out!, dtype: a.dtype }); })
      .command('calibrate <model>', "set a model's regime thresholds from quantiles of its metrics on held-out text", (y) => y
        .positional('model', { type: 'string', demandOption: true, describe: 'converted model or Hugging Face checkpoint directory' })
        .option('corpus', { requiresArg: true, type: 'string', demandOption: true, describe: 'held-out text (UTF-8)' })
        .option('quantiles', { requiresArg: true, type: 'string', default: DEFAULT_QUANTILES_FLAG, describe: 'percentiles for the low, medium and high thresholds' })
        .option('max-tokens', { requiresArg: true, type: 'number', describe: 'corpus tokens to use, in windows spread over it (default: all)' })
        .option('window', { requiresArg: true, type: 'number', describe: "tokens per window (default: the model's context, at most 256)" })
        .option('batch', { requiresArg: true, type: 'number', default: 16, describe: 'windows run side by side' })
        .option('backend', { requiresArg: true, choices: BACKEND_NAMES, default: 'wasm' as const, describe: 'TF.js backend' })
        .option('write', { type: 'boolean', default: false, describe: "write the thresholds into the model's entropix.json" })
        .option('plot', { requiresArg: true, type: 'string', describe: 'draw the corpus on the entropy/varentropy plane (SVG)' })
        .check((a) => {
          checkUsage(a);
          const q = parseQuantiles(a.quantiles);
          if (typeof q === 'string') throw new UsageError(q);
          return true;
        }),
      async (a) => { process.exitCode = await runCalibrate({
        model: a.model!, corpus: a.corpus, quantiles: a.quantiles,
        maxTokens: a['max-tokens'], window: a.window, batch: a.batch, write: a.write, plot: a.plot, backend: a.backend, verbose: a.verbose as boolean,
      }); })
      .option('verbose', { type: 'boolean', default: false, describe: 'print the backend and GPU adapter, and stack traces' })
      .demandCommand(1, 'name a command: generate, convert or calibrate')
      .strict()
      .fail((message, error) => {
        // yargs' own errors (YError) and checkUsage's are usage errors; anything else is the command's.
        if (error && error.name !== 'YError' && !(error instanceof UsageError)) throw error;
        process.stderr.write(`entropix: ${message}\n(see entropix --help)\n`);
        process.exit(2);
      })
      .help()
      .parseAsync();
  } catch (error) {
    fail(error, verbose);
  }
}

if (require.main === module) void main(hideBin(process.argv));
