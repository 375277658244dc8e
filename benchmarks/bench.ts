// One benchmark across backends: the sampler, decode and model benchmarks on every backend found
// here, each job in its own child process, then one JSON, a Markdown report and SVG charts.
//
//   npm run bench -- [--quick] [--backends cpu,wasm,tensorflow,webgpu-software,webgpu] [--no-peer] [--no-export] [--minutes N] [--dry-run]
//   npm run bench -- --report results/<name>.json   (rewrites its Markdown and charts)
//
// Backends: cpu, wasm, tensorflow (after `npm run setup:tensorflow`), webgpu on a software adapter
// (ENTROPIX_WEBGPU_SOFTWARE=1: Mesa's llvmpipe) and webgpu on a GPU adapter where Dawn finds one;
// a backend that does not start is recorded as skipped with the reason. Jobs per backend: sampler
// (benchmarks/sampler.ts: one step on the device against the same step on the host), decode
// (benchmarks/decode.ts: greedy vs Entropix tokens/s in the same run, bundled and SmolLM2-135M-
// shaped model, one row and a batch), prefill (a long prompt through the SmolLM2-shaped graph),
// graph (the converted SmolLM2-shaped graph under the peer's protocol, wasm and tensorflow) and
// model (benchmarks/model.ts: converted graph vs native model; full run only). Then the peer:
// onnxruntime-node at 1 and 2 intra-op threads on the ONNX export of the same float32 weights
// (benchmarks/peer/prepare.ts makes it once when Python can; --no-peer, --no-export).
// It prints the plan (sizes, estimated time) first, then a progress line per job.
// Writes results/<date>-<machine>[-quick].json, .md and <same>-*.svg.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem, loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { writeReport } from './report/write';
import type { BenchJson } from './report/write';
import type { PeerSetup } from './peer/prepare';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'cpu,wasm,tensorflow,webgpu-software,webgpu' },
    child: { type: 'string' }, // internal: run one backend's jobs (JSON spec) and write their results
    report: { type: 'string' }, // only rewrite the Markdown and charts of a results JSON
    'no-peer': { type: 'boolean', default: false }, // leave onnxruntime-node out
    'no-export': { type: 'boolean', default: false }, // use an ONNX export that is there, never make one
    minutes: { type: 'string' }, // the time limit (default 5 quick, 30 full)
    'dry-run': { type: 'boolean', default: false }, // print the plan and its estimate, run nothing
  },
});
const quick = !!args.quick;

/** A backend as the bench names it: the tfjs backend and the environment its child gets. */
export const TARGETS: Record<string, { backend: string; env: Record<string, string | undefined> }> = {
  cpu: { backend: 'cpu', env: {} },
  wasm: { backend: 'wasm', env: {} },
  tensorflow: { backend: 'tensorflow', env: {} },
  'webgpu-software': { backend: 'webgpu', env: { ENTROPIX_WEBGPU_SOFTWARE: '1' } },
  // A GPU adapter only: without ENTROPIX_WEBGPU_SOFTWARE a software one is refused.
  webgpu: { backend: 'webgpu', env: { ENTROPIX_WEBGPU_SOFTWARE: undefined, ENTROPIX_WEBGPU_FLAGS: undefined } },
};

type JobKind = 'sampler' | 'decode' | 'prefill' | 'graph' | 'model' | 'peer';
export interface Job {
  kind: JobKind; target: string; label: string;
  model?: string; modelName?: string; batch?: number; tokens?: number; rounds?: number; promptLength?: number;
  iters?: number; batches?: number[]; vocabs?: number[]; steps?: number; threads?: number[]; budgetS?: number;
  /** The job's sizes in words, as the plan prints them. */
  sizes: string;
  /** Seconds this job is expected to take: the last committed run of the same plan, else a default. */
  estimateS?: number;
}

/** The pseudo-target the peer runs under: onnxruntime-node, after the backends it is compared with. */
export const PEER = 'onnxruntime';

/**
 * The plan's sizes, quick and full, for the fast backends (wasm, tensorflow, webgpu on a GPU) and
 * the slow ones (cpu, webgpu on llvmpipe: the SmolLM2-shaped model runs 10–50× slower there, so
 * they get one batch size in the sampler, fewer tokens, a shorter prompt and a smaller model
 * budget: enough for a median with a spread). null: not run.
 */
