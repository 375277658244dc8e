// A model's weight matrices in a WebAssembly.Memory of their own, multiplied by the hand-written
// SIMD kernels of matmul.wat: `weights: 'packed'` (lib/models/weights-option.ts), the default on
// the wasm backend, instead of tf.matMul. Why: tfjs-wasm's matmul (XNNPACK) packs a second copy of
// every weight into the wasm heap, and that heap never shrinks, so a model costs 2.3× its weights
// in RSS and keeps it after dispose. Here each matrix exists once, in panels of 16 columns × K rows
// read front to back; activations are copied in from and out to tfjs-wasm's heap (a few KB at
// decode); dispose drops the memory with the module. On the SmolLM2-shaped model decode is also
// faster than XNNPACK's (benchmarks/README.md). A matrix whose every value is a bfloat16 (a
// bfloat16 checkpoint's, widened exactly on reading) is kept in bfloat16 panels: half the bytes
// to hold and to stream a decode step, the same products bit for bit (matmul.wat).
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { MATMUL_SHARED_WASM_HEX, MATMUL_WASM_HEX } from './matmul-wasm';
import { wasmHeap } from './heap';

const PANEL = 16; // columns per panel
const PAGE = 65536;
/** wasm32 addresses 4 GiB; a model past this keeps tf.matMul. */
export const MAX_PACKED_BYTES = 4 * 1024 ** 3 - 64 * 1024 ** 2;

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

const bytesOf = (hex: string) => Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
const compiled: { plain?: WebAssembly.Module; shared?: WebAssembly.Module } = {};
function matmulModule(shared: boolean): WebAssembly.Module {
  if (shared) return (compiled.shared ??= new WebAssembly.Module(bytesOf(MATMUL_SHARED_WASM_HEX)));
  return (compiled.plain ??= new WebAssembly.Module(bytesOf(MATMUL_WASM_HEX)));
}

/** Bytes at the start of the memory kept for a helper thread's control words. */
export const CONTROL_BYTES = 64;

/** A second thread that runs `products` on the same (shared) memory: lib/wasm/matmul-thread.ts. */
export interface HelperThread {
  readonly ready: boolean;
  /** Hands it rows of x [rows, kp] · W → y [rows, np] (byte addresses; gemv for one row, gemm for more; W's panels bfloat16 or float32); returns at once. */
  start(rows: number, x: number, w: number, y: number, kp: number, np: number, bf16: boolean, scratch: number): void;
  /** Blocks until the job is done. */
  finish(): void;
  stop(): void;
}

/**
 * Which products a helper thread takes part in: none; a prompt's many-row products (the thread
 * started on the first of them and stopped after a while without one); or every large product,
 * a decode step's one-row products included (the thread kept).
 */
export type HelperMode = 'none' | 'prompts' | 'all';

/** A prompt's product worth a second thread: rows × kp × np multiply-adds (~0.1 ms on one core). */
const PROMPT_WORK = 1 << 22;
/** Matrices smaller than this never start a thread for prompts: their prompts take little time. */
const PROMPT_MATRIX_BYTES = 32 << 20;
/** Products in a row without a prompt's (a few decode steps of a large model) before the 'prompts' thread stops. */
const IDLE_PRODUCTS = 512;

/** How the Node entry provides helper threads: which products they share, and how to start one. */
export interface HelperThreads {
  mode(): HelperMode;
  start(memory: WebAssembly.Memory, sharedModuleBytes: Uint8Array): HelperThread;
}
let helpers: HelperThreads | null = null;
/** Called by lib/node.ts: a browser bundle has no helper threads. */
export function provideHelperThreads(h: HelperThreads): void {
  helpers = h;
}

/** A helper thread dropped with its matrices when they are collected undisposed. */
const orphans = new FinalizationRegistry<HelperThread>((thread) => thread.stop());

type Kernel = (x: number, w: number, y: number, kp: number, np: number) => void;
type RowsKernel = (x: number, w: number, y: number, m: number, kp: number, np: number) => void;
/** gemm_bf16: as RowsKernel, with kp × 64 bytes of scratch for the widened panel. */
type RowsBf16Kernel = (x: number, w: number, y: number, m: number, kp: number, np: number, scratch: number) => void;

