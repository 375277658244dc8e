import { tf, loadModel, loadHfCheckpoint, useBackend } from '../lib/node';
import type { CausalLM } from '../lib/node';
const conv = process.argv[2]!, hf = process.argv[3]!;
async function step(m: CausalLM, n: number) {
  const ids = tf.tensor2d([Array.from({ length: 16 }, (_, i) => (i * 31) % 200)], undefined, 'int32');
  let out = m.forward(ids, null); await out.logits.data(); tf.dispose([ids, out.logits, out.attentionScores]);
  let cache = out.cache; const times: number[] = [];
  for (let s = 0; s < n; s++) {
    const x = tf.tensor2d([[5]], undefined, 'int32');
    const t0 = performance.now(); out = m.forward(x, cache); await out.logits.data(); times.push(performance.now() - t0);
    tf.dispose([x, out.logits, out.attentionScores]); cache = out.cache;
  }
  cache.dispose();
  times.sort((a, b) => a - b); return times[times.length >> 1]!;
}
(async () => {
  await useBackend('wasm');
  const c = await loadModel(conv); const n = await loadHfCheckpoint(hf);
  await step(c, 2); await step(n, 2);
  for (let r = 0; r < 2; r++) console.log('converted', (await step(c, 10)).toFixed(2), 'native', (await step(n, 10)).toFixed(2));
  for (const [name, m] of [['converted', c], ['native', n]] as const) {
    const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const first = m.forward(ids, null);
    const x = tf.tensor2d([[5]], undefined, 'int32');
    const info = await tf.profile(() => { const o = m.forward(x, first.cache); return [o.logits, o.attentionScores, ...(o.cache as any).keys, ...(o.cache as any).values]; });
    const by = new Map<string, [number, number]>();
    for (const k of info.kernels) { const r = by.get(k.name) ?? [0, 0]; r[0]++; r[1] += k.kernelTimeMs as number; by.set(k.name, r); }
    console.log(name, info.kernels.length, 'kernels', [...by].sort((a, b) => b[1][1] - a[1][1]).slice(0, 12).map(([k, [c, ms]]) => `${k}×${c} ${ms.toFixed(1)}`).join(', '));
  }
})();