type Sizes = {
  sampler: { batches: number[]; vocabs: number[]; iters: number };
  bundled: { tokens: number; rounds: number }; smollm1: { tokens: number; rounds: number } | null;
  smollm4: { tokens: number; rounds: number } | null; prefill: { promptLength: number; rounds: number } | null;
  model: { budgetS: number } | null;
};
export const SIZES: Record<'quick' | 'full', { fast: Sizes; slow: Sizes; llvmpipe: Sizes; peer: { promptLength: number; steps: number; rounds: number } }> = {
  quick: {
    fast: { sampler: { batches: [1], vocabs: [32000, 128256], iters: 5 }, bundled: { tokens: 32, rounds: 3 }, smollm1: { tokens: 6, rounds: 3 },
      smollm4: { tokens: 4, rounds: 3 }, prefill: { promptLength: 128, rounds: 2 }, model: null },
    slow: { sampler: { batches: [1], vocabs: [32000, 128256], iters: 5 }, bundled: { tokens: 16, rounds: 3 }, smollm1: null,
      smollm4: null, prefill: null, model: null },
    llvmpipe: { sampler: { batches: [1], vocabs: [32000, 128256], iters: 5 }, bundled: { tokens: 16, rounds: 3 }, smollm1: null,
      smollm4: null, prefill: null, model: null },
    peer: { promptLength: 64, steps: 8, rounds: 2 },
  },
  full: {
    fast: { sampler: { batches: [1, 8], vocabs: [32000, 49152, 128256], iters: 30 }, bundled: { tokens: 96, rounds: 5 },
      smollm1: { tokens: 32, rounds: 5 }, smollm4: { tokens: 16, rounds: 3 }, prefill: { promptLength: 512, rounds: 3 }, model: { budgetS: 120 } },
    slow: { sampler: { batches: [1], vocabs: [32000, 49152, 128256], iters: 10 }, bundled: { tokens: 32, rounds: 3 },
      smollm1: { tokens: 4, rounds: 3 }, smollm4: { tokens: 2, rounds: 3 }, prefill: { promptLength: 64, rounds: 2 }, model: { budgetS: 45 } },
    // webgpu on llvmpipe checks the path more than it measures a device: no batched SmolLM2 decode
    llvmpipe: { sampler: { batches: [1], vocabs: [32000, 49152, 128256], iters: 10 }, bundled: { tokens: 16, rounds: 3 },
      smollm1: { tokens: 3, rounds: 3 }, smollm4: null, prefill: { promptLength: 64, rounds: 2 }, model: { budgetS: 30 } },
    peer: { promptLength: 128, steps: 32, rounds: 3 },
  },
};
/** The order the backends run in: what the recommendation and the peer need first, the slow references last. */
const ORDER = ['wasm', 'tensorflow', 'webgpu', 'cpu', 'webgpu-software'];

/** The plan: per backend, what runs and how big (SIZES). */
function plan(targets: string[], smollmDir: string, peer: boolean): Job[] {
  const jobs: Job[] = [];
  const mode = quick ? SIZES.quick : SIZES.full;
  const ordered = [...targets].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const models: Job[] = [];
  for (const target of ordered) {
    const z = target === 'cpu' ? mode.slow : target === 'webgpu-software' ? mode.llvmpipe : mode.fast;
    jobs.push({ kind: 'sampler', target, label: 'sampler', ...z.sampler,
      sizes: `B ${z.sampler.batches.join(', ')}; V ${z.sampler.vocabs.join(', ')}; ${z.sampler.iters} iterations` });
    const decode = (label: string, batch: number, d: { tokens: number; rounds: number } | null, smollm: boolean) => {
      if (d) {
        jobs.push({ kind: 'decode', target, label, ...(smollm ? { model: smollmDir, modelName: 'smollm' } : { modelName: 'bundled' }), batch, ...d,
          sizes: `${d.tokens} tokens × ${d.rounds} rounds × greedy, entropix` });
      }
    };
    decode('decode bundled B=1', 1, z.bundled, false);
    decode('decode SmolLM2 B=1', 1, z.smollm1, true);
    decode('decode SmolLM2 B=4', 4, z.smollm4, true);
    if (z.prefill) {
      jobs.push({ kind: 'prefill', target, label: 'prefill SmolLM2', model: smollmDir, modelName: 'smollm', ...z.prefill,
        sizes: `${z.prefill.promptLength} tokens × ${z.prefill.rounds} rounds` });
    }
    if (peer && (target === 'wasm' || target === 'tensorflow')) {
      const graph: Job = { kind: 'graph', target, label: 'graph SmolLM2 (peer protocol)', model: smollmDir, modelName: 'smollm', ...mode.peer,
        sizes: `prompt ${mode.peer.promptLength}, ${mode.peer.steps} greedy steps × ${mode.peer.rounds} rounds` };
      // wasm's graph job last, then the peer, then tensorflow's graph job first: the three side by side
      if (target === 'tensorflow') jobs.splice(jobs.findIndex((j) => j.target === 'tensorflow'), 0, graph);
      else jobs.push(graph);
      if (target === 'wasm' || !targets.includes('wasm')) {
        jobs.push({ kind: 'peer', target: PEER, label: 'onnxruntime-node (peer)', ...mode.peer, threads: [1, 2],
          sizes: `intra-op threads 1 and 2, each: prompt ${mode.peer.promptLength}, ${mode.peer.steps} greedy steps × ${mode.peer.rounds} rounds` });
      }
    }
    if (z.model) {
      models.push({ kind: 'model', target, label: 'model (bench:model)', budgetS: z.model.budgetS,
        sizes: `--shapes smollm --dtype F32 --budget ${z.model.budgetS} --no-peer, and the bundled model` });
    }
    // bench:model of wasm and tensorflow after both, so as not to come between the graph jobs and the peer
    if (target !== 'wasm' || !targets.includes('tensorflow')) jobs.push(...models.splice(0));
  }
  return jobs;
}

