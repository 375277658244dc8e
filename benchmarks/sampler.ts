// Sampler benchmark: one full Entropix step and each of its parts, in ms and as a multiple of one
// softmax pass over the same logits, measured in the same run on the same backend.
//
//   npm run bench:sampler -- [--backends cpu,wasm,webgpu] [--quick] [--iters N] [--batches 1,8] [--vocabs 32000,128256]
//
// Target: on wasm at B=1, V=128256 the whole step costs at most 6 softmax passes.
// Cases: softmax (the unit), metrics (computeMetrics), kernel (sampleTokens), step
// (EntropixSampler.sample on the backend's own strategy: fused where there is one; the table
// header names it, e.g. host on cpu and tensorflow), generic (the same step forced onto the
// generic tf-ops path) and host (the step done on the host: read the logits and scores back with
// data(), then plain JS). Kernels: kernels per step (tf.profile),
// fused/generic.
// WebGPU in Node needs a GPU Dawn can reach; on a machine without one, software OpenGL ES works:
//   EGL_PLATFORM=surfaceless ENTROPIX_WEBGPU_FLAGS=backend=opengles \
//   ENTROPIX_WEBGPU_FEATURE_LEVEL=compatibility npm run bench:sampler -- --backends webgpu
import { parseArgs } from 'node:util';
import type { Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import { computeMetrics, EntropixSampler, sampleTokens, tf, useBackend } from '../lib';
import { GENERIC_FLAG, samplingStrategy } from '../lib/sampling/backends/strategy';
import { hostEntropixStep } from '../lib/sampling/backends/host/step';
import { compileRegimes } from '../lib/sampling/regimes';
import { gumbelNoise } from '../lib/sampling/rng';
import type { BackendName } from '../lib';
import { writeResults } from './record';

const HEADS = 32;
const KEYS = 4096;
const LOGIT_SCALE = 3; // random normal logits × 3: about 10–11 bits of entropy at these vocabularies
const KERNEL_PARAMS = { temperature: 0.7, topK: 27, topP: 0.9 };
const TARGET = { backend: 'wasm', batch: 1, vocab: 128256, maxRatio: 6 };
const CASES = ['softmax', 'metrics', 'kernel', 'step', 'generic', 'host'] as const;
type CaseName = (typeof CASES)[number];

/** What runSampler (the entry point benchmarks/bench.ts calls) measures. */
export interface SamplerOptions { backends: string[]; quick: boolean; iters?: string; batches?: number[]; vocabs?: number[] }
let args: { quick?: boolean; iters?: string; batches?: number[]; vocabs?: number[] } = {};

/** A comma-separated list of positive integers (--batches, --vocabs). */
function sizes(list: string | undefined, name: string): number[] | undefined {
  if (list === undefined) return undefined;
  const xs = list.split(',').map((x) => Number(x.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--${name} must list positive integers, got ${list}`);
  return xs;
}

export interface Plan { batches: number[]; vocabs: number[]; warmup: number; warmupMs: number; iters: number }

/** The grid and iteration counts for a backend; cpu is slow, so it runs fewer iterations. */
function planFor(backend: string): Plan {
  const cpu = backend === 'cpu';
  const iters = args.iters !== undefined ? Number(args.iters) : args.quick ? 5 : cpu ? 10 : 30;
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`--iters must be a positive integer, got ${args.iters}`);
  return {
    batches: args.batches ?? (args.quick ? [1] : [1, 8]),
    vocabs: args.vocabs ?? (args.quick ? [32000, 128256] : [32000, 49152, 128256]),
    warmup: args.quick || cpu ? 2 : 5,
    warmupMs: args.quick ? 100 : 500, // and at least this long: V8 and the wasm heap settle slowly
    iters,
  };
}

/** q1Ms/q3Ms: the quartiles, the spread the report shows. */
export interface Timing { medianMs: number; meanMs: number; minMs: number; q1Ms: number; q3Ms: number; leakedTensors: number }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Each case computes, reads its result back with `await data()` (never dataSync) and disposes. */
function makeCases(logits: Tensor2D, scores: Tensor3D): Record<CaseName, (seed: number) => Promise<void>> {
  const sampler = new EntropixSampler();
  const table = compileRegimes(sampler.config);
  return {
    softmax: async () => {
      const m = tf.tidy(() => tf.max(tf.softmax(logits)));
      await m.data();
      m.dispose();
    },
    metrics: async () => {
      const m = computeMetrics(logits, scores);
      await Promise.all(Object.values(m).map((t) => t.data()));
      tf.dispose(Object.values(m));
    },
    kernel: async (seed) => {
      const tokens = sampleTokens(logits, KERNEL_PARAMS, seed);
      await tokens.data();
      tokens.dispose();
    },
    step: async (seed) => {
      const result = sampler.sample(logits, scores, { seed });
      await result.tokens.data();
      tf.dispose([result.tokens, result.states, ...Object.values(result.metrics)]);
    },
    generic: async (seed) => {
      tf.env().set(GENERIC_FLAG, true);
      try {
        const result = sampler.sample(logits, scores, { seed });
        await result.tokens.data();
        tf.dispose([result.tokens, result.states, ...Object.values(result.metrics)]);
      } finally {
        tf.env().set(GENERIC_FLAG, false);
      }
    },
    host: async (seed) => {
      const [batch, vocab] = logits.shape;
      const [, heads, keys] = scores.shape;
      const [x, s] = await Promise.all([logits.data(), scores.data()]) as Float32Array[];
      const k = Math.min(sampler.config.candidateCap, vocab);
      const noise = gumbelNoise(seed, batch, table.adaptiveSamples, k);
      hostEntropixStep({ logits: x!, batch, vocab, scores: s!, heads, queries: 1, keys }, table,
        sampler.config.candidateCap, sampler.config.clarifyingTokenId, noise);
    },
  };
}

/** Kernels one step runs on the backend's own strategy and on the generic one (tf.profile). */
async function kernelsPerStep(logits: Tensor2D, scores: Tensor3D): Promise<{ fused: number; generic: number; kernel: number }> {
  const sampler = new EntropixSampler();
  const count = async (fn: () => tf.TensorContainer): Promise<number> => {
    const info = await tf.profile(() => fn() as tf.Tensor);
    tf.dispose(info.result as tf.TensorContainer);
    return info.kernels.length;
  };
  const fused = await count(() => sampler.sample(logits, scores, { seed: 1 }));
  const kernel = await count(() => sampleTokens(logits, KERNEL_PARAMS, 1));
  tf.env().set(GENERIC_FLAG, true);
  try {
    return { fused, kernel, generic: await count(() => sampler.sample(logits, scores, { seed: 1 })) };
  } finally {
    tf.env().set(GENERIC_FLAG, false);
  }
}

/** Warm up, then time `iters` runs; counts the tensors left over by the timed loop. */
async function time(run: (seed: number) => Promise<void>, plan: Plan): Promise<Timing> {
  let seed = 0;
  for (const start = performance.now(); seed < plan.warmup || performance.now() - start < plan.warmupMs;) await run(seed++);
  const before = tf.memory().numTensors;
  const ms: number[] = [];
  for (let i = 0; i < plan.iters; i++) {
    const t0 = performance.now();
    await run(seed++);
    ms.push(performance.now() - t0);
  }
  return { medianMs: median(ms), meanMs: mean(ms), minMs: Math.min(...ms), q1Ms: quantile(ms, 0.25), q3Ms: quantile(ms, 0.75), leakedTensors: tf.memory().numTensors - before };
}

export interface Row {
  batch: number; vocab: number; entropyBits: number; cases: Record<CaseName, Timing & { ratio: number }>;
  kernels: { fused: number; generic: number; kernel: number };
}

/** All cases for one shape on the current backend. */
async function benchShape(batch: number, vocab: number, plan: Plan): Promise<Row> {
  const logits = tf.tidy(() => tf.mul(tf.randomNormal([batch, vocab], 0, 1, 'float32', 1), LOGIT_SCALE)) as Tensor2D;
  const scores = tf.randomNormal([batch, HEADS, KEYS], 0, 1, 'float32', 2) as Tensor3D;
  const m = computeMetrics(logits, scores);
  const entropyBits = mean(Array.from(await m.entropy.data()));
  tf.dispose(Object.values(m));
  const kernels = await kernelsPerStep(logits, scores);
  const cases = makeCases(logits, scores);
  const timings = {} as Record<CaseName, Timing>;
  for (const name of CASES) timings[name] = await time(cases[name], plan);
  tf.dispose([logits, scores]);
  const softmax = timings.softmax.medianMs;
  const withRatios = Object.fromEntries(
    CASES.map((name) => [name, { ...timings[name], ratio: timings[name].medianMs / softmax }]),
  ) as Row['cases'];
  return { batch, vocab, entropyBits, cases: withRatios, kernels };
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function printTable(backend: string, path: string, plan: Plan, rows: Row[]): void {
  console.log(`\n${backend} (step: ${path} path; generic: tf ops; host: data() + JS): median/mean ms over `
    + `${plan.iters} iterations after ≥ ${plan.warmup} warm-up and ≥ ${plan.warmupMs} ms (median × the softmax `
    + `pass's median); bits: mean entropy of the logits; kernels per step: ${path}/generic (sampleTokens)`);
  const cols = ['B', 'V', 'bits', ...CASES, 'kernels'];
  const lines = rows.map((r) => [
    String(r.batch), String(r.vocab), r.entropyBits.toFixed(1),
    ...CASES.map((c) => `${fmt(r.cases[c].medianMs)}/${fmt(r.cases[c].meanMs)}`
      + (c === 'softmax' ? '' : ` (${r.cases[c].ratio.toFixed(1)}×)`)),
    `${r.kernels.fused}/${r.kernels.generic} (${r.kernels.kernel})`,
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [cols, ...lines]) console.log(line.map((cell, i) => cell.padStart(widths[i]! + 2)).join(''));
  for (const r of rows) {
    for (const c of CASES) {
      const n = r.cases[c].leakedTensors;
      if (n !== 0) console.warn(`WARNING: ${backend} B=${r.batch} V=${r.vocab} ${c}: ${n} tensors leaked over ${plan.iters} iterations`);
    }
  }
}

export interface BackendResult { backend: string; path?: string; skipped?: string; error?: string; plan?: Plan; rows?: Row[] }

async function benchBackend(backend: string): Promise<BackendResult> {
  try {
    await useBackend(backend as BackendName);
  } catch (e) {
    let reason = e instanceof Error ? e.message : String(e);
    if (backend === 'webgpu') reason += '; without a GPU, try the environment variables at the top of benchmarks/sampler.ts';
    console.log(`\n${backend}: skipped (${reason})`);
    return { backend, skipped: reason };
  }
  const plan = planFor(backend);
  const path = samplingStrategy().name;
  const rows: Row[] = [];
  try {
    for (const batch of plan.batches) {
      for (const vocab of plan.vocabs) rows.push(await benchShape(batch, vocab, plan));
    }
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    console.log(`\n${backend}: failed after ${rows.length} shapes (${error})`);
    return { backend, path, plan, rows, error };
  } finally {
    if (rows.length) printTable(backend, path, plan, rows);
  }
  return { backend, path, plan, rows };
}

/** PASS/FAIL for the target, or null when this run did not measure it. */
function checkTarget(results: BackendResult[]): { ratio: number; minRatio: number; hostRatio: number; pass: boolean } | null {
  const row = results.find((r) => r.backend === TARGET.backend)?.rows
    ?.find((r) => r.batch === TARGET.batch && r.vocab === TARGET.vocab);
  if (!row) return null;
  const ratio = row.cases.step.ratio;
  // The ratio of the fastest runs too: on a loaded machine the median of a longer case suffers more.
  const minRatio = row.cases.step.minMs / row.cases.softmax.minMs;
  return { ratio, minRatio, hostRatio: row.cases.step.medianMs / row.cases.host.medianMs, pass: ratio <= TARGET.maxRatio };
}

/** Benchmarks each backend in turn; prints the tables and the target, returns the results. */
export async function runSampler(opts: SamplerOptions): Promise<{ results: BackendResult[]; target: ReturnType<typeof checkTarget> }> {
  args = { quick: opts.quick, iters: opts.iters, batches: opts.batches, vocabs: opts.vocabs };
  const backends = opts.backends;
  console.log(`entropix sampler benchmark: backends ${backends.join(', ')}; attention [B, ${HEADS}, ${KEYS}]; `
    + `logits N(0,1)·${LOGIT_SCALE}; kernel ${JSON.stringify(KERNEL_PARAMS)}`);
  const results: BackendResult[] = [];
  for (const backend of backends) results.push(await benchBackend(backend));

  const target = checkTarget(results);
  const where = `${TARGET.backend} B=${TARGET.batch} V=${TARGET.vocab}`;
  console.log(target
    ? `\nTarget ${where}: step ≤ ${TARGET.maxRatio}× softmax: ${target.ratio.toFixed(1)}× ${target.pass ? 'PASS' : 'FAIL'}`
      + ` (fastest runs: ${target.minRatio.toFixed(1)}×; device/host step: ${target.hostRatio.toFixed(2)})`
    : `\nTarget ${where}: not measured in this run`);
  return { results, target };
}

export const SAMPLER_SETTINGS = {
  shapes: { logits: '[B, V] float32', attentionScores: `[B, ${HEADS}, ${KEYS}] float32`, logitScale: LOGIT_SCALE },
  kernelParams: KERNEL_PARAMS,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backends: { type: 'string', default: 'cpu,wasm,webgpu' },
      quick: { type: 'boolean', default: false },
      iters: { type: 'string' },
      batches: { type: 'string' },
      vocabs: { type: 'string' },
    },
  });
  const backends = values.backends!.split(',').map((b) => b.trim()).filter(Boolean);
  const started = Date.now();
  const { results, target } = await runSampler({
    backends, quick: !!values.quick, iters: values.iters, batches: sizes(values.batches, 'batches'), vocabs: sizes(values.vocabs, 'vocabs'),
  });
  const file = writeResults('sampler', backends, !!values.quick, {
    ...SAMPLER_SETTINGS,
    target: { ...TARGET, measured: target },
    seconds: (Date.now() - started) / 1000,
    results,
  }, null);
  console.log(`Results written to ${file}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
