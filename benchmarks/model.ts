// Model benchmark: prefill tokens/s and decode ms/token of the converted graph (loadModel) against
// the native tf-ops model (loadHfCheckpoint), measured alternately in the same run on the same
// backend, for randomly initialised Llamas written as HF checkpoints (SmolLM2-135M-shaped, and a
// 12-layer, hidden-384 one), and for the bundled model (models/kjv-tiny; the native model loads the same weights, read back from
// the converted graph into a temporary HF checkpoint).
//
//   npm run bench:model -- [--backends wasm,cpu,webgpu] [--shapes smollm,llama12] [--quick]
//                          [--rounds N] [--steps N] [--budget SECONDS] [--dtype BF16|F32] [--profile]
//                          [--long-steps N] (the memory children's and the peer's decode steps: 128)
//
// Target: converted decode ms/token ≤ 1.1 × native on each backend.
// The checkpoint (BF16 by default: 270 MB instead of 540 MB) and the converted model live in
// temporary folders that are removed at the end, also on failure or Ctrl-C.
// WebGPU needs a GPU Dawn can reach; see the environment variables at the top of benchmarks/sampler.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { convertHfCheckpoint, loadHfCheckpoint, loadModel, tf, useBackend } from '../lib/node';
import type { BackendName, CausalLM, KVCache } from '../lib/node';
import { writeSafetensors } from '../lib/models/safetensors';
import type { SafetensorsFloatDtype, SafetensorsInput } from '../lib/models/safetensors';
import { Shape, WEIGHT_STD, writeRandomCheckpoint } from './random-checkpoint';
import { spawnSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { writeResults } from './record';
import { llamaWeightSpecs, unfuseWeight } from '../lib/models/llama-tensors';
import { parseHfConfig } from '../lib/models/hf-config';
import type { WeightsMode } from '../lib/models/weights-option';

const BUNDLED_DIR = join(__dirname, '..', 'models', 'kjv-tiny');

/**
 * A Hugging Face checkpoint (config.json + F32 model.safetensors) from a converted directory: the
 * graph's weights, split back into the HF tensors they were fused from (llama-tensors.ts).
 */
async function hfFromConverted(convertedDir: string, outDir: string): Promise<void> {
  const modelJson = JSON.parse(readFileSync(join(convertedDir, 'model.json'), 'utf8')) as {
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const configPath = join(convertedDir, 'config.json');
  const config = parseHfConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
  const specs = new Map(llamaWeightSpecs(config).map((spec) => [spec.name, spec]));
  const tensors: Record<string, SafetensorsInput> = {};
  for (const group of modelJson.weightsManifest) {
    const bytes = Buffer.concat(group.paths.map((p) => readFileSync(join(convertedDir, p))));
    const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), group.weights);
    for (const [name, t] of Object.entries(decoded)) {
      const spec = specs.get(name);
      if (spec) specs.delete(name); // the rest are the graph's own constants (shapes, eps)
      if (spec) { // a tied head (format 3: the only copy) gives the embedding
        for (const [source, data] of unfuseWeight(spec, Float32Array.from(await t.data()))) {
          const part = spec.parts.find((p) => p.source === source)!;
          tensors[source] = { dtype: 'F32', shape: part.sourceShape, data };
        }
      }
      t.dispose();
    }
  }
  if (config.tieWordEmbeddings) specs.delete('model.embed_tokens.weight'); // format 2 holds both
  if (specs.size > 0) throw new Error(`${convertedDir}: no weight ${[...specs.keys()][0]} (graph format 2 expected: re-convert the model)`);
  writeFileSync(join(outDir, 'config.json'), readFileSync(configPath));
  await writeSafetensors(join(outDir, 'model.safetensors'), tensors);
}

const SHAPES: Record<string, { label: string; shape: Shape }> = {
  /** SmolLM2-135M's shape (HuggingFaceTB/SmolLM2-135M config.json). */
  smollm: {
    label: 'SmolLM2-135M-shaped',
    shape: {
      numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
      vocabSize: 49152, tiedEmbeddings: true, ropeTheta: 100000, rmsNormEps: 1e-5, maxPositions: 8192,
    },
  },
  /** A small Llama: 12 layers, hidden 384 (6 heads × 64, 2 KV heads), SwiGLU 1024, 8192 tokens. */
  llama12: {
    label: '12-layer hidden-384',
    shape: {
      numLayers: 12, hiddenSize: 384, numHeads: 6, numKvHeads: 2, headDim: 64, intermediateSize: 1024,
      vocabSize: 8192, tiedEmbeddings: true, ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 2048,
    },
  },
};
const PROMPT = 64;
const TARGET = { maxRatio: 1.1 };
const MODELS = ['converted', 'native'] as const;
type ModelName = (typeof MODELS)[number];

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu' },
    shapes: { type: 'string', default: 'smollm,llama12' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    steps: { type: 'string' },
    budget: { type: 'string' },
    dtype: { type: 'string', default: 'BF16' },
    profile: { type: 'boolean', default: false },
    'write-checkpoint': { type: 'string' },
    'memory-child': { type: 'string' }, // internal: one model's memory run in its own process
    dir: { type: 'string' },
    'weight-bytes': { type: 'string' },
    weights: { type: 'string' }, // internal: the memory child's weights mode
    'no-peer': { type: 'boolean', default: false },
    'long-steps': { type: 'string' }, // decode steps of the memory children and the peer (128; --quick 16)
    peer: { type: 'string', default: join(__dirname, 'peer', 'out') },
  },
});

