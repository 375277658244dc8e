// Golden outputs of Hugging Face's logits warpers (TemperatureLogitsWarper, MinPLogitsWarper,
// TopKLogitsWarper, TopPLogitsWarper; see __tests__/fixtures/golden/README.md), each alone and
// chained in our order (temperature → min-p → top-k → top-p). sampleTokens exposes no kept set,
// so it is checked by its draws on wasm: N draws per row with fixed seeds; every drawn token must
// be one transformers keeps, every token it keeps with p ≥ 0.005 must be drawn (expected ≥ 15
// times), and the counts must fit its renormalized probabilities (chi-square at p = 1e-4).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useBackend, sampleTokens, SamplingParams } from '../lib';
import { expectFits, histogram } from './helpers/stats';

interface WarperConfig {
  name: string; temperature?: number; top_k?: number; top_p?: number; min_p?: number;
  kept: number[][]; probs: number[][];
}
const golden: { logits: (number | string)[][]; configs: WarperConfig[] } = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'golden', 'warpers.json'), 'utf8'));
const rows = golden.logits.map((r) => r.map(Number)); // "-Infinity" → -Infinity
const DRAWS = 3000;

describe('sampleTokens against transformers\' logits warpers (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  test.each(golden.configs.map((c, i) => [c.name, c, i] as const))('%s', (_, cfg, index) => {
    const params: SamplingParams = {};
    if (cfg.temperature !== undefined) params.temperature = cfg.temperature;
    if (cfg.top_k !== undefined) params.topK = cfg.top_k;
    if (cfg.top_p !== undefined) params.topP = cfg.top_p;
    if (cfg.min_p !== undefined) params.minP = cfg.min_p;
    const vocab = rows[0]!.length;
    const batch = rows.length * DRAWS; // row r's draws at r·DRAWS … (r+1)·DRAWS − 1, each its own stream
    const before = tf.memory().numTensors;
    const logits = tf.tensor2d(Float32Array.from(rows.flatMap((r) => Array.from({ length: DRAWS }, () => r)).flat()), [batch, vocab]);
    const tokens = sampleTokens(logits, params, 1000 + index);
    const drawn = tokens.dataSync();
    tf.dispose([logits, tokens]);
    expect(tf.memory().numTensors).toBe(before);
    rows.forEach((_, r) => {
      const counts = histogram(drawn.subarray(r * DRAWS, (r + 1) * DRAWS), vocab);
      const kept = new Set(cfg.kept[r]);
      const outside = counts.flatMap((n, id) => (n > 0 && !kept.has(id) ? [id] : []));
      expect({ row: r, drawnOutsideKeptSet: outside }).toEqual({ row: r, drawnOutsideKeptSet: [] });
      const missing = cfg.kept[r]!.filter((id) => cfg.probs[r]![id]! >= 0.005 && counts[id] === 0);
      expect({ row: r, neverDrawn: missing }).toEqual({ row: r, neverDrawn: [] });
      expectFits(counts, cfg.probs[r]!);
    });
  });
});
