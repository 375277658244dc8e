// Where a decode step's time goes: one model (native HF checkpoint or converted directory) on wasm,
// a 64-token prompt, 5 warm steps, then STEPS timed steps (wall ms/step), then one step under
// tf.profile (tf kernels by name; our own kernels, packed products and fused ops are not kernels).
//   npx tsx benchmarks/peer/step-split.ts native|converted DIR
// Env: STEPS (30), NOPROF=1 (skip tf.profile), CPUPROF=FILE (a V8 CPU profile of the timed steps).
import { loadHfCheckpoint, loadModel, tf, useBackend } from '../../lib/node';
async function main() {
  await useBackend('wasm');
  const which = process.argv[2] ?? 'native';
  const dir = process.argv[3]!;
  const model = which === 'native' ? await loadHfCheckpoint(dir) : await loadModel(dir);
  const ids = tf.tensor2d([Array.from({ length: 64 }, (_, i) => (i * 37) % 1000)], [1, 64], 'int32');
  let out = model.forward(ids, null);
  await out.logits.data();
  const step = async () => {
    const next = tf.tensor2d([[5]], [1, 1], 'int32');
    const o = model.forward(next, out.cache);
    await o.logits.data();
    tf.dispose([next, out.logits, out.attentionScores]);
    out.cache.dispose();
    out = o;
  };
  for (let i = 0; i < 5; i++) await step();
  const n = Number(process.env.STEPS ?? 30);
  const { Session } = await import('node:inspector');
  const session = new Session();
  const post = (m: string, p?: object) => new Promise<{ profile?: object }>((res, rej) => session.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r as { profile?: object }))));
  if (process.env.CPUPROF) { session.connect(); await post('Profiler.enable'); await post('Profiler.setSamplingInterval', { interval: 100 }); await post('Profiler.start'); }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await step();
  if (process.env.CPUPROF) { const { profile } = await post('Profiler.stop'); (await import('node:fs')).writeFileSync(process.env.CPUPROF, JSON.stringify(profile)); }
  const wall = (performance.now() - t0) / n;
  if (process.env.NOPROF) { console.log(`${which}: wall ${wall.toFixed(2)}`); return; }
  const info = await tf.profile(step);
  const by = new Map<string, { c: number; ms: number }>();
  let sum = 0;
  for (const k of info.kernels) {
    const r = by.get(k.name) ?? { c: 0, ms: 0 };
    r.c++; r.ms += k.kernelTimeMs as number; sum += k.kernelTimeMs as number;
    by.set(k.name, r);
  }
  console.log(`${which}: wall ${wall.toFixed(2)} ms/step; profiled: ${info.kernels.length} kernels, kernel sum ${sum.toFixed(2)} ms`);
  for (const [k, r] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) console.log(`  ${k.padEnd(18)} ${String(r.c).padStart(5)} ${r.ms.toFixed(2)} ms`);
}
main();
