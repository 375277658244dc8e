// Run as a child process by logits-only.test.ts (Dawn must not start inside jest's process): the
// fused webgpu programs without attention scores against the generic tf-ops path on the same
// software adapter, with dispatch and read counts (webgpu-sampling-child.ts's pattern); one JSON line.
import { computeMetrics, EntropixSampler, tf, useBackend } from '../../lib/node';
import type { Metrics } from '../../lib/node';
import { samplingStrategy } from '../../lib/sampling/backends/strategy';
import { counted, instrument } from './webgpu-instrument';
import { generic, rng, normal } from './paths';

/** Rows for every regime, then an all-NaN row (Base, token −1). */
function rows(batch: number, vocab: number): number[] {
  const r = rng(4);
  const out: number[] = [];
  const peaked = (q: number) => Math.log(q / (1 - q) * (vocab - 1));
  for (let b = 0; b < batch; b++) {
    const peak = Math.floor(r() * vocab);
    for (let i = 0; i < vocab; i++) {
      const jitter = 0.01 * normal(r);
      switch (b % 6) {
        case 0: out.push(i === peak ? 25 : jitter); break;
        case 1: out.push((i + peak) % vocab < 20 ? 10 + jitter : -30); break;
        case 2: out.push(i === peak ? peaked(0.6) : jitter); break;
        case 3: out.push(i === peak ? peaked(0.3) : jitter); break;
        case 4: out.push(normal(r)); break;
        default: out.push(b === batch - 1 ? NaN : 2 * normal(r)); break;
      }
    }
  }
  return out;
}

async function metricArrays(m: Metrics): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(m)) out[k] = Array.from(await (v as tf.Tensor).data());
  return out;
}

async function main(): Promise<void> {
  try {
    await useBackend('webgpu');
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ unavailable: (e as Error).message })}\n`);
    return;
  }
  const probe = instrument();
  const [B, V] = [24, 300];
  const logits = tf.tensor2d(rows(B, V), [B, V]);
  const sampler = new EntropixSampler({ clarifyingTokenId: 7 });
  const start = tf.memory().numTensors;
  const seed = 31;
  const g = generic(() => sampler.sample(logits, null, { seed }));
  const gm = generic(() => computeMetrics(logits));
  const f = counted(probe, () => sampler.sample(logits, null, { seed }));
  const fm = counted(probe, () => computeMetrics(logits));
  const out = {
    strategy: samplingStrategy().name,
    generic: { tokens: Array.from(await g.tokens.data()), states: Array.from(await g.states.data()), step: await metricArrays(g.metrics), metrics: await metricArrays(gm) },
    fused: { tokens: Array.from(await f.value.tokens.data()), states: Array.from(await f.value.states.data()), step: await metricArrays(f.value.metrics), metrics: await metricArrays(fm.value) },
    dispatches: { step: f.dispatches, metrics: fm.dispatches },
    reads: f.reads + fm.reads,
    leaked: 0,
  };
  tf.dispose([g, gm, f.value, fm.value] as unknown as tf.TensorContainer);
  out.leaked = tf.memory().numTensors - start;
  logits.dispose();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