/** A matrix W [k, n] held by a PackedMatrices, at byte `at` of its memory, in float32 or bfloat16 panels. */
export class PackedMatrix {
  constructor(
    readonly owner: PackedMatrices,
    readonly at: number,
    readonly k: number,
    readonly n: number,
    readonly bf16 = false,
  ) {}
  get kp(): number {
    return roundUp(this.k, 4);
  }
  get np(): number {
    return roundUp(this.n, PANEL);
  }
  /** [k, n], as a tensor would give it. */
  get shape(): [number, number] {
    return [this.k, this.n];
  }
}

/** The packed bytes a [k, n] matrix takes (float32 panels; bfloat16 ones take half). */
export function packedBytes(k: number, n: number, bf16 = false): number {
  return (bf16 ? 2 : 4) * roundUp(k, 4) * roundUp(n, PANEL);
}

/** Whether every value is a bfloat16 (its low 16 bits zero): then bfloat16 panels hold it exactly. */
export function bf16Exact(values: Float32Array): boolean {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0xffff) !== 0) return false;
  return true;
}

/** Where column l (0..15) of a panel row sits in bfloat16 panels (u16 index in the row; matmul.wat). */
const bf16Slot = (l: number) => (l >> 3) * 8 + (l & 3) * 2 + ((l >> 2) & 1);

/** Weight matrices in one wasm memory, and the products with them. */
export class PackedMatrices {
  private memory: WebAssembly.Memory | null;
  private kernels: { gemv: Kernel; gemm: RowsKernel; gemvBf16: Kernel; gemmBf16: RowsBf16Kernel } | null;
  /** Takes part of large products (Node; matmul-thread.ts), as `mode` says. */
  private thread: HelperThread | null = null;
  private mode: HelperMode;
  private idle = 0; // products since the last one the 'prompts' thread took
  private scratchEnd = 0; // the end of what products have used above the matrices
  private top = CONTROL_BYTES; // bytes in use (the thread's control words, weights), then scratch for one call's x and y
  private view: Float32Array;

  /**
   * `bytes`: what the matrices will take (packedBytes summed), reserved at once. `mode`: which
   * products a helper thread shares, where the Node entry provides one (default: what it says,
   * from ENTROPIX_WASM_THREADS; 'none' in a browser).
   */
  constructor(bytes: number, mode: HelperMode = helpers?.mode() ?? 'none') {
    if (bytes > MAX_PACKED_BYTES) {
      throw new EntropixError('INVALID_ARGUMENT', `${bytes} bytes of matrices exceed a wasm memory's 4 GiB`, 'weights');
    }
    this.mode = helpers === null ? 'none' : mode;
    const shared = this.mode !== 'none';
    this.memory = new WebAssembly.Memory({ initial: Math.ceil((bytes + CONTROL_BYTES + PAGE) / PAGE), maximum: 65536, shared });
    const kernels = new WebAssembly.Instance(matmulModule(shared), { env: { memory: this.memory } }).exports;
    this.kernels = {
      gemv: kernels.gemv as Kernel, gemm: kernels.gemm as RowsKernel,
      gemvBf16: kernels.gemv_bf16 as Kernel, gemmBf16: kernels.gemm_bf16 as RowsBf16Kernel,
    };
    this.view = new Float32Array(this.memory.buffer);
    if (this.mode === 'all') this.startThread();
  }

  private startThread(): void {
    try {
      this.thread = helpers!.start(this.memory!, bytesOf(MATMUL_SHARED_WASM_HEX));
    } catch (e) {
      // No worker here (Node's permission model, worker limits): one thread from now on.
      if (this.mode === 'all') throw e;
      this.mode = 'none';
      return;
    }
    orphans.register(this, this.thread, this);
  }

  private stopThread(): void {
    this.thread?.stop();
    this.thread = null;
    orphans.unregister(this);
  }

  /** The memory's bytes now (it grows for a larger call's scratch). */
  get byteLength(): number {
    return this.memory?.buffer.byteLength ?? 0;
  }

