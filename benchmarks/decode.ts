// Decode benchmark: generated tokens per second on a converted model (the bundled one by default)
// for greedy, plain top-p and Entropix sampling, run alternately in one process per backend.
//
//   npm run bench:decode -- [--backends wasm,cpu] [--tokens N] [--rounds N] [--batch B] [--model dir]
//
// Target: Entropix ≥ 0.8 × greedy tokens/s on wasm. Every run decodes exactly --tokens tokens per
// row (eos does not stop it), from the same prompt, so the modes do the same model work. A model
// directory without tokenizer.json (a random checkpoint) gets a fixed prompt of token ids.
// runDecode() is the entry point benchmarks/bench.ts calls.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { EntropixSampler, loadModel, tf, useBackend } from '../lib/node';
import type { BackendName, CausalLM } from '../lib/node';
import { generate, GenerateOptions } from '../lib/decoding/generate';
import { loadTokenizer } from '../lib/text/tokenizer-files';
import { writeResults } from './record';

export const BUNDLED_MODEL = path.join(__dirname, '..', 'models', 'kjv-tiny');
const TARGET = { minRatio: 0.8, backend: 'wasm' };
const PROMPT = 'And it came to pass';
const PROMPT_IDS = 16; // the fixed prompt's length where there is no tokenizer

export type Mode = 'greedy' | 'plain top-p' | 'entropix';
export const MODES: Mode[] = ['greedy', 'plain top-p', 'entropix'];

export interface DecodeOptions {
  backends: string[]; model: string; tokens: number; rounds: number; batch: number; modes?: Mode[];
  /** Warm-up tokens per mode before the timed rounds. */
  warmupTokens?: number;
}
export interface DecodeBackendResult {
  tokensPerSecond: Partial<Record<Mode, number>>; runs: Partial<Record<Mode, number[]>>;
  entropixOverGreedy: number | null; verdict: string;
}

function samplerFor(mode: Mode, model: CausalLM): GenerateOptions['sampler'] {
  if (mode === 'greedy') return 'greedy';
  if (mode === 'plain top-p') return { temperature: 1, topP: 0.9 };
  return new EntropixSampler(model.generationDefaults.sampler ?? {});
}

async function timeRun(model: CausalLM, prompts: number[][], mode: Mode, tokens: number, seed: number): Promise<number> {
  const started = performance.now();
  let steps = 0;
  for await (const _ of generate(model, prompts, { maxNewTokens: tokens, sampler: samplerFor(mode, model), seed })) steps++;
  const seconds = (performance.now() - started) / 1000;
  if (steps !== tokens) throw new Error(`${mode}: expected ${tokens} steps, got ${steps}`);
  return (tokens * prompts.length) / seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function promptFor(modelDir: string, vocab: number): Promise<number[]> {
  if (existsSync(path.join(modelDir, 'tokenizer.json'))) return (await loadTokenizer(modelDir)).encode(PROMPT);
  return Array.from({ length: PROMPT_IDS }, (_, i) => (i * 7919 + 17) % vocab);
}

/** Decodes on each backend in turn; returns tokens/s per mode (median over rounds) and every round. */
export async function runDecode(opts: DecodeOptions): Promise<Record<string, DecodeBackendResult>> {
  const { tokens, rounds, batch } = opts;
  const modes = opts.modes ?? MODES;
  const results: Record<string, DecodeBackendResult> = {};
  for (const backend of opts.backends) {
    await useBackend(backend as BackendName);
    const loaded = await loadModel(opts.model);
    // eos would end runs at different lengths; every mode decodes exactly `tokens` tokens.
    const model: CausalLM = {
      config: loaded.config, generationDefaults: { ...loaded.generationDefaults, eosTokenIds: [] },
      forward: loaded.forward.bind(loaded), dispose: () => loaded.dispose(),
    };
    try {
      const prompt = await promptFor(opts.model, loaded.config.vocabSize);
      const prompts = Array.from({ length: batch }, () => prompt);
      const perMode = Object.fromEntries(modes.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
      for (const mode of modes) await timeRun(model, prompts, mode, opts.warmupTokens ?? 8, 0); // warm-up: kernels, shapes
      for (let r = 0; r < rounds; r++) {
        for (const mode of modes) perMode[mode].push(await timeRun(model, prompts, mode, tokens, r + 1));
      }
      const tps = Object.fromEntries(modes.map((m) => [m, median(perMode[m])])) as Partial<Record<Mode, number>>;
      const ratio = tps.entropix !== undefined && tps.greedy !== undefined ? tps.entropix / tps.greedy : null;
      const verdict = backend === TARGET.backend && ratio !== null ? (ratio >= TARGET.minRatio ? 'PASS' : 'FAIL') : 'n/a';
      console.log(`${backend}: ${modes.map((m) => `${m} ${tps[m]!.toFixed(1)} tok/s`).join(', ')}; `
        + `entropix/greedy ${ratio?.toFixed(2) ?? 'n/a'} (target ≥ ${TARGET.minRatio} on ${TARGET.backend}: ${verdict})`);
      results[backend] = { tokensPerSecond: tps, runs: perMode, entropixOverGreedy: ratio, verdict };
    } finally {
      model.dispose();
    }
    if (tf.memory().numTensors !== 0) console.warn(`${backend}: ${tf.memory().numTensors} tensors left`);
  }
  return results;
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      backends: { type: 'string', default: 'wasm,cpu' },
      tokens: { type: 'string', default: '96' }, // the bundled model's context is 128 positions
      rounds: { type: 'string', default: '3' },
      batch: { type: 'string', default: '1' },
      model: { type: 'string', default: BUNDLED_MODEL },
    },
  });
  const backends = args.backends!.split(',');
  const opts = { backends, model: args.model!, tokens: Number(args.tokens), rounds: Number(args.rounds), batch: Number(args.batch) };
  const results = await runDecode(opts);
  const file = writeResults('decode', backends, false, {
    model: opts.model, tokens: opts.tokens, rounds: opts.rounds, batch: opts.batch, prompt: PROMPT, target: TARGET, results,
  });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
