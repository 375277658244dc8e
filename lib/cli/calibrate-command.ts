// `entropix calibrate <model-dir> --corpus <text>`: the model's own regime thresholds from
// held-out text (lib/decoding/calibrate.ts), printed with the share of positions each regime takes
// there; --write puts them into the model's entropix.json, --plot draws the corpus' plane.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendName, describeBackend, useBackend } from '../core/backend';
import { EntropixError } from '../core/errors';
import { isObject } from '../core/validate';
import { calibrate, corpusWindows } from '../decoding/calibrate';
import { METRIC_NAMES, PositionMetrics } from '../decoding/teacher-forcing';
import type { CausalLM } from '../models/causal-lm';
import { directoryDefaults } from '../models/generation-defaults';
import { loadModel } from '../models/load-dir';
import { loadHfCheckpoint } from '../models/hf-checkpoint';
import { CalibrationQuantiles, quantile, regimeShares } from '../sampling/calibration';
import { regimeAt, RegimeThresholds, REGIME_NAMES, STATE_NAMES, StateName } from '../sampling/states';
import { loadTokenizer } from '../text/tokenizer-files';
import type { Tokenizer } from '../text/tokenizer';
import { plotSvg } from './plot';
import { checkOutputs, writeFileAtomic } from './output-files';
import { progressBar } from './progress';
import type { Trace, TraceToken } from './trace';

export interface CalibrateArgs {
  model: string;
  corpus: string;
  /** --quantiles: "low,medium,high" percentages (parseQuantiles). */
  quantiles: string;
  /** The most corpus tokens used (default: all); windows are spread over the text. */
  maxTokens?: number;
  /** Tokens per window (default: the model's context, at most 256). */
  window?: number;
  /** Windows run side by side (default 16). */
  batch?: number;
  write: boolean;
  plot?: string;
  backend: BackendName;
  verbose?: boolean;
}

export const DEFAULT_QUANTILES_FLAG = '50,80,90';
/** The default window: the model's context, capped so that a long-context model's run stays cheap. */
const MAX_DEFAULT_WINDOW = 256;
/** The plot draws at most this many positions (every k-th beyond): an SVG of 10⁵ dots is no use. */
const MAX_PLOTTED = 4000;
/** Thresholds are written to 0.001 bit, as entropix.json has them. */
const round = (x: number) => Math.round(x * 1000) / 1000;

/** --quantiles "low,medium,high" in percent as fractions, or why it is not a valid value. */
export function parseQuantiles(text: unknown): CalibrationQuantiles | string {
  const why = `--quantiles must be three percentages low,medium,high with 0 ≤ low ≤ medium ≤ high ≤ 100 `
    + `(default ${DEFAULT_QUANTILES_FLAG}), got ${JSON.stringify(text)}`;
  if (typeof text !== 'string') return why;
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length !== 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return why;
  const [low, medium, high] = parts.map(Number) as [number, number, number];
  if (!(low <= medium && medium <= high && high <= 100)) return why;
  return { low: low / 100, medium: medium / 100, high: high / 100 };
}

function refuse(argument: string, message: string): EntropixError {
  return new EntropixError('INVALID_ARGUMENT', message, argument);
}