const positiveInt = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
};

interface Plan { rounds: number; steps: number; budgetS: number; sized: string }

/**
 * Sizes the run from one probe of the native model (a prefill and one decode step): as many
 * rounds (each: both models, prefill + decode) as fit the backend's time budget, at most 3, and
 * fewer decode steps than 32 only when a single round would not fit.
 */
function planFor(backend: string, probe: { prefillMs: number; stepMs: number }): Plan {
  const budgetS = positiveInt('budget', args.budget) ?? (args.quick ? 40 : backend === 'cpu' ? 150 : 180);
  const wantSteps = positiveInt('steps', args.steps) ?? (args.quick ? 8 : 32);
  const fixedRounds = positiveInt('rounds', args.rounds);
  const budgetMs = budgetS * 1000;
  const roundMs = (steps: number) => 2 * (probe.prefillMs + (steps + 1) * probe.stepMs);
  let steps = wantSteps;
  if (args.steps === undefined && roundMs(steps) > budgetMs) {
    steps = Math.max(4, Math.floor((budgetMs / 2 - probe.prefillMs) / probe.stepMs) - 1);
  }
  const rounds = fixedRounds ?? Math.max(1, Math.min(args.quick ? 1 : 3, Math.floor(budgetMs / roundMs(steps))));
  const sized = `probe: native prefill ${fmt(probe.prefillMs)} ms, decode step ${fmt(probe.stepMs)} ms; `
    + `budget ${budgetS} s → ${rounds} round(s) × ${steps} decode steps per model`;
  return { rounds, steps, budgetS, sized };
}

// ---- timing ----

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function argmax(xs: Float32Array | Int32Array | Uint8Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/** The fixed prompt: token ids spread over the vocabulary. */
let promptVocab = 0; // the model under test's vocabulary
const promptIds = (): number[] => Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 17) % promptVocab);

/**
 * stepCpuMs: the process's CPU time (user + system) per decode step. wasm runs on one thread, so
 * on a machine other jobs load it measures the work a step does where wall time also counts the
 * waits for a core.
 */
interface Run { prefillMs: number; stepMs: number[]; stepCpuMs: number[]; tokens: number[]; prefillLogits: Float32Array; leakedTensors: number }

/**
 * One prefill of the prompt, then `steps` decode steps feeding the argmax back with the cache;
 * every step awaits data() on the logits. Everything is disposed; the tensor count is compared.
 */
async function generate(model: CausalLM, steps: number, onStep?: () => void): Promise<Run> {
  const before = tf.memory().numTensors;
  let cache: KVCache | null = null;
  try {
    let ids = tf.tensor2d([promptIds()], [1, PROMPT], 'int32');
    let t0 = performance.now();
    let out = model.forward(ids, null);
    let logits = await out.logits.data() as Float32Array;
    const prefillMs = performance.now() - t0;
    cache = out.cache;
    tf.dispose([ids, out.logits, out.attentionScores]);
    const prefillLogits = logits;
    const tokens = [argmax(logits)];
    const stepMs: number[] = [];
    const stepCpuMs: number[] = [];
    for (let s = 0; s < steps; s++) {
      ids = tf.tensor2d([[tokens[tokens.length - 1]!]], [1, 1], 'int32');
      t0 = performance.now();
      const cpu0 = process.cpuUsage();
      out = model.forward(ids, cache); // hands the old cache over
      cache = out.cache;
      logits = await out.logits.data() as Float32Array;
      stepMs.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      stepCpuMs.push((cpu.user + cpu.system) / 1000);
      tf.dispose([ids, out.logits, out.attentionScores]);
      tokens.push(argmax(logits));
      onStep?.();
    }
    cache.dispose();
    cache = null;
    return { prefillMs, stepMs, stepCpuMs, tokens, prefillLogits, leakedTensors: tf.memory().numTensors - before };
  } finally {
    cache?.dispose();
  }
}

