// One benchmark across backends: the sampler, decode and model benchmarks on every backend found
// here, each job in its own child process, then one JSON, a Markdown report and SVG charts.
//
//   npm run bench -- [--quick] [--backends cpu,wasm,tensorflow,webgpu-software,webgpu]
//   npm run bench -- --report results/<name>.json   (rewrites its Markdown and charts)
//
// Backends: cpu, wasm, tensorflow (after `npm run setup:tensorflow`), webgpu on a software adapter
// (ENTROPIX_WEBGPU_SOFTWARE=1: Mesa's llvmpipe) and webgpu on a GPU adapter where Dawn finds one;
// a backend that does not start is recorded as skipped with the reason. Jobs per backend: sampler
// (benchmarks/sampler.ts: one step on the device against the same step on the host), decode
// (benchmarks/decode.ts: greedy vs Entropix tokens/s in the same run, bundled and SmolLM2-135M-
// shaped model, one row and a batch), prefill (a long prompt through the SmolLM2-shaped graph) and
// model (benchmarks/model.ts: converted graph vs native model, and its peers where installed).
// Writes results/<date>-<machine>[-quick].json, .md and <same>-*.svg.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem, loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { writeReport } from './report/write';
import type { BenchJson } from './report/write';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'cpu,wasm,tensorflow,webgpu-software,webgpu' },
    child: { type: 'string' }, // internal: run one backend's jobs (JSON spec) and write their results
    report: { type: 'string' }, // only rewrite the Markdown and charts of a results JSON
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

type JobKind = 'sampler' | 'decode' | 'prefill' | 'model';
export interface Job {
  kind: JobKind; target: string; label: string;
  model?: string; modelName?: string; batch?: number; tokens?: number; rounds?: number; promptLength?: number;
}

/** The plan: per backend, what runs (quick: fewer shapes, tokens and rounds). */
function plan(targets: string[], smollmDir: string): Job[] {
  const jobs: Job[] = [];
  for (const target of targets) {
    const slow = target === 'cpu' || target === 'webgpu-software';
    jobs.push({ kind: 'sampler', target, label: 'sampler' });
    jobs.push({ kind: 'decode', target, label: 'decode bundled B=1', modelName: 'bundled', batch: 1, tokens: quick ? 32 : 96, rounds: quick ? 3 : 5 });
    if (quick && slow) continue; // the SmolLM2-shaped model on cpu and llvmpipe takes minutes: full run only
    jobs.push({ kind: 'decode', target, label: 'decode SmolLM2 B=1', model: smollmDir, modelName: 'smollm', batch: 1, tokens: quick ? 6 : slow ? 8 : 32, rounds: quick || slow ? 3 : 5 });
    jobs.push({ kind: 'decode', target, label: 'decode SmolLM2 B=4', model: smollmDir, modelName: 'smollm', batch: 4, tokens: quick || slow ? 4 : 16, rounds: 3 });
    jobs.push({ kind: 'prefill', target, label: 'prefill SmolLM2', model: smollmDir, modelName: 'smollm', promptLength: quick ? 128 : slow ? 256 : 512, rounds: 3 });
    if (!quick) jobs.push({ kind: 'model', target, label: 'model (bench:model)' });
  }
  return jobs;
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
    const { results } = await runSampler({ backends: [backend], quick });
    return results[0]!;
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
async function runChild(jobs: Job[], out: string): Promise<void> {
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

/** Runs a command with its output in the log; a progress line shows the job, its time and its last line. */
function runLogged(cmd: string[], env: NodeJS.ProcessEnv, log: string[], status: (job: number) => string, started: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const t0 = Date.now();
    let last = '';
    let job = 0;
    let jobStarted = Date.now();
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
      if (tty) process.stdout.write('\r\x1b[K');
      resolve(code ?? 1);
    });
  });
}

