// Decode benchmark: generated tokens per second on the bundled model (the converted graph) for
// greedy, plain top-p and Entropix sampling, run alternately in one process per backend.
//
//   npm run bench:decode -- [--backends wasm,cpu] [--tokens N] [--rounds N] [--batch B] [--model dir]
//
// Target: Entropix ≥ 0.8 × greedy tokens/s on wasm. Every run decodes exactly --tokens tokens per
// row (eos does not stop it), from the same prompt, so the modes do the same model work.
import { parseArgs } from 'node:util';
import * as path from 'node:path';
import { EntropixSampler, loadModel, tf, useBackend } from '../lib/node';
import type { BackendName, CausalLM } from '../lib/node';
import { generate, GenerateOptions } from '../lib/decoding/generate';
import { loadTokenizer } from '../lib/text/tokenizer-files';
import { writeResults } from './record';

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    tokens: { type: 'string', default: '96' }, // the bundled model's context is 128 positions
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1' },
    model: { type: 'string', default: path.join(__dirname, '..', 'models', 'kjv-tiny') },
  },
});
const TARGET = { minRatio: 0.8, backend: 'wasm' };
const PROMPT = 'And it came to pass';

type Mode = 'greedy' | 'plain top-p' | 'entropix';
const MODES: Mode[] = ['greedy', 'plain top-p', 'entropix'];

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

async function main(): Promise<void> {
  const backends = args.backends!.split(',') as BackendName[];
  const tokens = Number(args.tokens);
  const rounds = Number(args.rounds);
  const batch = Number(args.batch);
  const results: Record<string, unknown> = {};
  for (const backend of backends) {
    await useBackend(backend);
    const loaded = await loadModel(args.model!);
    // eos would end runs at different lengths; every mode decodes exactly `tokens` tokens.
    const model: CausalLM = {
      config: loaded.config, generationDefaults: { ...loaded.generationDefaults, eosTokenIds: [] },
      forward: loaded.forward.bind(loaded), dispose: () => loaded.dispose(),
    };
    const tokenizer = await loadTokenizer(args.model!);
    const prompts = Array.from({ length: batch }, () => tokenizer.encode(PROMPT));
    const perMode = Object.fromEntries(MODES.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
    for (const mode of MODES) await timeRun(model, prompts, mode, 8, 0); // warm-up: kernels, shapes
    for (let r = 0; r < rounds; r++) {
      for (const mode of MODES) perMode[mode].push(await timeRun(model, prompts, mode, tokens, r + 1));
    }
    const tps = Object.fromEntries(MODES.map((m) => [m, median(perMode[m])])) as Record<Mode, number>;
    const ratio = tps.entropix / tps.greedy;
    const verdict = backend === TARGET.backend ? (ratio >= TARGET.minRatio ? 'PASS' : 'FAIL') : 'n/a';
    console.log(`${backend}: ${MODES.map((m) => `${m} ${tps[m].toFixed(1)} tok/s`).join(', ')}; `
      + `entropix/greedy ${ratio.toFixed(2)} (target ≥ ${TARGET.minRatio} on ${TARGET.backend}: ${verdict})`);
    results[backend] = { tokensPerSecond: tps, runs: perMode, entropixOverGreedy: ratio, verdict };
    model.dispose();
    if (tf.memory().numTensors !== 0) console.warn(`${backend}: ${tf.memory().numTensors} tensors left`);
  }
  const file = writeResults('decode', backends, false, { model: args.model, tokens, rounds, batch, prompt: PROMPT, target: TARGET, results });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