/**
 * Default estimates (s) where no committed run has the job with the same sizes: measured or
 * extrapolated on this 2-core machine under a load average of ~14 (2026-12-02).
 */
function defaultEstimate(job: Job): number {
  const slow = job.target === 'cpu' || job.target === 'webgpu-software';
  const llvmpipe = job.target === 'webgpu-software';
  const key = job.kind === 'decode' ? `decode ${job.modelName} B=${job.batch}` : job.kind;
  const table: Record<string, [number, number, number]> = { // [fast quick, fast full, slow full]; slow quick: see below
    sampler: [4, 60, 90], 'decode bundled B=1': [8, 20, 60], 'decode smollm B=1': [28, 60, 150], 'decode smollm B=4': [40, 45, 150],
    prefill: [30, 110, 100], graph: [20, 40, 0], model: [0, 150, 200], peer: [36, 60, 0],
  };
  const [fq, ff, sf] = table[key] ?? [30, 60, 120];
  if (!slow) return quick ? fq : ff;
  if (quick) return job.kind === 'sampler' ? (llvmpipe ? 25 : 40) : llvmpipe ? 60 : 15;
  return llvmpipe && job.kind === 'decode' ? sf * 1.5 : sf;
}

/** Estimates from the newest committed bench JSON of the same mode that ran the same job with the same sizes. */
function estimate(jobs: Job[], dir: string): string | undefined {
  let source: string | undefined;
  const past = new Map<string, number>();
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}-.*\.json$/.test(f)).sort() : [];
  for (const f of files) {
    try {
      const j = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { quick?: boolean; jobs?: (Job & { seconds: number; error?: string; skipped?: string })[] };
      for (const x of j.jobs ?? []) {
        if (j.quick === quick && x.sizes && x.seconds > 0 && !x.error && !x.skipped) { past.set(`${x.target}|${x.label}|${x.sizes}`, x.seconds); source = f; }
        // a backend that did not start last time (webgpu without a GPU) most likely will not now: a few seconds
        if (x.skipped && x.seconds === 0 && !x.skipped.startsWith('not started') && x.target !== PEER) past.set(`${x.target}|skipped`, 1);
      }
    } catch { /* not a bench JSON */ }
  }
  for (const job of jobs) {
    job.estimateS = past.get(`${job.target}|${job.label}|${job.sizes}`) ?? past.get(`${job.target}|skipped`) ?? defaultEstimate(job);
  }
  return source;
}