/** 'graph' for a converted directory (model.json), 'hf' for a Hugging Face checkpoint (config.json). */
function modelKind(dir: string): 'graph' | 'hf' {
  if (!fs.existsSync(dir)) throw refuse('model', `no model at ${dir}: the directory does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw refuse('model', `${dir} is not a directory`);
  if (fs.existsSync(path.join(dir, 'model.json'))) return 'graph';
  if (fs.existsSync(path.join(dir, 'config.json'))) return 'hf';
  throw refuse('model', `${dir} has neither model.json (a converted model) nor config.json (a Hugging Face checkpoint)`);
}

/** The corpus as text: a readable, non-empty UTF-8 file without NUL bytes. */
export function readCorpus(file: string): string {
  let bytes: Buffer;
  try {
    if (!fs.statSync(file).isFile()) throw refuse('corpus', `cannot read --corpus ${file}: it is not a regular file`);
    bytes = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof EntropixError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw refuse('corpus', `cannot read --corpus ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (bytes.includes(0)) throw refuse('corpus', `--corpus ${file} is not text: it holds NUL bytes (a binary file?)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw refuse('corpus', `--corpus ${file} is not text: it is not valid UTF-8 (a binary file?)`);
  }
  if (text.trim().length === 0) throw refuse('corpus', `--corpus ${file} is empty${bytes.length > 0 ? ' (only whitespace)' : ''}`);
  return text;
}

/** entropix.json with the new thresholds in `sampler` and a new `calibration` record; every other field kept. */
export function withThresholds(json: object, thresholds: RegimeThresholds, calibration: object): object {
  const o = json as Record<string, unknown>;
  const sampler = isObject(o.sampler) ? o.sampler : {};
  return { ...o, sampler: { ...sampler, ...thresholds }, calibration };
}

const PERCENTS = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99];
const pct = (q: number) => `${Number((q * 100).toFixed(3))}`;

function metricQuantiles(values: Float32Array): number[] {
  const finite = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort();
  return finite.length === 0 ? PERCENTS.map(() => NaN) : PERCENTS.map((q) => round(quantile(finite, q)));
}

function shareLine(shares: Record<StateName, number>): string {
  return STATE_NAMES.filter((s) => s !== 'base' || shares.base > 0).map((s) => `${s} ${(100 * shares[s]).toFixed(1)} %`).join(', ');
}

/** The corpus' positions as trace tokens (every k-th when there are many), for the plot. */
function plotTrace(a: CalibrateArgs, tokenizer: Tokenizer, windows: number[][], m: PositionMetrics, th: RegimeThresholds): { trace: Trace; every: number } {
  const total = m.entropy.length;
  const every = Math.ceil(total / MAX_PLOTTED);
  const tokens: TraceToken[] = [];
  windows.forEach((w, row) => {
    for (let p = 0; p + 1 < w.length; p++) {
      const at = m.offsets[row]! + p;
      if (at % every !== 0) continue;
      const regime = regimeAt(m.entropy[at]!, m.varentropy[at]!, th);
      tokens.push({
        row, step: p, tokenId: w[p + 1]!, text: tokenizer.decode([w[p + 1]!]), state: STATE_NAMES.indexOf(regime), regime,
        logprob: NaN, entropy: m.entropy[at]!, varentropy: m.varentropy[at]!, attnEntropy: m.attnEntropy[at]!,
        attnVarentropy: m.attnVarentropy[at]!, agreement: m.agreement[at]!, interactionStrength: m.interactionStrength[at]!,
      });
    }
  });
  const trace: Trace = {
    version: 1, model: a.model, backend: a.backend, sampler: 'entropix', seed: null, thresholds: th,
    prompts: [], texts: [], finishReasons: [], tokens,
  };
  return { trace, every };
}

/**
 * Calibrates and returns the exit code (0). Everything that needs no model (the corpus, the
 * outputs) is checked before the model loads; nothing is written before the run has finished,
 * so an interrupt (Ctrl-C) leaves every file as it was.
 */
export async function runCalibrate(a: CalibrateArgs): Promise<number> {
  for (const [flag, v, min] of [['max-tokens', a.maxTokens, 2], ['window', a.window, 2], ['batch', a.batch, 1]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw refuse(flag, `--${flag} must be an integer of at least ${min}, got ${v}`);
  }
  const q = parseQuantiles(a.quantiles);
  if (typeof q === 'string') throw refuse('quantiles', q);
  const kind = modelKind(a.model);
  const text = readCorpus(a.corpus);
  const [plotPath] = a.plot !== undefined ? checkOutputs([{ flag: 'plot', path: a.plot }], a.model) : [];
  if (plotPath !== undefined && fs.realpathSync(a.corpus) === plotPath) throw refuse('plot', `cannot write --plot ${a.plot}: it is the corpus`);
  const jsonPath = path.join(a.model, 'entropix.json');
  if (a.write) {
    if (fs.existsSync(jsonPath) && !fs.lstatSync(jsonPath).isFile()) throw refuse('write', `cannot --write ${jsonPath}: it is not a regular file`);
    try {
      fs.accessSync(a.model, fs.constants.W_OK);
    } catch {
      throw refuse('write', `cannot --write ${jsonPath}: ${a.model} is not writable`);
    }
  }
  const tokenizer = await loadTokenizer(a.model);
  // The text as it is: no BOS or other special token is added (write them into the text where they belong).
  let ids: number[];
  try {
    ids = tokenizer.encode(text, { addSpecialTokens: false });
  } catch (e) {
    if (e instanceof EntropixError) throw refuse('corpus', `--corpus ${a.corpus}: ${e.message}`); // a word the tokenizer has no id for
    throw e;
  }
  if (ids.length < 2) throw refuse('corpus', `--corpus ${a.corpus} has ${ids.length} token; calibration needs at least 2`);

  await useBackend(a.backend);
  if (a.verbose) process.stderr.write(`${describeBackend()}\n`);
  const model: CausalLM = kind === 'graph' ? await loadModel(a.model) : await loadHfCheckpoint(a.model);
  try {
    const context = model.config.maxPositions;
    if (a.window !== undefined && a.window > context) {
      throw refuse('window', `--window ${a.window} is longer than the model's context of ${context}`);
    }
    const vocab = model.config.vocabSize;
    const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
    if (bad >= 0) {
      throw refuse('corpus', `--corpus ${a.corpus}: the tokenizer gives ${ids[bad]} for token ${bad}, `
        + `not an id of the model's ${vocab}-token vocabulary`);
    }
    const window = a.window ?? Math.min(context, MAX_DEFAULT_WINDOW);
    const windows = corpusWindows(ids, window, a.maxTokens ?? Infinity);
    const started = Date.now();
    const bar = progressBar(process.stderr, `positions of ${path.basename(a.corpus)}`);
    let result;
    try {
      result = await calibrate(model, windows, { quantiles: q, batchSize: a.batch, onProgress: (done, total) => bar.update(done, total) });
    } finally {
      bar.finish();
    }
    const seconds = (Date.now() - started) / 1000;
    const m = result.metrics;
    const th = Object.fromEntries(Object.entries(result.thresholds).map(([k, v]) => [k, round(v)])) as unknown as RegimeThresholds;
    const shares = regimeShares(m.entropy, m.varentropy, th);
    const used = windows.reduce((n, w) => n + w.length, 0);

    const out: string[] = [];
    out.push(`${m.entropy.length} positions: ${windows.length} windows of up to ${window} tokens, ${used} of the corpus' ${ids.length} tokens `
      + `(${path.basename(a.corpus)}), in ${seconds.toFixed(1)} s on ${a.backend}`);
    out.push(`metric quantiles (${PERCENTS.map(pct).join(' / ')} %):`);
    const width = Math.max(...METRIC_NAMES.map((k) => k.length));
    for (const k of METRIC_NAMES) out.push(`  ${k.padEnd(width)}  ${metricQuantiles(m[k]).join(' ')}`);
    out.push(`thresholds (quantiles ${pct(q.low)} / ${pct(q.medium)} / ${pct(q.high)} %): `
      + (Object.keys(th) as (keyof RegimeThresholds)[]).map((k) => `${k} ${th[k]}`).join(', '));
    out.push(`regimes on this text (teacher-forced, no attention gates): ${shareLine(shares)}`);

    if (plotPath !== undefined) {
      const { trace, every } = plotTrace(a, tokenizer, windows, m, th);
      const title = `${path.basename(path.resolve(a.model))} calibrated on ${path.basename(a.corpus)}: ${m.entropy.length} positions`
        + (every > 1 ? ` (every ${every}th drawn)` : '');
      writeFileAtomic(plotPath, plotSvg(trace, { title }), 'plot');
    }
    if (a.write) {
      const current = (await directoryDefaults(a.model, model.config, () => undefined)).entropixJson;
      const calibration = {
        method: `entropix calibrate: quantiles ${pct(q.low)} / ${pct(q.medium)} / ${pct(q.high)} % of teacher-forced `
          + 'next-token entropy and varentropy',
        corpus: path.basename(a.corpus), windows: windows.length, window, positions: m.entropy.length,
        quantiles: { lowEntropy: q.low, lowVarentropy: q.low, mediumEntropy: q.medium, highEntropy: q.high, highVarentropy: q.high },
        percentiles: PERCENTS.map((p) => p * 100),
        entropyQuantiles: metricQuantiles(m.entropy), varentropyQuantiles: metricQuantiles(m.varentropy),
        shares: Object.fromEntries(REGIME_NAMES.map((r) => [r, round(shares[r])])),
      };
      try {
        writeFileAtomic(jsonPath, `${JSON.stringify(withThresholds(current, th, calibration), null, 2)}\n`, 'write');
      } catch (e) {
        throw refuse('write', `cannot --write ${jsonPath}: ${(e as Error).message.replace(/^cannot write --write \S+: /, '')}`);
      }
      out.push(`wrote the thresholds into ${jsonPath}`);
    } else {
      out.push(`(not written: --write puts them into ${jsonPath})`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
