// How a decode step's cost grows with the context, per kernel: the native model and the converted
// graph on wasm, B=1, a 64-token prompt, then greedy decode; at each context length in --contexts
// the next --steps steps are timed (wall and CPU), then one more is profiled (tf.profile, kernel
// times summed per kernel name; BatchMatMul split into the attention products, whose operands
// hold the context, and the rest). Rounds alternate the models' order.
//
//   tsx benchmarks/peer/decode-context.ts HF_DIR CONVERTED_DIR [--contexts 70,190] [--steps 6] [--rounds 2]
import { parseArgs } from 'node:util';
import { loadHfCheckpoint, loadModel, tf, useBackend } from '../../lib/node';
import type { CausalLM, KVCache } from '../../lib/node';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { contexts: { type: 'string', default: '70,190' }, steps: { type: 'string', default: '6' }, rounds: { type: 'string', default: '2' } },
});
const contexts = values.contexts!.split(',').map(Number);
const steps = Number(values.steps);
const PROMPT = 64;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const argmax = (xs: Float32Array): number => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);

/** Kernel ms of one call, per kernel name (BatchMatMul: "attention" when an operand has the context length on an axis). */
async function profileStep(model: CausalLM, ids: tf.Tensor2D, cache: KVCache, context: number) {
  let out: ReturnType<CausalLM['forward']> | undefined;
  const info = await tf.profile(async () => {
    out = model.forward(ids, cache);
    await out.logits.data();
    return [];
  });
  const by: Record<string, { n: number; ms: number }> = {};
  for (const k of info.kernels) {
    const attention = k.name === 'BatchMatMul' && k.inputShapes.some((s) => s?.includes(context + 1));
    const name = attention ? 'BatchMatMul (attention)' : k.name;
    const row = (by[name] ??= { n: 0, ms: 0 });
    row.n++;
    row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  }
  return { out: out!, kernels: by, total: Object.values(by).reduce((a, r) => a + r.ms, 0) };
}

interface Point { context: number; wallMs: number[]; cpuMs: number[]; kernels: Record<string, { n: number; ms: number }>; kernelMs: number }

async function run(model: CausalLM): Promise<Point[]> {
  const points: Point[] = [];
  let ids = tf.tensor2d([Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 17) % 49152)], [1, PROMPT], 'int32');
  let out = model.forward(ids, null);
  let token = argmax(await out.logits.data() as Float32Array);
  let cache: KVCache = out.cache;
  tf.dispose([ids, out.logits, out.attentionScores]);
  const step = async () => {
    ids = tf.tensor2d([[token]], [1, 1], 'int32');
    out = model.forward(ids, cache);
    cache = out.cache;
    token = argmax(await out.logits.data() as Float32Array);
    tf.dispose([ids, out.logits, out.attentionScores]);
  };
  for (const context of contexts) {
    while (cache.length < context) await step();
    const wallMs: number[] = [];
    const cpuMs: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await step();
      wallMs.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuMs.push((c.user + c.system) / 1000);
    }
    ids = tf.tensor2d([[token]], [1, 1], 'int32');
    const p = await profileStep(model, ids, cache, cache.length);
    out = p.out;
    cache = out.cache;
    token = argmax(await out.logits.data() as Float32Array);
    tf.dispose([ids, out.logits, out.attentionScores]);
    points.push({ context, wallMs, cpuMs, kernels: p.kernels, kernelMs: p.total });
  }
  cache.dispose();
  return points;
}

async function main(): Promise<void> {
  const [hfDir, convertedDir] = positionals;
  await useBackend('wasm');
  const models: Record<string, CausalLM> = { converted: await loadModel(convertedDir!), native: await loadHfCheckpoint(hfDir!) };
  for (const m of Object.values(models)) await run(m); // warm-up: XNNPACK packs the weights on the first products
  const all: Record<string, Point[][]> = { converted: [], native: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const name of r % 2 ? ['native', 'converted'] : ['converted', 'native']) all[name]!.push(await run(models[name]!));
  }
  for (const [name, rounds] of Object.entries(all)) {
    for (let ci = 0; ci < contexts.length; ci++) {
      const pts = rounds.map((r) => r[ci]!);
      const kernels: Record<string, string> = {};
      for (const k of Object.keys(pts[0]!.kernels)) {
        const ms = pts.map((p) => p.kernels[k]?.ms ?? 0);
        if (median(ms) >= 0.3) kernels[k] = `×${pts[0]!.kernels[k]!.n} ${median(ms).toFixed(2)}`;
      }
      console.log(JSON.stringify({
        model: name, context: contexts[ci], wallMs: +median(pts.flatMap((p) => p.wallMs)).toFixed(2), cpuMs: +median(pts.flatMap((p) => p.cpuMs)).toFixed(2),
        profiledKernelMs: +median(pts.map((p) => p.kernelMs)).toFixed(2), kernels,
      }));
    }
  }
  for (const m of Object.values(models)) m.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