// ---- the child: one job ----

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function prefill(job: Job): Promise<object> {
  const { loadModel, tf } = await import('../lib/node');
  const model = await loadModel(job.model!);
  try {
    const n = job.promptLength!;
    const ids = tf.tensor2d([Array.from({ length: n }, (_, i) => (i * 7919 + 17) % model.config.vocabSize)], [1, n], 'int32');
    const once = async (): Promise<number> => {
      const t0 = performance.now();
      const out = model.forward(ids, null);
      await out.logits.data();
      const ms = performance.now() - t0;
      tf.dispose([out.logits, out.attentionScores]);
      out.cache.dispose();
      return ms;
    };
    await once(); // warm-up: kernels, shapes
    const ms: number[] = [];
    for (let r = 0; r < job.rounds!; r++) ms.push(await once());
    ids.dispose();
    return { promptLength: n, ms, tokensPerSecond: ms.map((x) => n / (x / 1000)), medianTokensPerSecond: n / (median(ms) / 1000) };
  } finally {
    model.dispose();
  }
}

async function runJob(job: Job, backend: string): Promise<object> {
  if (job.kind === 'sampler') {
    const { runSampler } = await import('./sampler');
    const { results } = await runSampler({ backends: [backend], quick, iters: String(job.iters), batches: job.batches, vocabs: job.vocabs });
    return results[0]!;
  }
  if (job.kind === 'graph') {
    const { loadModel } = await import('../lib/node');
    const { graphRun } = await import('./peer/graph-run');
    const model = await loadModel(job.model!);
    try {
      return { promptLength: job.promptLength, steps: job.steps, runs: await graphRun(model, job.promptLength!, job.steps!, job.rounds!) };
    } finally {
      model.dispose();
    }
  }
  if (job.kind === 'decode') {
    const { runDecode, BUNDLED_MODEL } = await import('./decode');
    const r = await runDecode({
      backends: [backend], model: job.model ?? BUNDLED_MODEL, tokens: job.tokens!, rounds: job.rounds!, batch: job.batch!,
      modes: ['greedy', 'entropix'], warmupTokens: Math.min(8, job.tokens!),
    });
    return { ...r[backend]!, tokens: job.tokens, rounds: job.rounds, batch: job.batch };
  }
  return prefill(job);
}

/** One backend's jobs in one process; each result is written as soon as it is there. */
async function runChild(jobs: Job[], out: string, deadline: number, limitMin: number): Promise<void> {
  const backend = TARGETS[jobs[0]!.target]!.backend;
  const { useBackend, backendInfo } = await import('../lib/node');
  const done: object[] = [];
  const save = () => writeFileSync(out, JSON.stringify(done));
  try {
    await useBackend(backend as never);
  } catch (e) {
    done.push({ skipped: e instanceof Error ? e.message : String(e) });
    save();
    return;
  }
  const info = backendInfo();
  for (const [i, job] of jobs.entries()) {
    console.log(`@@bench ${i}`);
    const t0 = Date.now();
    if (t0 + job.estimateS! * 1000 > deadline) {
      done.push({ backendInfo: info, skipped: `not started: its estimate (${Math.round(job.estimateS!)} s) did not fit the ${limitMin}-minute limit`, seconds: 0 });
      save();
      continue;
    }
    try {
      done.push({ backendInfo: info, result: await runJob(job, backend), seconds: (Date.now() - t0) / 1000 });
    } catch (e) {
      console.error(e);
      done.push({ backendInfo: info, error: e instanceof Error ? e.message : String(e), seconds: (Date.now() - t0) / 1000 });
    }
    save();
  }
}

// ---- the parent ----

/** A short name for this machine: the CPU and its core count (hostnames here are random). */
function machineSlug(): string {
  const model = (cpus()[0]?.model ?? 'cpu').toLowerCase().replace(/\(r\)|\(tm\)|processor|\d+-core|cpu|@.*$/g, '')
    .trim().split(/\s+/).slice(0, 3).join('-').replace(/[^a-z0-9-]/g, '');
  return `${cpus().length}core-${model}`;
}

const fmtS = (ms: number): string => `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}`;

/** The process group of the command running now: killed with us on Ctrl-C. */
let running: number | undefined;

/**
 * Runs a command with its output in the log; a progress line shows the job, its time and its last
 * line. At `killAt` the command's process group is killed (tsx runs the script in a child of its own).
 */
