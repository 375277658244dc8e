// A second thread for the packed matrix products, in Node only (lib/node.ts registers it with
// PackedMatrices; browser bundles never see worker_threads): a worker_threads Worker that runs the
// same kernels (matmul.wat, assembled for a shared memory) on the same shared WebAssembly.Memory
// and takes part of each product while the calling thread does the rest. Why: a decode step
// streams every weight once and one core reads ~30 GB/s of them here, two read more; a prompt's
// products are bound by arithmetic, which a second core doubles. tfjs-wasm runs one thread in
// Node, so this is the only parallel work in a step. The threads meet on control words at the
// start of the memory (PackedMatrices keeps its first 64 bytes free) with Atomics.wait/notify.
import { runtimeRequire } from '../core/runtime-require';
import type { HelperMode } from './packed-matrices';

/**
 * Control words (int32 indices): job sequence, done sequence, the product's arguments, the last
 * generation told to stop, the generation that is up, a failure, the last generation started.
 * A memory's thread may be stopped and another started (PackedMatrices' 'prompts' mode): each
 * worker has a generation and obeys only words about its own, so a stopping one never takes a
 * newer one's job.
 */
const JOB = 0;
const DONE = 1;
const ARGS = 2; // rows, x, w, y, kp, np
const STOP = 8;
const READY = 9;
const FAILED = 10;
const GEN = 11;
const BF16 = 12; // 1: the job's W is in bfloat16 panels
const SCRATCH = 13; // its rows' kernel widens each panel there (all within the first CONTROL_BYTES of the memory)
/** Polls of a control word before Atomics.wait (~0.2 ms). */
const SPIN = 200_000;

// The worker: instantiate the kernels on the shared memory, then serve jobs until told to stop;
// a job that traps is reported (FAILED), never left unfinished. A string, not a function's
// source: that would carry a coverage tool's counters into the worker.
const WORKER = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, gen } = workerData;
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer, 0, 16);
let seen = Atomics.load(ctl, ${JOB});
// READY only rises: a worker told to stop before it got here must not hide a newer one's.
for (let r = Atomics.load(ctl, ${READY}); r < gen && Atomics.load(ctl, ${STOP}) < gen;) {
  const was = Atomics.compareExchange(ctl, ${READY}, r, gen);
  if (was === r) break;
  r = was;
}
for (;;) {
  // A decode step's products come ~0.1 ms apart: spin a while before sleeping (a futex wake costs more).
  for (let i = 0; i < ${SPIN} && Atomics.load(ctl, ${JOB}) === seen; i++);
  Atomics.wait(ctl, ${JOB}, seen);
  if (Atomics.load(ctl, ${STOP}) >= gen) break;
  seen = Atomics.load(ctl, ${JOB});
  const [rows, x, w, y, kp, np] = ctl.slice(${ARGS}, ${ARGS + 6});
  try {
    const bf16 = Atomics.load(ctl, ${BF16}) === 1;
    if (rows === 1) (bf16 ? k.gemv_bf16 : k.gemv)(x, w, y, kp, np);
    else if (bf16) k.gemm_bf16(x, w, y, rows, kp, np, Atomics.load(ctl, ${SCRATCH}));
    else k.gemm(x, w, y, rows, kp, np);
  } catch {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

interface WorkerLike { unref(): void; terminate(): Promise<number> }

/**
 * Which packed products a helper thread shares (the HelperMode of packed-matrices.ts), from
 * ENTROPIX_WASM_THREADS: unset, a prompt's (many-row) products where the machine has two cores
 * or more — a prompt is bound by arithmetic, which a second core doubles, and between prompts the
 * thread sleeps or is stopped; `2`, a decode step's one-row products too (they spin a little to
 * meet, which costs where the cores are busy: opt-in, benchmarks/README.md); `1`, none.
 */
export function matmulThreads(): HelperMode {
  const env = typeof process !== 'undefined' ? process.env : undefined;
  if (!env || !process.versions?.node) return 'none'; // a browser: no worker_threads (and no Atomics.wait on its main thread)
  const setting = env.ENTROPIX_WASM_THREADS;
  if (setting === '1') return 'none';
  const os = runtimeRequire<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
  if ((os.availableParallelism?.() ?? os.cpus().length) < 2) return 'none';
  return setting === '2' ? 'all' : 'prompts';
}

/** The helper thread of one PackedMatrices memory (the HelperThread it expects). */
export class MatmulThread {
  private readonly ctl: Int32Array;
  private worker: WorkerLike | null;
  private job: number;
  private readonly gen: number;

  constructor(memory: WebAssembly.Memory, sharedModuleBytes: Uint8Array) {
    this.ctl = new Int32Array(memory.buffer, 0, 16);
    // An earlier thread of this memory has finished every job it was given (finish() waits):
    // the job sequence goes on from there.
    this.job = Atomics.load(this.ctl, JOB);
    this.gen = Atomics.add(this.ctl, GEN, 1) + 1;
    const { Worker } = runtimeRequire<{ Worker: new (src: string, o: object) => WorkerLike }>('node:worker_threads');
    // execArgv [] : a worker takes its parent's flags by default, a loader's among them (tsx,
    // ts-node), which it then boots before its first job: ~0.1 s of a prompt on one thread.
    this.worker = new Worker(WORKER, { eval: true, execArgv: [], workerData: { memory, bytes: sharedModuleBytes, gen: this.gen } });
    this.worker.unref(); // never what keeps a process alive
  }

  /** Whether the worker has started (until then the calling thread does all the work). */
  get ready(): boolean {
    return this.worker !== null && Atomics.load(this.ctl, READY) === this.gen;
  }

  /** Hands the worker rows × W (see products); returns at once. */
  start(rows: number, x: number, w: number, y: number, kp: number, np: number, bf16: boolean, scratch: number): void {
    this.ctl.set([rows, x, w, y, kp, np], ARGS);
    this.ctl[BF16] = bf16 ? 1 : 0;
    this.ctl[SCRATCH] = scratch;
    Atomics.store(this.ctl, JOB, ++this.job);
    Atomics.notify(this.ctl, JOB);
  }

  /** Blocks until the worker has finished the job start() gave it (throws if it failed, or went silent for 30 s). */
  finish(): void {
    for (let i = 0; i < SPIN && Atomics.load(this.ctl, DONE) !== this.job; i++);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const done = Atomics.load(this.ctl, DONE);
      if (done === this.job) break;
      if (Date.now() > deadline) {
        this.stop();
        throw new Error('entropix: the matrix product thread stopped answering');
      }
      Atomics.wait(this.ctl, DONE, done, 1000);
    }
    if (Atomics.exchange(this.ctl, FAILED, 0)) throw new Error('entropix: a matrix product failed in its thread');
  }

  stop(): void {
    if (!this.worker) return;
    Atomics.store(this.ctl, STOP, this.gen);
    Atomics.notify(this.ctl, JOB);
    void this.worker.terminate();
    this.worker = null;
  }
}