interface ProfileRow { kernel: string; count: number; ms: number }
interface Profile { wallMs: number; kernels: number; top: ProfileRow[] }

/** Kernel times of one call, summed per kernel name, dearest first. */
async function profileCall(f: () => Promise<void>): Promise<Profile> {
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await f();
    return [];
  });
  const wallMs = performance.now() - t0;
  const by = new Map<string, ProfileRow>();
  for (const k of info.kernels) {
    const row = by.get(k.name) ?? { kernel: k.name, count: 0, ms: 0 };
    row.count++;
    row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    by.set(k.name, row);
  }
  return { wallMs, kernels: info.kernels.length, top: [...by.values()].sort((a, b) => b.ms - a.ms).slice(0, 8) };
}

/** Profiles the prefill of the prompt and the decode step after it. */
async function profileModel(model: CausalLM): Promise<{ prefill: Profile; decode: Profile }> {
  const ids = tf.tensor2d([promptIds()], [1, PROMPT], 'int32');
  const next = tf.tensor2d([[1]], [1, 1], 'int32');
  let first: ReturnType<CausalLM['forward']> | undefined;
  let out: ReturnType<CausalLM['forward']> | undefined;
  try {
    const prefill = await profileCall(async () => {
      first = model.forward(ids, null);
      await first.logits.data();
    });
    const decode = await profileCall(async () => {
      out = model.forward(next, first!.cache);
      await out.logits.data();
    });
    return { prefill, decode };
  } finally {
    tf.dispose([ids, next]);
    for (const r of [first, out]) if (r) tf.dispose([r.logits, r.attentionScores]);
    if (out) out.cache.dispose();
    else first?.cache.dispose();
  }
}

interface ModelResult {
  loadMs: number; prefillMs: number[]; prefillTokensPerS: number; stepMs: number[]; medianStepMs: number;
  medianStepCpuMs: number;
  meanStepMs: number; leakedTensors: number; tokens: number[];
}

interface BackendResult {
  backend: string; skipped?: string; error?: string; plan?: Plan;
  models?: Partial<Record<ModelName, ModelResult>>;
  ratio?: { decode: number; decodeCpu: number; prefill: number; pass: boolean };
  check?: { prefillMaxAbsDiff: number; maxAbsLogit: number; sameTokens: boolean };
  profile?: Partial<Record<ModelName, { prefill: Profile; decode: Profile }>>;
}

async function benchBackend(backend: string, hfDir: string, convertedDir: string): Promise<BackendResult> {
  try {
    await useBackend(backend as BackendName);
  } catch (e) {
    let reason = e instanceof Error ? e.message : String(e);
    if (backend === 'webgpu') reason += '; without a GPU, try the environment variables at the top of benchmarks/sampler.ts';
    console.log(`\n${backend}: skipped (${reason})`);
    return { backend, skipped: reason };
  }
  const result: BackendResult = { backend, models: {} };
  const loaded: Partial<Record<ModelName, CausalLM>> = {};
  const baseline = tf.memory().numTensors;
  try {
    const loadMs: Partial<Record<ModelName, number>> = {};
    for (const name of MODELS) {
      const t0 = performance.now();
      loaded[name] = name === 'converted' ? await loadModel(convertedDir) : await loadHfCheckpoint(hfDir);
      loadMs[name] = performance.now() - t0;
    }
    console.log(`\n${backend}: loaded converted in ${fmt(loadMs.converted!)} ms, native in ${fmt(loadMs.native!)} ms`);
    // Warm-up (first-call set-up) of the converted graph, then the native model's first run, which
    // is its warm-up and the probe that sizes the run (a slight over-estimate: it includes set-up).
    await generate(loaded.converted!, 1);
    const probeRun = await generate(loaded.native!, 2);
    const plan = planFor(backend, { prefillMs: probeRun.prefillMs, stepMs: median(probeRun.stepMs) });
    result.plan = plan;
    console.log(`${backend}: ${plan.sized}`);

    const runs: Record<ModelName, Run[]> = { converted: [], native: [] };
    for (let r = 0; r < plan.rounds; r++) {
      const order: ModelName[] = r % 2 === 0 ? ['converted', 'native'] : ['native', 'converted'];
      for (const name of order) runs[name].push(await generate(loaded[name]!, plan.steps));
    }
    for (const name of MODELS) {
      const rs = runs[name];
      const prefillMs = rs.map((x) => x.prefillMs);
      const stepMs = rs.flatMap((x) => x.stepMs);
      result.models![name] = {
        loadMs: loadMs[name]!, prefillMs, prefillTokensPerS: PROMPT / (median(prefillMs) / 1000), stepMs,
        medianStepMs: median(stepMs), medianStepCpuMs: median(rs.flatMap((x) => x.stepCpuMs)), meanStepMs: stepMs.reduce((a, b) => a + b, 0) / stepMs.length,
        leakedTensors: rs.reduce((a, x) => a + x.leakedTensors, 0), tokens: rs[0]!.tokens,
      };
    }
    const c = result.models!.converted!;
    const n = result.models!.native!;
    const decode = c.medianStepMs / n.medianStepMs;
    result.ratio = {
      decode, decodeCpu: c.medianStepCpuMs / n.medianStepCpuMs, prefill: median(c.prefillMs) / median(n.prefillMs),
      pass: decode <= TARGET.maxRatio,
    };
    const a = runs.converted[0]!.prefillLogits;
    const b = runs.native[0]!.prefillLogits;
    let diff = 0;
    let big = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      big = Math.max(big, Math.abs(b[i]!));
    }
    result.check = { prefillMaxAbsDiff: diff, maxAbsLogit: big, sameTokens: c.tokens.join() === n.tokens.join() };
    if (args.profile) {
      result.profile = {};
      for (const name of MODELS) result.profile[name] = await profileModel(loaded[name]!);
    }
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    console.log(`\n${backend}: failed (${result.error})`);
  } finally {
    for (const name of MODELS) loaded[name]?.dispose();
    const left = tf.memory().numTensors - baseline;
    if (left !== 0) console.warn(`WARNING: ${backend}: ${left} tensors left after disposing both models`);
  }
  printBackend(result);
  return result;
}