async function main(): Promise<void> {
  if (args.child) {
    const { jobs, out } = JSON.parse(args.child) as { jobs: Job[]; out: string };
    await runChild(jobs, out);
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
  const work = mkdtempSync(join(tmpdir(), 'entropix-bench-'));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { cleanup(); process.exit(130); });
  const log: string[] = [];
  const tsx = [process.execPath, join(__dirname, '..', 'node_modules', 'tsx', 'dist', 'cli.mjs')];
  try {
    const smollmDir = join(work, 'smollm');
    console.log(`entropix bench${quick ? ' --quick' : ''}: ${targets.join(', ')}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log('Writing and converting a random SmolLM2-135M-shaped checkpoint…');
    const hfDir = join(work, 'smollm-hf');
    mkdirSync(hfDir);
    const { writeSmolLmShaped } = await import('./report/smollm');
    await writeSmolLmShaped(hfDir, smollmDir);
    rmSync(hfDir, { recursive: true, force: true });

    const jobs = plan(targets, smollmDir);
    const results: (Job & { seconds: number; skipped?: string; error?: string; backendInfo?: object; result?: unknown })[] = [];
    for (const target of targets) {
      const mine = jobs.filter((j) => j.target === target);
      const offset = jobs.indexOf(mine[0]!);
      const status = (i: number) => `[${offset + i + 1}/${jobs.length}] ${target} ${mine[i]?.label ?? ''}:`;
      const env = { ...process.env, ...TARGETS[target]!.env };
      for (const [k, v] of Object.entries(TARGETS[target]!.env)) if (v === undefined) delete env[k];
      const t0 = Date.now();
      log.push(`\n===== ${target}\n`);
      const inChild = mine.filter((j) => j.kind !== 'model');
      const out = join(work, `${target}.json`);
      const code = await runLogged([...tsx, __filename, ...(quick ? ['--quick'] : []), '--child', JSON.stringify({ jobs: inChild, out })],
        env, log, status, started);
      type Done = { skipped?: string; error?: string; seconds?: number; backendInfo?: { adapter?: { software?: boolean } }; result?: unknown };
      let done = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) as Done[] : [];
      let skipped = done[0]?.skipped;
      // webgpu-software where Dawn finds a GPU first would measure the GPU twice: drop it.
      if (target === 'webgpu-software' && done[0]?.backendInfo?.adapter && !done[0].backendInfo.adapter.software) {
        skipped = 'the adapter Dawn picked is a GPU (measured as webgpu)';
      }
      if (skipped) done = [];
      inChild.forEach((job, i) => {
        const d = done[i];
        results.push(skipped ? { ...job, seconds: 0, skipped }
          : d ? { ...job, seconds: d.seconds ?? 0, ...d } : { ...job, seconds: 0, error: `the child exited with ${code} before this job; see the log` });
      });
      console.log(`${target}: ${skipped ? `skipped (${skipped.slice(0, 120)})`
        : `${done.filter((d) => !d.error).length}/${inChild.length} jobs done`} (${fmtS(Date.now() - t0)})`);
      const model = mine.find((j) => j.kind === 'model');
      if (model && !skipped) {
        // bench:model as its own command; its results land in our folder, not in results/.
        const dir = join(work, `model-${target}`);
        mkdirSync(dir);
        const m0 = Date.now();
        const c = await runLogged([...tsx, join(__dirname, 'model.ts'), '--backends', TARGETS[target]!.backend, '--shapes', 'smollm', '--dtype', 'F32'],
          { ...env, ENTROPIX_BENCH_RESULTS_DIR: dir }, log, () => status(mine.indexOf(model)), started);
        const file = readdirSync(dir).find((f) => f.endsWith('.json'));
        const seconds = (Date.now() - m0) / 1000;
        if (file) results.push({ ...model, seconds, result: JSON.parse(readFileSync(join(dir, file), 'utf8')) });
        else results.push({ ...model, seconds, error: `bench:model exited with ${c} and wrote no results` });
      } else if (model) results.push({ ...model, seconds: 0, skipped });
    }
    const date = new Date().toISOString();
    const stem = `${date.slice(0, 10)}-${machineSlug()}${quick ? '-quick' : ''}`;
    const dir = process.env.ENTROPIX_BENCH_RESULTS_DIR ?? join(__dirname, 'results'); // as record.ts
    mkdirSync(dir, { recursive: true });
    const json = {
      command: `npm run bench${quick ? ' -- --quick' : ''}`, date, quick,
      machine: {
        hostname: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30),
        loadAverageAtEnd: loadavg(), node: process.version, platform: `${process.platform} ${process.arch}`,
      },
      tfjs: (JSON.parse(readFileSync(join(__dirname, '..', 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'), 'utf8')) as { version: string }).version,
      seconds: (Date.now() - started) / 1000,
      jobs: results,
    };
    writeFileSync(join(dir, `${stem}.json`), `${JSON.stringify(json, null, 1)}\n`);
    writeFileSync(join(work, 'log.txt'), log.join(''));
    const written = writeReport(json, dir, stem);
    const logFile = join(tmpdir(), `entropix-${stem}.log`);
    writeFileSync(logFile, log.join(''));
    console.log(`Done in ${fmtS(Date.now() - started)}: ${[`${stem}.json`, ...written].map((f) => relative(process.cwd(), join(dir, f))).join(', ')}; children's output: ${logFile}`);
  } finally {
    cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
