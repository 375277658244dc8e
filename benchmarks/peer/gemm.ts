// The multi-row products of `weights: 'packed'` (lib/wasm/matmul.wat) against tf.matMul on the
// wasm backend (XNNPACK), on a prompt's shapes: SmolLM2-135M's [M, 576] × [576, 960 | 576 | 3072]
// (qkv, o, gate+up) and [M, 1536] × [1536, 576] (down), M = 64 by default.
//
//   npx tsx benchmarks/peer/gemm.ts [--rows 64] [--reps 21] [--copies 1]
//
// --copies C: C copies of W taken in turn (each call the next), so that with C × |W| past the L3
// (32 MB here) W comes from memory, as in a model's prompt (every matrix once), not from a cache.
//
// Timed, in rotation within each repeat so that another job's load falls on all alike (CPU time of
// this process, median and best of the repeats, each repeat a loop of calls of ~0.1 s):
// - tf.matMul (XNNPACK; its packing of W happens on the first call, before the timing),
// - gemm4: matmul.wat's four-row kernel, called per four rows and gemv for the rest, as
//   PackedMatrices.matMul did before gemm (the helper thread of matmul-thread.ts still does),
// - gemm: matmul.wat's kernel now, all rows in one call,
// - PackedMatrices.matMul: gemm with the copies of x in and y out and the tensor made, the path a
//   model takes.
// Each result is checked against tf.matMul: max |y − y_tf| / max |y_tf| under 1e-5.
import { parseArgs } from 'node:util';
import { tf, useBackend } from '../../lib/node';
import { MATMUL_WASM_HEX } from '../../lib/wasm/matmul-wasm';
import { PackedMatrices, packedBytes } from '../../lib/wasm/packed-matrices';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '64' }, reps: { type: 'string', default: '21' }, copies: { type: 'string', default: '1' } },
});
const M = Number(values.rows);
const REPS = Number(values.reps);
const COPIES = Number(values.copies);
const SHAPES: [number, number][] = [[576, 960], [576, 576], [576, 3072], [1536, 576]];

type Gemv = (x: number, w: number, y: number, kp: number, np: number) => void;
type Gemm = (x: number, w: number, y: number, m: number, kp: number, np: number) => void;

const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;

function cpuMsPerCall(f: () => void, calls: number): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / calls;
}

async function main(): Promise<void> {
  await useBackend('wasm');
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = (bytes: Uint8Array<ArrayBuffer>) => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  const lib = instance(Uint8Array.from(Buffer.from(MATMUL_WASM_HEX, 'hex')));
  const gemv = lib.gemv as Gemv;
  const gemm = lib.gemm as Gemm;
  const gemm4 = lib.gemm4 as Gemv;
  console.log(`M = ${M}, ${COPIES} cop${COPIES === 1 ? 'y' : 'ies'} of W; ms per call (CPU time), GFLOP/s: median of ${REPS} repeats (best)`);
  for (const [k, n] of SHAPES) {
    const kp = Math.ceil(k / 4) * 4;
    const np = Math.ceil(n / 16) * 16;
    const x = tf.randomNormal([M, k], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([k, n], 0, 0.05, 'float32', 2) as tf.Tensor2D;
    const want = tf.matMul(x, w).dataSync() as Float32Array;
    const big = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const worst = (got: Float32Array, ld: number) => {
      let d = 0;
      for (let r = 0; r < M; r++) for (let j = 0; j < n; j++) d = Math.max(d, Math.abs(got[r * ld + j]! - want[r * n + j]!));
      return d / big;
    };

    // The raw kernels on W packed by PackedMatrices' layout, in the module's own memory: x, y, then the copies of W.
    const xAt = 64;
    const yAt = xAt + 4 * M * kp;
    const wAt = yAt + 4 * M * np;
    const wBytes = 4 * kp * np;
    const need = wAt + COPIES * wBytes;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    const f32 = new Float32Array(memory.buffer);
    f32.fill(0, 0, need / 4);
    const ws = w.dataSync() as Float32Array;
    const xs = x.dataSync() as Float32Array;
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) f32[wAt / 4 + ((j >> 4) * kp + i) * 16 + (j & 15)] = ws[i * n + j]!;
    for (let c = 1; c < COPIES; c++) f32.copyWithin(wAt / 4 + (c * wBytes) / 4, wAt / 4, wAt / 4 + wBytes / 4);
    for (let r = 0; r < M; r++) f32.set(xs.subarray(r * k, r * k + k), xAt / 4 + r * kp);
    const y = () => f32.subarray(yAt / 4, yAt / 4 + M * np);

    const packed = new PackedMatrices(COPIES * packedBytes(k, n), 'none'); // one thread: the kernels' own speed
    const pws = Array.from({ length: COPIES }, () => packed.packRows(ws, k, n));
    const wts = [w, ...Array.from({ length: COPIES - 1 }, () => tf.add(w, 0) as tf.Tensor2D)]; // same values, own data
    let call = 0;
    const next = () => call++ % COPIES;
    const at = () => wAt + next() * wBytes;

    const runs: [string, () => void, () => number][] = [
      ['tf.matMul (XNNPACK)', () => void tf.matMul(x, wts[next()]!).dispose(), () => 0],
      ['gemm4 + gemv (before)', () => {
        const wc = at();
        let r = 0;
        for (; r + 4 <= M; r += 4) gemm4(xAt + 4 * r * kp, wc, yAt + 4 * r * np, kp, np);
        for (; r < M; r++) gemv(xAt + 4 * r * kp, wc, yAt + 4 * r * np, kp, np);
      }, () => worst(y(), np)],
      ['gemm (now)', () => gemm(xAt, at(), yAt, M, kp, np), () => worst(y(), np)],
      ['PackedMatrices.matMul', () => void packed.matMul(x, pws[next()]!).dispose(), () => {
        const t = packed.matMul(x, pws[0]!);
        const d = worst(t.dataSync() as Float32Array, n);
        t.dispose();
        return d;
      }],
    ];
    const errors = runs.map(([, f, check]) => {
      y().fill(NaN);
      call = 0;
      f();
      return check();
    });
    for (const [, f] of runs) for (let c = 0; c < COPIES; c++) f(); // XNNPACK packs each copy on its first product
    const flop = 2 * M * k * n;
    const calls = Math.max(3, Math.round(5e9 / flop / 10)); // ~0.1 s at 50 GFLOP/s
    const times: number[][] = runs.map(() => []);
    for (let rep = 0; rep < REPS; rep++) runs.forEach(([, f], i) => times[i]!.push(cpuMsPerCall(f, calls)));
    console.log(`[${M}, ${k}] × [${k}, ${n}]`);
    runs.forEach(([name], i) => {
      const ms = median(times[i]!);
      const best = Math.min(...times[i]!);
      const err = errors[i]!;
      const ok = err < 1e-5 ? '' : `  MISMATCH: ${err.toExponential(1)}`;
      console.log(`  ${name.padEnd(24)} ${ms.toFixed(3)} ms  ${(flop / ms / 1e6).toFixed(1)} GFLOP/s (${(flop / best / 1e6).toFixed(1)})`
        + `${i > 0 ? `  max err ${err.toExponential(1)}` : ''}${ok}`);
    });
    if (errors.some((e) => !(e < 1e-5))) process.exitCode = 1;
    packed.dispose();
    tf.dispose([x, ...wts]);
  }
}

void main();
