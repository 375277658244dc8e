// tfjs-wasm's matmul against the bytes it reads and the flops it does: one decode row
// [1, 576] × [576, 1536] (bound by memory: 3.5 MB of weights per call, 32 different ones in turn) and a prefill block
// [64, 576] × [576, 1536] (bound by arithmetic), SmolLM2-135M's gate/up shape.
//
//   tsx benchmarks/peer/matmul.ts [--backend wasm] [--calls 200]
//
// The first call packs the weights (XNNPACK's fully-connected operator keeps its own copy, cached
// on the weight tensor), so it is timed apart. Wall and process CPU time per call.
import { parseArgs } from 'node:util';
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
    const bytes = 4 * (k * n + m * k + m * n);
    const flops = 2 * m * k * n;
    console.log(`${values.backend} matMul [${m}, ${k}] × [${k}, ${n}]: first call ${firstMs.toFixed(2)} ms; `
      + `${wallMs.toFixed(3)} ms wall, ${cpuMs.toFixed(3)} ms CPU per call → ${(bytes / cpuMs / 1e6).toFixed(1)} GB/s, `
      + `${(flops / cpuMs / 1e6).toFixed(1)} GFLOP/s on CPU time (${(bytes / wallMs / 1e6).toFixed(1)} GB/s wall)`);
    x.dispose();
  }
  tf.dispose(ws);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
