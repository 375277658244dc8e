// Calibrates the bundled model's regime thresholds on its held-out chapters (the library's
// calibrate, as `entropix calibrate` runs it), writes them into its entropix.json, and reports
// how often each regime fires when generating from held-out prompts.
//
//   npx tsx models/training/calibrate.ts --model models/kjv-tiny --corpus kjv.txt [--windows 24] [--prompts 24]
//       [--windows-out __tests__/fixtures/calibrate/kjv-heldout-windows.txt]
//
// The windows are corpusWindows(held-out ids, 120, 24 · 120): 24 windows of 120 tokens spread
// evenly over the held-out text. --windows-out writes them as text (the test fixture), which
// `entropix calibrate <model> --corpus <that file> --window 120` reads back into the same windows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { EntropixSampler, loadModel, loadTokenizer, REGIME_NAMES, SamplerState, useBackend } from '../../lib/node';
import { generate } from '../../lib/decoding/generate';
import { calibrate, corpusWindows } from '../../lib/decoding/calibrate';
import { DEFAULT_CALIBRATION_QUANTILES, quantile } from '../../lib/sampling/calibration';
import { withThresholds } from '../../lib/cli/calibrate-command';
import type { RegimeThresholds } from '../../lib/sampling/states';
import { END_OF_TEXT, loadCorpus } from './corpus';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    corpus: { type: 'string' },
    windows: { type: 'string', default: '24' },
    length: { type: 'string', default: '120' },
    prompts: { type: 'string', default: '24' },
    tokens: { type: 'string', default: '120' },
    'windows-out': { type: 'string' },
  },
});

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Byte ids as text, `<|endoftext|>` for END_OF_TEXT: what the model's tokenizer reads back into the same ids. */
function windowsText(windows: number[][]): string {
  return windows.map((w) => w.map((id) => (id === END_OF_TEXT ? '<|endoftext|>' : Buffer.from([id]).toString('latin1'))).join('')).join('');
}

async function main(): Promise<void> {
  if (!args.model || !args.corpus) throw new Error('usage: calibrate.ts --model <converted dir> --corpus <bible output>');
  await useBackend('wasm');
  const model = await loadModel(args.model);
  const heldOut = loadCorpus(args.corpus).heldOut;
  const length = Number(args.length);
  const windows = corpusWindows(heldOut, length, Number(args.windows) * length);

  if (args['windows-out']) {
    const text = windowsText(windows);
    const tokenizer = await loadTokenizer(args.model);
    if (tokenizer.encode(text, { addSpecialTokens: false }).join() !== windows.flat().join()) {
      throw new Error('the windows do not read back as the same token ids');
    }
    fs.mkdirSync(path.dirname(args['windows-out']), { recursive: true });
    fs.writeFileSync(args['windows-out'], text);
    console.log(`wrote ${windows.length} windows (${text.length} bytes) to ${args['windows-out']}`);
  }

  // 1. Teacher-forced metrics on held-out windows; thresholds at their quantiles.
  const result = await calibrate(model, windows, { quantiles: DEFAULT_CALIBRATION_QUANTILES });
  const thresholds = Object.fromEntries(Object.entries(result.thresholds).map(([k, v]) => [k, round(v)])) as unknown as RegimeThresholds;
  const sorted = (v: Float32Array) => Float64Array.from(v).sort();
  const se = sorted(result.metrics.entropy);
  const sv = sorted(result.metrics.varentropy);
  const deciles = (s: Float64Array) => [0.1, 0.25, 0.5, 0.75, 0.9, 0.99].map((q) => round(quantile(s, q)));
  console.log(`${se.length} held-out positions`);
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
  const q = DEFAULT_CALIBRATION_QUANTILES;
  const calibration = {
    method: `quantiles of teacher-forced next-token entropy/varentropy on held-out chapters: ${JSON.stringify({
      lowEntropy: q.low, lowVarentropy: q.low, mediumEntropy: q.medium, highEntropy: q.high, highVarentropy: q.high })}`,
    positions: se.length, entropyQuantiles: deciles(se), varentropyQuantiles: deciles(sv),
    generation: { prompts: prompts.length, tokens: total, frequencies },
    command: `npx tsx models/training/calibrate.ts ${process.argv.slice(2).join(' ')}`,
  };
  fs.writeFileSync(file, `${JSON.stringify(withThresholds(json, thresholds, calibration), null, 2)}\n`);
  console.log(`wrote ${file}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
