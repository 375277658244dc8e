// Calibrates the Entropix regime thresholds for a converted model on held-out text, writes them
// into the model's entropix.json, and reports how often each regime fires on held-out prompts.
//
//   npx tsx models/training/calibrate.ts --model models/kjv-tiny --corpus kjv.txt [--windows 24] [--prompts 24]
//
// Thresholds are quantiles of the next-token entropy and varentropy the model shows on held-out
// text (teacher forcing through the KV cache, exactly as in decoding), because a 257-token byte
// vocabulary lives on another scale than Llama 3's 128k tokens (Entropix's 0.1/3/5-bit defaults).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { computeMetrics, EntropixSampler, loadModel, REGIME_NAMES, SamplerState, tf, useBackend } from '../../lib/node';
import type { KVCache, SamplerConfig } from '../../lib/node';
import { generate } from '../../lib/decoding/generate';
import { END_OF_TEXT, loadCorpus } from './corpus';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    corpus: { type: 'string' },
    windows: { type: 'string', default: '24' },
    length: { type: 'string', default: '120' },
    prompts: { type: 'string', default: '24' },
    tokens: { type: 'string', default: '120' },
  },
});

/** The quantiles the thresholds are set at (see models/kjv-tiny/README.md for why). */
const QUANTILES = { lowEntropy: 0.5, lowVarentropy: 0.5, mediumEntropy: 0.8, highEntropy: 0.9, highVarentropy: 0.9 };

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (at - lo);
}

async function main(): Promise<void> {
  if (!args.model || !args.corpus) throw new Error('usage: calibrate.ts --model <converted dir> --corpus <bible output>');
  await useBackend('wasm');
  const model = await loadModel(args.model);
  const heldOut = loadCorpus(args.corpus).heldOut;
  const windows = Number(args.windows);
  const length = Number(args.length);
  const stride = Math.floor((heldOut.length - length) / windows);

  // 1. Teacher-forced metrics on held-out windows.
  const entropy: number[] = [];
  const varentropy: number[] = [];
  for (let w = 0; w < windows; w++) {
    const text = Array.from(heldOut.subarray(w * stride, w * stride + length));
    let cache: KVCache | null = null;
    for (let t = 0; t < text.length - 1; t++) {
      const ids = tf.tensor2d([[text[t]!]], [1, 1], 'int32') as Tensor2D;
      const r = model.forward(ids, cache);
      cache = r.cache;
      const m = computeMetrics(r.logits, r.attentionScores);
      entropy.push((await m.entropy.data())[0]!);
      varentropy.push((await m.varentropy.data())[0]!);
      tf.dispose([ids, r.logits, r.attentionScores, m]);
    }
    (cache as KVCache | null)?.dispose();
  }
  const se = [...entropy].sort((a, b) => a - b);
  const sv = [...varentropy].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const thresholds = {
    lowEntropy: round(quantile(se, QUANTILES.lowEntropy)),
    lowVarentropy: round(quantile(sv, QUANTILES.lowVarentropy)),
    mediumEntropy: round(quantile(se, QUANTILES.mediumEntropy)),
    highEntropy: round(quantile(se, QUANTILES.highEntropy)),
    highVarentropy: round(quantile(sv, QUANTILES.highVarentropy)),
  } satisfies Partial<SamplerConfig>;
  const deciles = (s: number[]) => [0.1, 0.25, 0.5, 0.75, 0.9, 0.99].map((q) => round(quantile(s, q)));
  console.log(`${entropy.length} held-out positions`);
  console.log(`entropy quantiles (10/25/50/75/90/99%): ${deciles(se).join(' ')} bits`);
  console.log(`varentropy quantiles: ${deciles(sv).join(' ')} bits²`);
  console.log(`thresholds: ${JSON.stringify(thresholds)}`);

  // 2. Regime frequencies when generating from held-out prompts (verse openings).
  const sampler = new EntropixSampler({ ...model.generationDefaults.sampler, ...thresholds });
  const starts: number[] = [];
  for (let i = 0; i + 1 < heldOut.length && starts.length < Number(args.prompts); i++) {
    if (heldOut[i] === 10 && i % 97 < 40) starts.push(i + 1); // after a newline: a verse opening
  }
  const prompts = starts.map((s) => [END_OF_TEXT, ...Array.from(heldOut.subarray(s, s + 24))]);
  const counts = Object.fromEntries([...REGIME_NAMES, 'base'].map((r) => [r, 0])) as Record<string, number>;
  let total = 0;
  for await (const step of generate(model, prompts, { maxNewTokens: Number(args.tokens), sampler, seed: prompts.map((_, i) => i + 1) })) {
    step.tokenIds.forEach((id, row) => {
      if (id < 0) return;
      total++;
      const state = step.states[row]!;
      counts[state === SamplerState.Base ? 'base' : REGIME_NAMES[state]!]!++;
    });
  }
  const frequencies = Object.fromEntries(Object.entries(counts).map(([r, n]) => [r, round(n / total)]));
  console.log(`regimes over ${total} generated tokens from ${prompts.length} held-out prompts: ${JSON.stringify(frequencies)}`);

  const file = path.join(args.model, 'entropix.json');
  const json = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  json.sampler = { ...(json.sampler ?? {}), ...thresholds };
  json.calibration = {
    method: `quantiles of teacher-forced next-token entropy/varentropy on held-out chapters: ${JSON.stringify(QUANTILES)}`,
    positions: entropy.length, entropyQuantiles: deciles(se), varentropyQuantiles: deciles(sv),
    generation: { prompts: prompts.length, tokens: total, frequencies },
    command: `npx tsx models/training/calibrate.ts ${process.argv.slice(2).join(' ')}`,
  };
  fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`wrote ${file}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