  private f32(): Float32Array {
    if (!this.memory) throw new EntropixError('INVALID_ARGUMENT', 'the packed matrices have been disposed', 'model');
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  private ensure(bytes: number): void {
    this.f32();
    const have = this.memory!.buffer.byteLength;
    if (bytes > MAX_PACKED_BYTES) throw new EntropixError('INVALID_ARGUMENT', 'a matrix product past 4 GiB of wasm memory', 'weights');
    if (bytes > have) this.memory!.grow(Math.ceil((bytes - have) / PAGE));
  }

  private place(k: number, n: number, bf16: boolean): { m: PackedMatrix; f32: Float32Array } {
    const at = this.top;
    this.ensure(at + packedBytes(k, n, bf16));
    this.top += packedBytes(k, n, bf16);
    // Above `top` a product may have left its scratch: a matrix's padding must read as zeros
    // (in bfloat16 panels stale bits can be Inf or NaN, and Inf · 0 is NaN).
    if (at < this.scratchEnd) new Uint8Array(this.memory!.buffer, at, Math.min(this.top, this.scratchEnd) - at).fill(0);
    return { m: new PackedMatrix(this, at, k, n, bf16), f32: this.f32() };
  }

  /**
   * Packs W [k, n] given as its columns' sources: `parts` [n_p, k] row-major (Hugging Face's
   * [out, in] layout), joined in order; W's column c is row c of their concatenation. In
   * bfloat16 panels when every value is a bfloat16 and `narrow` (the default).
   */
  packColumns(parts: readonly Float32Array[], k: number, narrow = true): PackedMatrix {
    const n = parts.reduce((a, p) => a + p.length / k, 0);
    const bf16 = narrow && parts.every(bf16Exact);
    const { m, f32 } = this.place(k, n, bf16);
    const kp = m.kp;
    let col = 0;
    if (bf16) {
      const u16 = new Uint16Array(f32.buffer);
      for (const part of parts) {
        const bits = new Uint32Array(part.buffer, part.byteOffset, part.length);
        for (let r = 0; r < part.length / k; r++, col++) {
          const panel = m.at / 2 + (col >> 4) * kp * PANEL + bf16Slot(col & 15);
          for (let i = 0; i < k; i++) u16[panel + i * PANEL] = bits[r * k + i]! >>> 16;
        }
      }
      return m;
    }
    for (const part of parts) {
      const rows = part.length / k;
      for (let r = 0; r < rows; r++, col++) {
        const panel = m.at / 4 + (col >> 4) * kp * PANEL + (col & 15);
        const src = r * k;
        for (let i = 0; i < k; i++) f32[panel + i * PANEL] = part[src + i]!;
      }
    }
    return m;
  }

  /** Packs W [k, n] given row-major (the [in, out] layout of a converted graph's weights); bfloat16 panels as packColumns. */
  packRows(w: Float32Array, k: number, n: number, narrow = true): PackedMatrix {
    const m = this.allocate(k, n, narrow && bf16Exact(w));
    this.writeRows(m, 0, w);
    return m;
  }

  /** Room for W [k, n], zeros until writeRows fills it; `bf16`: in bfloat16 panels (then writeRows takes bfloat16 values only). */
  allocate(k: number, n: number, bf16 = false): PackedMatrix {
    return this.place(k, n, bf16).m;
  }

  /** Rows [row0, row0 + rows.length / n) of W, row-major, into their places in the panels. */
  writeRows(m: PackedMatrix, row0: number, rows: Float32Array): void {
    const f32 = this.f32();
    const { n, kp } = m;
    const count = rows.length / n;
    if (m.owner !== this || !Number.isInteger(count) || row0 < 0 || row0 + count > m.k) {
      throw new EntropixError('INVALID_ARGUMENT', `writeRows: ${rows.length} values at row ${row0} of [${m.k}, ${n}]`, 'rows');
    }
    if (m.bf16) {
      if (!bf16Exact(rows)) throw new EntropixError('INVALID_ARGUMENT', 'writeRows: a value that is not a bfloat16 for bfloat16 panels', 'rows');
      const u16 = new Uint16Array(f32.buffer);
      const bits = new Uint32Array(rows.buffer, rows.byteOffset, rows.length);
      for (let p = 0; p * PANEL < n; p++) {
        const width = Math.min(PANEL, n - p * PANEL);
        const dst = m.at / 2 + p * kp * PANEL + row0 * PANEL;
        for (let i = 0; i < count; i++) {
          const src = i * n + p * PANEL;
          for (let j = 0; j < width; j++) u16[dst + i * PANEL + bf16Slot(j)] = bits[src + j]! >>> 16;
        }
      }
      return;
    }
    for (let p = 0; p * PANEL < n; p++) {
      const width = Math.min(PANEL, n - p * PANEL);
      const dst = m.at / 4 + p * kp * PANEL + row0 * PANEL;
      for (let i = 0; i < count; i++) {
        const src = i * n + p * PANEL;
        // A loop, not f32.set(rows.subarray(…)): a view object per 16 values was 0.8 GB of garbage
        // a load (and grew V8's young generation for the rest of the process).
        for (let j = 0; j < width; j++) f32[dst + i * PANEL + j] = rows[src + j]!;
      }
    }
  }

  /** x [M, k] · W → [M, n], as tf.matMul(x, W) (float32; sums in another order). */
  matMul(x: Tensor, w: PackedMatrix): Tensor2D {
    if (w.owner !== this) throw new EntropixError('INVALID_ARGUMENT', 'the matrix belongs to another model', 'weights');
    this.f32(); // refuses a disposed one
    if (x.rank !== 2 || x.shape[1] !== w.k) {
      throw new EntropixError('INVALID_SHAPE', `matMul: [${x.shape}] · [${w.k}, ${w.n}]`, 'x');
    }
    if (x.dtype !== 'float32') throw new EntropixError('INVALID_DTYPE', `matMul: x must be float32, got ${x.dtype}`, 'x');
    const rows = x.shape[0]!;
    const { k, n, kp, np } = w;
    const xAt = roundUp(this.top, 64);
    const yAt = xAt + 4 * rows * kp;
    // bfloat16 panels of a many-row product are widened into scratch, a region per thread.
    const scratch = roundUp(yAt + 4 * rows * np, 64);
    const end = w.bf16 && rows > 1 ? scratch + 2 * 64 * kp : yAt + 4 * rows * np;
    this.ensure(end);
    this.scratchEnd = Math.max(this.scratchEnd, end);
    // On tfjs-wasm x is read from, and y written to, its heap in place (a copy each way, into
    // and out of this memory, and no intermediate arrays); elsewhere through dataSync.
    // x is read before anything is allocated (dataSync throws for a disposed one).
    const heap = wasmHeap();
    const inPlace = heap !== null && heap.view(x) !== null;
    const read = inPlace ? null : (x.dataSync() as Float32Array);
    const out = inPlace ? heap.makeOutput([rows, n], 'float32') : null;
    const xs = read ?? (heap!.view(x) as Float32Array); // float32, checked above
    const f32 = this.f32();
    if (kp === k) {
      f32.set(xs, xAt / 4);
    } else {
      for (let r = 0; r < rows; r++) {
        f32.set(xs.subarray(r * k, r * k + k), xAt / 4 + r * kp);
        f32.fill(0, xAt / 4 + r * kp + k, xAt / 4 + (r + 1) * kp);
      }
    }
    this.products(rows, xAt, w.at, yAt, kp, np, w.bf16, scratch);
    const ys = out ? (heap!.view(out) as Float32Array) : new Float32Array(rows * n);
    if (np === n) {
      ys.set(f32.subarray(yAt / 4, yAt / 4 + rows * n));
    } else {
      for (let i = 0; i < rows; i++) ys.set(f32.subarray(yAt / 4 + i * np, yAt / 4 + i * np + n), i * n);
    }
    return (out ? tf.engine().makeTensorFromTensorInfo(out) : tf.tensor2d(ys, [rows, n], 'float32')) as Tensor2D;
  }

  /**
   * x [rows, kp] · W [kp, np] → y [rows, np] (byte addresses), shared with the helper thread when
   * it is up and the product is worth a hand-off (~10 µs): one row by column panels (the
   * threads stream different parts of W), more rows by rows (each reads all of W).
   */
  private products(rows: number, x: number, w: number, y: number, kp: number, np: number, bf16: boolean, scratch: number): void {
    if (this.mode === 'prompts') this.promptThread(rows * kp * np >= PROMPT_WORK && rows >= 8);
    const thread = this.thread?.ready ? this.thread : null;
    if (thread && rows === 1 && this.mode === 'all' && np >= 32 && kp * np >= 1 << 15) {
      const cols = (np >> 5) << 4; // the first ⌊panels / 2⌋ panels go to the thread
      thread.start(1, x, w, y, kp, cols, bf16, 0);
      (bf16 ? this.kernels!.gemvBf16 : this.kernels!.gemv)(x, w + (bf16 ? 2 : 4) * kp * cols, y + 4 * cols, kp, np - cols);
      thread.finish();
    } else if (thread && rows >= 2) {
      const first = rows >= 8 ? 4 * Math.floor(rows / 8) : Math.floor(rows / 2);
      thread.start(first, x, w, y, kp, np, bf16, scratch + 64 * kp);
      this.here(rows - first, x + 4 * first * kp, w, y + 4 * first * np, kp, np, bf16, scratch);
      thread.finish();
    } else {
      this.here(rows, x, w, y, kp, np, bf16, scratch);
    }
  }

  /**
   * 'prompts': a prompt's product starts the thread (large matrices only; until it is up, this
   * thread does all the work); a run of other products (decode) stops it, which gives back most
   * of the ~10 MB a Node worker takes.
   */
  private promptThread(prompt: boolean): void {
    if (prompt) {
      this.idle = 0;
      if (!this.thread && this.top >= PROMPT_MATRIX_BYTES) this.startThread();
    } else if (this.thread && ++this.idle >= IDLE_PRODUCTS) {
      this.stopThread();
    }
  }

  /** On this thread: one row (bound by memory) by gemv, more (bound by arithmetic) by gemm, all at once. */
  private here(rows: number, x: number, w: number, y: number, kp: number, np: number, bf16: boolean, scratch: number): void {
    const k = this.kernels!;
    if (rows === 1) (bf16 ? k.gemvBf16 : k.gemv)(x, w, y, kp, np);
    else if (bf16) k.gemmBf16(x, w, y, rows, kp, np, scratch);
    else k.gemm(x, w, y, rows, kp, np);
  }

  /** Columns of W [k, n] at int32 `ids` (each in [0, n)) as rows: [ids.length, k] (a tied head's embedding lookup). */
  columns(w: PackedMatrix, ids: Tensor): Tensor2D {
    if (w.owner !== this) throw new EntropixError('INVALID_ARGUMENT', 'the matrix belongs to another model', 'weights');
    this.f32(); // refuses a disposed one
    if (ids.dtype !== 'int32') throw new EntropixError('INVALID_DTYPE', `columns: ids must be int32, got ${ids.dtype}`, 'ids');
    // On tfjs-wasm the ids are read in place and the rows written in place: no read-back.
    const heap = wasmHeap();
    const inPlace = heap !== null && heap.view(ids) !== null;
    const read = inPlace ? null : (ids.dataSync() as Int32Array);
    const out = inPlace ? heap.makeOutput([ids.size, w.k], 'float32') : null;
    const at = read ?? (heap!.view(ids) as Int32Array);
    const rows = out ? (heap!.view(out) as Float32Array) : new Float32Array(at.length * w.k);
    const f32 = this.f32();
    const { k, kp } = w;
    const u16 = new Uint16Array(f32.buffer);
    const rowBits = new Uint32Array(rows.buffer, rows.byteOffset, rows.length);
    at.forEach((id, r) => {
      const c = Math.min(Math.max(id, 0), w.n - 1);
      if (w.bf16) {
        const panel = w.at / 2 + (c >> 4) * kp * PANEL + bf16Slot(c & 15);
        for (let i = 0; i < k; i++) rowBits[r * k + i] = u16[panel + i * PANEL]! << 16;
        return;
      }
      const panel = w.at / 4 + (c >> 4) * kp * PANEL + (c & 15);
      for (let i = 0; i < k; i++) rows[r * k + i] = f32[panel + i * PANEL]!;
    });
    return (out ? tf.engine().makeTensorFromTensorInfo(out) : tf.tensor2d(rows, [at.length, k], 'float32')) as Tensor2D;
  }

  /** Drops the memory (its pages go when the garbage collector takes it). */
  dispose(): void {
    this.stopThread();
    this.memory = null;
    this.kernels = null;
    this.view = new Float32Array(0);
  }

  get disposed(): boolean {
    return this.memory === null;
  }
}