function runLogged(cmd: string[], env: NodeJS.ProcessEnv, log: string[], status: (job: number) => string, started: number, killAt: number):
  Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running = child.pid;
    const kill = setTimeout(() => {
      log.push(`\n[bench] stopped at the time limit\n`);
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, Math.max(0, killAt - Date.now()));
    const t0 = Date.now();
    let last = '';
    let job = 0;
    let jobStarted = Date.now();
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      log.push(text);
      for (const l of text.split('\n').map((x) => x.trim()).filter(Boolean)) {
        const marker = /^@@bench (\d+)$/.exec(l);
        if (marker) { job = Number(marker[1]); jobStarted = Date.now(); last = ''; } else if (!/^=+$/.test(l)) last = l;
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const tty = process.stdout.isTTY;
    const show = () => {
      const line = `${status(job)} ${fmtS(Date.now() - jobStarted)} (backend ${fmtS(Date.now() - t0)}, total ${fmtS(Date.now() - started)}) ${last.slice(0, 60)}`;
      if (tty) process.stdout.write(`\r\x1b[K${line}`);
      else console.log(line);
    };
    const timer = setInterval(show, tty ? 1000 : 15000);
    show();
    child.on('close', (code) => {
      clearInterval(timer);
      clearTimeout(kill);
      running = undefined;
      if (tty) process.stdout.write('\r\x1b[K');
      resolve({ code: code ?? 1, stdout });
    });
  });
}

