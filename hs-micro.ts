import { tf, useBackend, computeMetrics, EntropixSampler, sampleTokens } from './lib';
import { GENERIC_FLAG } from './lib/sampling/backends/strategy';
const backend = process.argv[2] as any;
const [B, V, H, T] = process.argv.slice(3).map(Number) as [number, number, number, number];
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]!; };
(async () => {
  await useBackend(backend);
  const x = tf.mul(tf.randomNormal([B, V], 0, 1, 'float32', 1), 3) as tf.Tensor2D;
  const s = tf.randomNormal([B, H, T], 0, 1, 'float32', 2);
  const sampler = new EntropixSampler();
  const cases: Record<string, () => tf.TensorContainer> = {
    metricsScores: () => computeMetrics(x, s),
    step: () => sampler.sample(x, s, { seed: 1 }),
    stepLogits: () => sampler.sample(x, null, { seed: 1 }),
    tokens: () => sampleTokens(x, { temperature: 0.7, topK: 27, topP: 0.9 }, 1),
    tokensTopP: () => sampleTokens(x, { temperature: 0.7, topP: 0.9 }, 1),
  };
  const rounds = Number(process.env.ROUNDS ?? 7);
  const res: Record<string, [number, number]> = {};
  for (const [name, fn] of Object.entries(cases)) {
    const t: number[][] = [[], []];
    for (let r = 0; r < rounds + 2; r++) {
      for (const g of [false, true]) {
        tf.env().set(GENERIC_FLAG, g);
        const t0 = performance.now();
        const out = fn();
        const walk = (o: any): void => { if (typeof o?.dataSync === 'function') o.dataSync(); else if (o && typeof o === 'object') Object.values(o).forEach(walk); };
        walk(out);
        const dt = performance.now() - t0;
        tf.dispose(out);
        if (r >= 2) t[g ? 1 : 0]!.push(dt);
      }
    }
    tf.env().set(GENERIC_FLAG, false);
    res[name] = [med(t[0]!), med(t[1]!), Math.min(...t[0]!), Math.min(...t[1]!)] as any;
  }
  console.log(`${backend} B=${B} V=${V} H=${H} T=${T}: ` + Object.entries(res).map(([k, [h, g, hm, gm]]: any) => `${k} host ${h.toFixed(1)}/${hm.toFixed(1)} generic ${g.toFixed(1)}/${gm.toFixed(1)} (g/h ${(g / h).toFixed(2)}, min ${(gm / hm).toFixed(2)})`).join('; '));
})();