function printBackend(r: BackendResult): void {
  if (!r.models?.converted || !r.models.native || !r.plan) return;
  const { rounds, steps } = r.plan;
  console.log(`\n${r.backend}: prefill of ${PROMPT} tokens (B=1, median of ${rounds}) and ${steps} decode steps × ${rounds} `
    + 'round(s), models alternating; each step awaits data() on the logits');
  const cols = ['model', 'load ms', 'prefill ms', 'prefill tok/s', 'decode ms/tok (median/mean)', 'CPU ms/tok', 'leaked'];
  const lines = MODELS.map((name) => {
    const m = r.models![name]!;
    return [name, fmt(m.loadMs), fmt(median(m.prefillMs)), m.prefillTokensPerS.toFixed(1),
      `${fmt(m.medianStepMs)}/${fmt(m.meanStepMs)}`, fmt(m.medianStepCpuMs), String(m.leakedTensors)];
  });
  const widths = cols.map((c, i) => Math.max(c.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [cols, ...lines]) console.log(line.map((cell, i) => cell.padStart(widths[i]! + 2)).join(''));
  const ratio = r.ratio!;
  console.log(`${r.backend}: converted/native decode ${ratio.decode.toFixed(2)}× (target ≤ ${TARGET.maxRatio}×) `
    + `${ratio.pass ? 'PASS' : 'FAIL'}; CPU time per step ${ratio.decodeCpu.toFixed(2)}×; prefill ${ratio.prefill.toFixed(2)}×`);
  const ck = r.check!;
  console.log(`${r.backend}: prefill logits max |converted − native| = ${ck.prefillMaxAbsDiff.toExponential(2)} `
    + `(max |logit| ${ck.maxAbsLogit.toFixed(3)}); greedy tokens ${ck.sameTokens ? 'identical' : 'DIFFER'}`);
  for (const name of MODELS) {
    const m = r.models[name]!;
    if (m.leakedTensors !== 0) console.warn(`WARNING: ${r.backend} ${name}: ${m.leakedTensors} tensors leaked over the runs`);
  }
  for (const name of MODELS) {
    const p = r.profile?.[name];
    if (!p) continue;
    for (const phase of ['prefill', 'decode'] as const) {
      const q = p[phase];
      console.log(`${r.backend} ${name}, one profiled ${phase} call: ${q.kernels} kernels, ${fmt(q.wallMs)} ms wall; dearest:`);
      for (const k of q.top) console.log(`    ${k.kernel.padEnd(22)} ×${String(k.count).padStart(4)}  ${fmt(k.ms).padStart(7)} ms`);
    }
  }
}


// ---- memory and the peer, each runtime in its own process ----

/** RSS and the wasm heap of one model in a fresh process: after loading, peak over a long generation, after dispose. */
interface MemoryRun {
  model: string; weights: WeightsMode; rssBefore: number; rssAfterLoad: number; peakRss: number; rssAfterDispose: number;
  wasmHeap?: number; weightBytes: number; steps: number; firstPrefillMs: number; prefillMs: number; medianStepMs: number; medianStepCpuMs: number; tokens: number[];
}

const wasmHeapBytes = (): number | undefined => {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.byteLength;
};

/** The child's side: `--memory-child converted|native --dir DIR --steps N --weights packed|tfjs` (the DIR of that model). */
async function memoryChild(model: string, dir: string, steps: number): Promise<void> {
  await useBackend('wasm');
  const weights = (args.weights ?? 'packed') as WeightsMode;
  const weightBytes = Number(args['weight-bytes']);
  // V8 frees the memory of collected ArrayBuffers and wasm memories after the collection, on
  // another thread: two collections a moment apart, so that RSS shows what is still held.
  const settle = async () => {
    for (let i = 0; i < 2; i++) {
      global.gc?.();
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await settle();
  const rssBefore = process.memoryUsage().rss;
  const loaded = model === 'converted' ? await loadModel(dir, { weights }) : await loadHfCheckpoint(dir, { weights });
  promptVocab = loaded.config.vocabSize; // the parent's prompt (it was 0 here: a prompt of NaN ids, read as 0s)
  await settle();
  const rssAfterLoad = process.memoryUsage().rss;
  let peakRss = rssAfterLoad;
  const track = () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); };
  // The first prefill also pays one-time work (XNNPACK packs each weight on its first product): timed apart.
  const first = await generate(loaded, 1, track);
  const run = await generate(loaded, steps, track);
  const wasmHeap = wasmHeapBytes();
  loaded.dispose();
  await settle();
  const out: MemoryRun = {
    model, weights, rssBefore, rssAfterLoad, peakRss, rssAfterDispose: process.memoryUsage().rss, wasmHeap, weightBytes, steps,
    firstPrefillMs: first.prefillMs, prefillMs: run.prefillMs, medianStepMs: median(run.stepMs), medianStepCpuMs: median(run.stepCpuMs), tokens: run.tokens,
  };
  console.log(JSON.stringify(out));
}

/**
 * Runs a TypeScript file of this folder in a fresh Node process with --expose-gc; the last stdout
 * line is JSON. The file is bundled first (esbuild, packages left external) into a .child.cjs
 * beside it, so that the child is a plain `node` process as a user's would be: under tsx's loader
 * the bare process alone takes ~130 MB of RSS instead of ~70 (measured here), which the memory
 * figures would count.
 */
function runChild<T>(script: string, argv: string[]): T {
  const bundle = script.replace(/\.ts$/, '.child.cjs');
  try {
    buildSync({ entryPoints: [script], bundle: true, platform: 'node', format: 'cjs', packages: 'external', outfile: bundle, logLevel: 'warning' });
    const res = spawnSync(process.execPath, ['--expose-gc', bundle, ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const last = res.stdout.trim().split('\n').pop() ?? '';
    if (res.status !== 0 || !last.startsWith('{')) throw new Error(`${script} ${argv.join(' ')}: exit ${res.status}: ${res.stderr.slice(-800)}`);
    return JSON.parse(last) as T;
  } finally {
    rmSync(bundle, { force: true });
  }
}

interface PeerRun {
  threads: number; loadMs: number; rssAfterLoad: number; peakRss: number; rssEnd: number;
  runs: { prefillMs: number; stepMs: number[]; stepCpuMs: number[]; tokens: number[] }[];
}
interface PeerResult {
  skipped?: string; onnx?: string; exporter?: string; weightBytes?: number;
  memory?: MemoryRun[];
  peer?: { threads: number; loadMs: number; prefillTokensPerS: number; medianStepMs: number; medianStepCpuMs: number; longStepMs: number; longStepCpuMs: number;
    rssAfterLoad: number; peakRss: number; sameTokensAsConverted: boolean }[];
}

const MB = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

/**
 * For one shape on wasm: each model's memory in its own process (a long generation), then
 * onnxruntime-node on the ONNX export of the same checkpoint with 1 and 2 intra-op threads,
 * `rounds` runs each, its greedy tokens compared with the converted graph's.
 */
function memoryAndPeer(shape: string, hfDir: string, convertedDir: string, weightBytes: number, wasm: BackendResult | undefined): PeerResult {
  const result: PeerResult = { weightBytes };
  const longSteps = positiveInt('long-steps', args['long-steps']) ?? (args.quick ? 16 : 128);
  // Both weight modes: 'packed' (the default on wasm) and 'tfjs' (tensors, XNNPACK), side by side.
  result.memory = (['packed', 'tfjs'] as const).flatMap((weights) => MODELS.map((model) =>
    runChild<MemoryRun>(__filename, ['--memory-child', model, '--dir', model === 'converted' ? convertedDir : hfDir, '--steps', String(longSteps),
      '--weight-bytes', String(weightBytes), '--weights', weights])));
  console.log(`\n${shape}, wasm, each model in its own process (plain node), a ${PROMPT}-token prompt then ${longSteps} decode steps; float32 weights ${MB(weightBytes)}:`);
  for (const m of result.memory) {
    console.log(`  ${`${m.model}, ${m.weights}`.padEnd(17)} RSS after load ${MB(m.rssAfterLoad - m.rssBefore)} over the bare process (${MB(m.rssAfterLoad)} in all), `
      + `peak ${MB(m.peakRss)} = ${(m.peakRss / weightBytes).toFixed(2)}× the weights, after dispose ${MB(m.rssAfterDispose)}; `
      + `wasm heap ${m.wasmHeap ? MB(m.wasmHeap) : '?'}; decode ${fmt(m.medianStepMs)} ms/tok (CPU ${fmt(m.medianStepCpuMs)})`);
  }
  const peerDir = join(args.peer!, shape);
  const why = (() => {
    if (args['no-peer']) return '--no-peer';
    try { require.resolve('onnxruntime-node'); } catch { return 'onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.30.0)'; }
    if (!existsSync(join(peerDir, 'model.onnx')) || !existsSync(join(peerDir, 'onnx.json'))) {
      return `no ${join(peerDir, 'model.onnx')} (npm run bench:model -- --write-checkpoint ${args.peer} --shapes ${shape} --dtype F32; `
        + `python benchmarks/peer/export_onnx.py ${peerDir})`;
    }
    const meta = JSON.parse(readFileSync(join(peerDir, 'onnx.json'), 'utf8')) as { checkpointSha256: string; exporter: string };
    if (meta.checkpointSha256 !== checkpointSha(hfDir)) return `${peerDir}/model.onnx was exported from other weights than this run's (the peer needs --dtype F32)`;
    result.exporter = meta.exporter;
    return undefined;
  })();
  if (why) {
    result.skipped = why;
    console.log(`  onnxruntime-node: skipped (${why})`);
    return result;
  }
  result.onnx = join(peerDir, 'model.onnx');
  const steps = wasm?.plan?.steps ?? 32;
  const rounds = wasm?.plan?.rounds ?? 1;
  // As long as the memory children's runs (the own-process comparison); the in-process comparison reads the first `steps`.
  const ours = wasm?.models?.converted?.tokens;
  let onePeerTokens: number[] = [];
  result.peer = [1, 2].map((threads) => {
    const p = runChild<PeerRun>(join(__dirname, 'peer', 'ort-run.ts'),
      [peerDir, '--threads', String(threads), '--steps', String(Math.max(steps, longSteps)), '--rounds', String(rounds), '--prompt', String(PROMPT)]);
    if (threads === 1) onePeerTokens = p.runs[0]!.tokens;
    return {
      threads, loadMs: p.loadMs, prefillTokensPerS: PROMPT / (median(p.runs.map((r) => r.prefillMs)) / 1000),
      medianStepMs: median(p.runs.flatMap((r) => r.stepMs.slice(0, steps))), medianStepCpuMs: median(p.runs.flatMap((r) => r.stepCpuMs.slice(0, steps))),
      longStepMs: median(p.runs.flatMap((r) => r.stepMs.slice(0, longSteps))), longStepCpuMs: median(p.runs.flatMap((r) => r.stepCpuMs.slice(0, longSteps))),
      rssAfterLoad: p.rssAfterLoad, peakRss: p.peakRss, sameTokensAsConverted: !!ours && ours.join() === p.runs[0]!.tokens.slice(0, ours.length).join(),
    };
  });
  for (const p of result.peer) {
    console.log(`  onnxruntime-node ${p.threads} thread(s) (${result.exporter} export): prefill ${p.prefillTokensPerS.toFixed(0)} tok/s, `
      + `decode ${fmt(p.medianStepMs)} ms/tok (CPU ${fmt(p.medianStepCpuMs)}), peak RSS ${MB(p.peakRss)} = ${(p.peakRss / weightBytes).toFixed(2)}× the weights; `
      + `greedy tokens ${p.sameTokensAsConverted ? 'identical to' : 'DIFFER from'} the converted graph's`);
  }
  const one = result.peer[0]!;
  if (wasm?.models?.converted && wasm.models.native) {
    for (const name of MODELS) {
      const m = wasm.models[name]!;
      console.log(`  ${name} / onnxruntime-node (1 thread), ${steps} steps in process: decode ${(m.medianStepMs / one.medianStepMs).toFixed(2)}× wall, `
        + `${(m.medianStepCpuMs / one.medianStepCpuMs).toFixed(2)}× CPU (target ≤ 1.1×); prefill ${(one.prefillTokensPerS / m.prefillTokensPerS).toFixed(2)}× slower`);
    }
  }
  for (const m of result.memory) {
    console.log(`  ${`${m.model}, ${m.weights}`.padEnd(17)} / onnxruntime-node (1 thread), ${longSteps} steps, own processes: decode `
      + `${(m.medianStepMs / one.longStepMs).toFixed(2)}× wall, ${(m.medianStepCpuMs / one.longStepCpuMs).toFixed(2)}× CPU; `
      + `prefill ${(m.prefillMs / (PROMPT / one.prefillTokensPerS * 1000)).toFixed(2)}× its time; greedy tokens `
      + `${m.tokens.join() === onePeerTokens.slice(0, m.tokens.length).join() ? 'identical' : 'DIFFER'}`);
  }
  return result;
}

// ---- main ----

const tempDirs: string[] = [];
function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  removeTempDirs();
  process.exit(130);
});

/**
 * `--write-checkpoint DIR`: writes the random checkpoint of each --shapes entry (DIR/<shape>/) and
 * exits, for benchmarks/peer/export_onnx.py to export the same weights to ONNX.
 */
async function writeCheckpointsOnly(root: string): Promise<void> {
  const dtype = args.dtype as SafetensorsFloatDtype;
  for (const name of args.shapes!.split(',').map((x) => x.trim()).filter(Boolean)) {
    const entry = SHAPES[name];
    if (!entry) throw new Error(`--shapes: unknown ${name}; known: ${Object.keys(SHAPES).join(', ')}`);
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const params = await writeRandomCheckpoint(dir, dtype, entry.shape);
    console.log(`${dir}: ${entry.label}, ${(params / 1e6).toFixed(1)} M parameters, ${dtype}, sha256 ${checkpointSha(dir)}`);
  }
}

/** The sha256 of a checkpoint's model.safetensors: ties an exported ONNX file to its weights. */
function checkpointSha(dir: string): string {
  return createHash('sha256').update(readFileSync(join(dir, 'model.safetensors'))).digest('hex');
}

async function main(): Promise<void> {
  if (args['write-checkpoint']) return writeCheckpointsOnly(args['write-checkpoint']);
  if (args['memory-child']) return memoryChild(args['memory-child'], args.dir!, positiveInt('steps', args.steps) ?? 128);
  const backends = args.backends!.split(',').map((b) => b.trim()).filter(Boolean);
  const dtype = args.dtype as SafetensorsFloatDtype;
  if (dtype !== 'BF16' && dtype !== 'F32') throw new Error(`--dtype must be BF16 or F32, got ${args.dtype}`);
  const shapeNames = args.shapes!.split(',').map((x) => x.trim()).filter(Boolean);
  for (const name of shapeNames) if (!SHAPES[name]) throw new Error(`--shapes: unknown ${name}; known: ${Object.keys(SHAPES).join(', ')}`);
  console.log(`entropix model benchmark: backends ${backends.join(', ')}; ${dtype} checkpoints, weights N(0, ${WEIGHT_STD}²)`);
  const started = Date.now();
  const results: { shape: string; graphNodes: number; params: number; writeMs: number; convertMs: number; results: BackendResult[]; peer?: PeerResult }[] = [];
  const bundled: BackendResult[] = [];
  const nodeCount = (dir: string): number =>
    (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { modelTopology: { node: unknown[] } }).modelTopology.node.length;
  try {
    for (const name of shapeNames) {
      const { label, shape: s } = SHAPES[name]!;
      console.log(`\nRandom ${label} Llama (${s.numLayers} layers, hidden ${s.hiddenSize}, ${s.numHeads}/${s.numKvHeads} heads × ${s.headDim}, `
        + `intermediate ${s.intermediateSize}, vocab ${s.vocabSize}, tied)`);
      const hfDir = mkdtempSync(join(tmpdir(), 'entropix-bench-hf-'));
      tempDirs.push(hfDir);
      const convRoot = mkdtempSync(join(tmpdir(), 'entropix-bench-converted-'));
      tempDirs.push(convRoot);
      const convertedDir = join(convRoot, 'model');
      let t0 = performance.now();
      const params = await writeRandomCheckpoint(hfDir, dtype, s);
      const writeMs = performance.now() - t0;
      console.log(`Checkpoint: ${(params / 1e6).toFixed(1)} M parameters written in ${(writeMs / 1000).toFixed(1)} s`);
      t0 = performance.now();
      await convertHfCheckpoint(hfDir, convertedDir);
      const convertMs = performance.now() - t0;
      const graphNodes = nodeCount(convertedDir);
      console.log(`Conversion (convertHfCheckpoint, float32 shards): ${(convertMs / 1000).toFixed(1)} s; ${graphNodes} graph nodes`);
      promptVocab = s.vocabSize;
      const entry = { shape: name, graphNodes, params, writeMs, convertMs, results: [] as BackendResult[], peer: undefined as PeerResult | undefined };
      for (const backend of backends) entry.results.push(await benchBackend(backend, hfDir, convertedDir));
      if (backends.includes('wasm')) entry.peer = memoryAndPeer(name, hfDir, convertedDir, 4 * params, entry.results[backends.indexOf('wasm')]);
      results.push(entry);
      removeTempDirs();
    }
    // The bundled model: its converted graph against the native model on the same weights.
    console.log(`\nThe bundled model (${BUNDLED_DIR}, ${nodeCount(BUNDLED_DIR)} graph nodes): converted graph vs native model on its weights`);
    const bundledHf = mkdtempSync(join(tmpdir(), 'entropix-bench-bundled-'));
    tempDirs.push(bundledHf);
    await hfFromConverted(BUNDLED_DIR, bundledHf);
    promptVocab = JSON.parse(readFileSync(join(BUNDLED_DIR, 'config.json'), 'utf8')).vocab_size;
    for (const backend of backends) bundled.push(await benchBackend(backend, bundledHf, BUNDLED_DIR));
  } finally {
    removeTempDirs();
  }

  console.log('\nmodel     backend     converted ms/tok   native ms/tok   ratio   CPU ratio   conv. tok/s   native tok/s');
  const rows = [...results.flatMap((e) => e.results.map((x) => ({ ...x, label: e.shape }))), ...bundled.map((x) => ({ ...x, label: 'bundled' }))];
  for (const r of rows) {
    const c = r.models?.converted;
    const n = r.models?.native;
    if (!c || !n || !r.ratio) {
      console.log(`${r.label.padEnd(8)}  ${r.backend.padEnd(10)}  ${r.skipped ? `skipped (${r.skipped})` : `failed (${r.error})`}`);
      continue;
    }
    console.log(`${r.label.padEnd(8)}  ${r.backend.padEnd(10)}  ${fmt(c.medianStepMs).padStart(16)}  ${fmt(n.medianStepMs).padStart(14)}  `
      + `${`${r.ratio.decode.toFixed(2)}×`.padStart(6)}  ${`${r.ratio.decodeCpu.toFixed(2)}×`.padStart(10)}  ${c.prefillTokensPerS.toFixed(1).padStart(12)}  `
      + `${n.prefillTokensPerS.toFixed(1).padStart(13)}   ${r.ratio.pass ? 'PASS' : 'FAIL'}`);
  }

  for (const e of results) {
    for (const p of e.peer?.peer ?? []) {
      console.log(`${e.shape.padEnd(8)}  ${`ort ${p.threads}t`.padEnd(10)}  ${fmt(p.medianStepMs).padStart(16)} ms/tok, CPU ${fmt(p.medianStepCpuMs)} ms/tok, `
        + `${p.prefillTokensPerS.toFixed(1)} prefill tok/s, peak RSS ${MB(p.peakRss)}`);
    }
    for (const m of e.peer?.memory ?? []) {
      console.log(`${e.shape.padEnd(8)}  ${`${m.model} ${m.weights} RSS`.padEnd(10)}  peak ${MB(m.peakRss)} = ${(m.peakRss / m.weightBytes).toFixed(2)}× the weights (target ≤ 1.3×) `
        + `${m.peakRss <= 1.3 * m.weightBytes ? 'PASS' : 'FAIL'}`);
    }
    if (e.peer?.skipped) console.log(`${e.shape.padEnd(8)}  peer        skipped (${e.peer.skipped})`);
  }

  const file = writeResults('model', backends, !!args.quick, {
    shapes: Object.fromEntries(shapeNames.map((n) => [n, SHAPES[n]!.shape])),
    settings: { checkpointDtype: dtype, convertedDtype: 'float32', weightStd: WEIGHT_STD, batch: 1, prompt: PROMPT },
    target: { decodeRatioMax: TARGET.maxRatio },
    bundledModel: { dir: 'models/kjv-tiny', graphNodes: nodeCount(BUNDLED_DIR), results: bundled },
    seconds: (Date.now() - started) / 1000,
    results,
  }, (k: string, v: unknown) => (k === 'prefillLogits' ? undefined : v));
  console.log(`Results written to ${file}`);
}

main().catch((e) => {
  removeTempDirs();
  console.error(e);
  process.exitCode = 1;
});