async function main(): Promise<void> {
  if (args.child) {
    const { jobs, out, deadline, limitMin } = JSON.parse(args.child) as { jobs: Job[]; out: string; deadline: number; limitMin: number };
    await runChild(jobs, out, deadline, limitMin);
    return;
  }
  if (args.report) {
    const file = args.report.replace(/\.json$/, '');
    const json = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as BenchJson;
    console.log(`Wrote ${writeReport(json, dirname(file), basename(file)).join(', ')}`);
    return;
  }
  const targets = args.backends!.split(',').map((b) => b.trim()).filter(Boolean);
  for (const t of targets) if (!TARGETS[t]) throw new Error(`--backends: unknown ${t}; known: ${Object.keys(TARGETS).join(', ')}`);
  const started = Date.now();
  const loadAverageAtStart = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'entropix-bench-'));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (running) try { process.kill(-running, 'SIGKILL'); } catch { /* gone */ }
      cleanup();
      process.exit(130);
    });
  }
  const log: string[] = [];
  const tsx = [process.execPath, join(__dirname, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs')];
  const resultsDir = process.env.ENTROPIX_BENCH_RESULTS_DIR ?? join(__dirname, 'results'); // as record.ts
  const { SMOLLM, SMOLLM_CHECKPOINT, writeSmolLmShaped } = await import('./report/smollm');
  const { preparePeer } = await import('./peer/prepare');
  try {
    const smollmDir = join(work, 'smollm');
    const peerWanted = !args['no-peer'] && targets.some((t) => t === 'wasm' || t === 'tensorflow');
    const jobs = plan(targets, smollmDir, peerWanted);
    const source = estimate(jobs, resultsDir);
    const stages = [...new Set(jobs.map((j) => j.target))];
    const limitMin = Number(args.minutes ?? (quick ? 5 : 30));
    if (!(limitMin > 0)) throw new Error(`--minutes must be a positive number, got ${args.minutes}`);
    const deadline = started + limitMin * 60_000 - 20_000; // 20 s for the report
    const needCheckpoint = !existsSync(join(SMOLLM_CHECKPOINT, 'model.safetensors'));
    const setupS = (needCheckpoint ? 70 : 0) + 30 + 8 * stages.length; // checkpoint, conversion, each child's start
    const estimatedS = setupS + jobs.reduce((a, j) => a + j.estimateS!, 0);
    console.log(`entropix bench${quick ? ' --quick' : ''}: ${targets.join(', ')}${peerWanted ? ` + ${PEER}` : ''}; `
      + `load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);
    console.log(`Plan: ${jobs.length} jobs, estimated ${fmtS(estimatedS * 1000)} in all (${source ? `the jobs' times in results/${source} where the sizes match, else defaults` : 'defaults'}; `
      + `set-up ${setupS} s); an ONNX export, when one is made, comes on top`);
    console.log(`Time limit ${limitMin} min (--minutes): a job whose estimate no longer fits is not started, a running one is stopped at the limit`);
    for (const j of jobs) console.log(`  ${j.target.padEnd(16)} ${j.label.padEnd(30)} ${j.sizes.padEnd(74)} ~${fmtS(j.estimateS! * 1000)}`);
    if (args['dry-run']) return;

    console.log(`The random SmolLM2-135M-shaped float32 checkpoint: ${relative(process.cwd(), SMOLLM_CHECKPOINT)}${needCheckpoint ? ' (writing it once)' : ''}; converting it…`);
    await writeSmolLmShaped(smollmDir);
    let peerSetup: PeerSetup | undefined;
    if (peerWanted) {
      console.log('The peer: onnxruntime-node on the ONNX export of that checkpoint (exporting it when there is none; minutes, once)…');
      peerSetup = preparePeer(SMOLLM_CHECKPOINT, !args['no-export'], (t) => log.push(`\n===== export\n${t}`));
      console.log(peerSetup.skipped ? `The peer: skipped (${peerSetup.skipped})`
        : `The peer: onnxruntime-node ${peerSetup.onnxruntime}, ${peerSetup.meta!.exporter} export (opset ${peerSetup.meta!.opset}, torch ${peerSetup.meta!.torch})`
          + `${peerSetup.exportSeconds ? `, made now in ${peerSetup.exportSeconds.toFixed(0)} s` : ''}`);
    }

    const results: (Job & { seconds: number; skipped?: string; error?: string; backendInfo?: object; result?: unknown })[] = [];
    const statusOf = (job: Job) => `[${jobs.indexOf(job) + 1}/${jobs.length}] ${job.target} ${job.label} (est. ${fmtS(job.estimateS! * 1000)}):`;
    const overTime = (job: Job) => (Date.now() + job.estimateS! * 1000 > deadline
      ? `not started: its estimate (${fmtS(job.estimateS! * 1000)}) did not fit the ${limitMin}-minute limit` : undefined);
    const backendSkipped = new Map<string, string>();
    // Segments: a backend's consecutive child jobs run in one process; model and peer jobs alone.
    const segments: Job[][] = [];
    for (const job of jobs) {
      const last = segments[segments.length - 1];
      const inChild = job.kind !== 'model' && job.kind !== 'peer';
      if (inChild && last && last[0]!.target === job.target && last[0]!.kind !== 'model') last.push(job);
      else segments.push([job]);
    }
    for (const segment of segments) {
      const first = segment[0]!;
      const target = first.target;
      const t0 = Date.now();
      const skippedBefore = backendSkipped.get(target);
      if (skippedBefore) { for (const job of segment) results.push({ ...job, seconds: 0, skipped: skippedBefore }); continue; }
      const env = { ...process.env, ...(TARGETS[target]?.env ?? {}) };
      for (const [k, v] of Object.entries(TARGETS[target]?.env ?? {})) if (v === undefined) delete env[k];
      if (first.kind === 'peer') {
        const job = first;
        if (!peerSetup?.dir) { results.push({ ...job, seconds: 0, skipped: peerSetup?.skipped ?? '--no-peer' }); continue; }
        const late = overTime(job);
        if (late) { results.push({ ...job, seconds: 0, skipped: late }); continue; }
        log.push(`\n===== ${PEER}\n`);
        const runs: object[] = [];
        let error: string | undefined;
        for (const threads of job.threads!) {
          const { code, stdout } = await runLogged([...tsx, join(__dirname, 'peer', 'ort-run.ts'), peerSetup.dir, '--threads', String(threads),
            '--steps', String(job.steps), '--rounds', String(job.rounds), '--prompt', String(job.promptLength), '--warmup'],
          process.env, log, () => `${statusOf(job)} ${threads} thread(s)`, started, deadline);
          const last = stdout.trim().split('\n').pop() ?? '';
          if (code !== 0 || !last.startsWith('{')) { error = `ort-run.ts --threads ${threads} exited with ${code}; see the log`; break; }
          runs.push(JSON.parse(last) as object);
        }
        const seconds = (Date.now() - t0) / 1000;
        results.push(error ? { ...job, seconds, error } : { ...job, seconds, result: { promptLength: job.promptLength, steps: job.steps, threads: runs } });
        console.log(`${PEER}: ${error ?? 'done'} (${fmtS(Date.now() - t0)}; total ${fmtS(Date.now() - started)} of est. ${fmtS(estimatedS * 1000)})`);
        continue;
      }
      if (first.kind === 'model') {
        // bench:model as its own command; its results land in our folder, not in results/. The peer runs in bench, not there.
        const late = overTime(first);
        if (late) { results.push({ ...first, seconds: 0, skipped: late }); continue; }
        const dir = join(work, `model-${target}`);
        mkdirSync(dir);
        log.push(`\n===== ${target} bench:model\n`);
        const { code } = await runLogged([...tsx, join(__dirname, 'model.ts'), '--backends', TARGETS[target]!.backend, '--shapes', 'smollm', '--dtype', 'F32',
          '--budget', String(first.budgetS), '--no-peer'],
        { ...env, ENTROPIX_BENCH_RESULTS_DIR: dir }, log, () => statusOf(first), started, deadline);
        const file = readdirSync(dir).find((f) => f.endsWith('.json'));
        const seconds = (Date.now() - t0) / 1000;
        if (file) results.push({ ...first, seconds, result: JSON.parse(readFileSync(join(dir, file), 'utf8')) });
        else results.push({ ...first, seconds, error: `bench:model exited with ${code} and wrote no results${Date.now() >= deadline ? ' (stopped at the time limit)' : ''}` });
        console.log(`${target} bench:model: ${file ? 'done' : 'failed'} (${fmtS(Date.now() - t0)}; total ${fmtS(Date.now() - started)} of est. ${fmtS(estimatedS * 1000)})`);
        continue;
      }
      log.push(`\n===== ${target}\n`);
      const out = join(work, `${target}-${segments.indexOf(segment)}.json`);
      const { code } = await runLogged([...tsx, __filename, ...(quick ? ['--quick'] : []), '--child', JSON.stringify({ jobs: segment, out, deadline, limitMin })],
        env, log, (i) => statusOf(segment[i] ?? first), started, deadline);
      type Done = { skipped?: string; error?: string; seconds?: number; backendInfo?: { adapter?: { software?: boolean } }; result?: unknown };
      let done = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) as Done[] : [];
      let skipped = done[0]?.result === undefined && done[0]?.backendInfo === undefined ? done[0]?.skipped : undefined;
      // webgpu-software where Dawn finds a GPU first would measure the GPU twice: drop it.
      if (target === 'webgpu-software' && done[0]?.backendInfo?.adapter && !done[0].backendInfo.adapter.software) {
        skipped = 'the adapter Dawn picked is a GPU (measured as webgpu)';
      }
      if (skipped) { done = []; backendSkipped.set(target, skipped); }
      segment.forEach((job, i) => {
        const d = done[i];
        results.push(skipped ? { ...job, seconds: 0, skipped }
          : d ? { ...job, seconds: d.seconds ?? 0, ...d }
            : { ...job, seconds: 0, error: Date.now() >= deadline ? `stopped at the ${limitMin}-minute limit` : `the child exited with ${code} before this job; see the log` });
      });
      console.log(`${target}: ${skipped ? `skipped (${skipped.slice(0, 120)})`
        : `${done.filter((d) => d.result !== undefined).length}/${segment.length} jobs done`} (${fmtS(Date.now() - t0)}; total ${fmtS(Date.now() - started)} of est. ${fmtS(estimatedS * 1000)})`);
    }
    const date = new Date().toISOString();
    const stem = `${date.slice(0, 10)}-${machineSlug()}${quick ? '-quick' : ''}`;
    mkdirSync(resultsDir, { recursive: true });
    const json: BenchJson = {
      command: `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`, date, quick,
      machine: {
        hostname: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30),
        loadAverageAtStart, loadAverageAtEnd: loadavg(), node: process.version, platform: `${process.platform} ${process.arch}`,
      },
      tfjs: (JSON.parse(readFileSync(join(__dirname, '..', 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'), 'utf8')) as { version: string }).version,
      seconds: (Date.now() - started) / 1000, estimatedSeconds: estimatedS,
      smollm: { shape: SMOLLM, checkpoint: 'benchmarks/peer/out/smollm (report/smollm.ts: seeded N(0, 0.02²), float32)' },
      peer: peerSetup,
      jobs: results,
    };
    writeFileSync(join(resultsDir, `${stem}.json`), `${JSON.stringify(json, null, 1)}\n`);
    const written = writeReport(json, resultsDir, stem);
    const logFile = join(tmpdir(), `entropix-${stem}.log`);
    writeFileSync(logFile, log.join(''));
    console.log(`Done in ${fmtS(Date.now() - started)} (estimated ${fmtS(estimatedS * 1000)}): `
      + `${[`${stem}.json`, ...written].map((f) => relative(process.cwd(), join(resultsDir, f))).join(', ')}; children's output: ${logFile}`);
  } finally {
    cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
