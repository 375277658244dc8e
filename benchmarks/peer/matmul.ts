// tfjs-wasm's matmul against the bytes it reads and the flops it does: one decode row
// [1, 576] × [576, 1536] (bound by memory: 3.5 MB of weights per call, 32 different ones in turn) and a prefill block
// [64, 576] × [576, 1536] (bound by arithmetic), SmolLM2-135M's gate/up shape.
//
//   tsx benchmarks/peer/matmul.ts [--backend wasm] [--calls 200]
//
// With onnxruntime-node installed and benchmarks/peer/out/matmul.onnx written
// (python benchmarks/peer/export_matmul.py benchmarks/peer/out/matmul.onnx: the same 32 shapes as
// one graph), onnxruntime's MatMul with 1 intra-op thread is timed in the same run. Last, a
// prototype: the one-row product as a hand-written wasm SIMD loop (benchmarks/peer/gemv.wat, 4 rows a pass,
// outer-product order, the weights read once front to back) over weights in its own memory.
//
// The first call packs the weights (XNNPACK's fully-connected operator keeps its own copy, cached
// on the weight tensor), so it is timed apart. Wall and process CPU time per call.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runtimeRequire } from '../../lib/core/runtime-require';
import { gemvIn } from './gemv';
import { tf, useBackend } from '../../lib/node';
import type { BackendName } from '../../lib/node';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, calls: { type: 'string', default: '200' } } });

async function main(): Promise<void> {
  await useBackend(values.backend as BackendName);
  const calls = Number(values.calls);
  const [k, n] = [576, 1536];
  // 32 weight matrices (113 MB) taken in turn, so that the reads come from memory, not a cache.
  const ws = Array.from({ length: 32 }, (_, i) => tf.randomNormal([k, n], 0, 0.02, 'float32', i + 1));
  const w = ws[0]!;
  for (const m of [1, 64]) {
    const x = tf.randomNormal([m, k], 0, 1, 'float32', 99);
    let t0 = performance.now();
    tf.matMul(x, w).dispose(); // packs w
    const firstMs = performance.now() - t0;
    for (const wi of ws) tf.matMul(x, wi).dispose();
    const reps = m === 1 ? calls : Math.max(10, calls >> 3);
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) tf.matMul(x, ws[i % ws.length]!).dispose();
    const y = tf.matMul(x, w);
    await y.data();
    y.dispose();
    const wallMs = (performance.now() - t0) / (reps + 1);
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000 / (reps + 1);
    report(`${values.backend} matMul`, m, k, n, wallMs, cpuMs, `first call ${firstMs.toFixed(2)} ms`);
    x.dispose();
  }
  const wData = await Promise.all(ws.map((wi) => wi.data() as Promise<Float32Array>));
  const x1 = tf.randomNormal([1, k], 0, 1, 'float32', 99);
  const want = await tf.matMul(x1, w).data() as Float32Array;
  const xData = await x1.data() as Float32Array;
  tf.dispose([...ws, x1]);
  await peer(k, n, calls);
  gemvPrototype(k, n, calls, wData, xData, want);
}


function gemvPrototype(k: number, n: number, calls: number, ws: Float32Array[], x: Float32Array, want: Float32Array): void {
  const bytesNeeded = 4 * (ws.length * k * n + k + n) + 64;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytesNeeded / 65536) });
  const gemv = gemvIn(memory);
  const f32 = new Float32Array(memory.buffer);
  const xAt = 0;
  const yAt = 4 * k;
  const wAt = (i: number) => 4 * (k + n + i * k * n);
  f32.set(x, xAt / 4);
  ws.forEach((wi, i) => f32.set(wi, wAt(i) / 4));
  gemv(xAt, wAt(0), yAt, k, n);
  let diff = 0;
  let big = 0;
  for (let j = 0; j < n; j++) {
    diff = Math.max(diff, Math.abs(f32[yAt / 4 + j]! - want[j]!));
    big = Math.max(big, Math.abs(want[j]!));
  }
  for (let i = 0; i < ws.length; i++) gemv(xAt, wAt(i), yAt, k, n);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) gemv(xAt, wAt(i % ws.length), yAt, k, n);
  const cpu = process.cpuUsage(cpu0);
  report('wasm SIMD GEMV prototype', 1, k, n, (performance.now() - t0) / calls, (cpu.user + cpu.system) / 1000 / calls,
    `max |y − tf.matMul| ${diff.toExponential(1)} (max |y| ${big.toFixed(2)})`);
}

function report(what: string, m: number, k: number, n: number, wallMs: number, cpuMs: number, note = ''): void {
  const bytes = 4 * (k * n + m * k + m * n);
  const flops = 2 * m * k * n;
  console.log(`${what} [${m}, ${k}] × [${k}, ${n}]: ${note ? `${note}; ` : ''}`
    + `${wallMs.toFixed(3)} ms wall, ${cpuMs.toFixed(3)} ms CPU per call → ${(bytes / cpuMs / 1e6).toFixed(1)} GB/s, `
    + `${(flops / cpuMs / 1e6).toFixed(1)} GFLOP/s on CPU time (${(bytes / wallMs / 1e6).toFixed(1)} GB/s wall)`);
}

interface OrtLike {
  InferenceSession: { create(path: string, o: object): Promise<{ run(f: object): Promise<object>; release(): Promise<void> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => object;
}

/** onnxruntime-node, 1 thread, on matmul.onnx: 32 MatMuls per run, so a call is a run / 32. */
async function peer(k: number, n: number, calls: number): Promise<void> {
  const file = join(__dirname, 'out', 'matmul.onnx');
  let ort: OrtLike;
  try {
    ort = runtimeRequire<OrtLike>('onnxruntime-node');
  } catch {
    console.log('onnxruntime-node: not installed, skipped');
    return;
  }
  if (!existsSync(file)) {
    console.log(`onnxruntime-node: no ${file} (python benchmarks/peer/export_matmul.py ${file}), skipped`);
    return;
  }
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  for (const m of [1, 64]) {
    const x = new ort.Tensor('float32', Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)), [m, k]);
    for (let i = 0; i < 3; i++) await session.run({ x });
    const runs = Math.max(3, Math.ceil((m === 1 ? calls : calls >> 3) / 32));
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) await session.run({ x });
    const cpu = process.cpuUsage(cpu0);
    report('onnxruntime-node 1 thread MatMul', m, k, n, (performance.now() - t0) / runs / 32, (cpu.user + cpu.system) / 1000 / runs / 32);
  }
  await session.release();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
