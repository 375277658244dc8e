// The host strategy's choice, measured: each whole step on the host (read back, plain JS; the
// host strategy's functions called directly, whatever its limits) against the generic tf-ops
// path, interleaved round by round on the same inputs, so that load hits both alike.
//
//   npx tsx benchmarks/host-strategy.ts [--backend cpu|tensorflow] [--rounds 15] [--shapes B:V:H:T,…]
//
// Prints per shape and case the median and fastest run (ms) of each path and generic/host (> 1:
// the host step is faster). lib/sampling/backends/host/strategy.ts sets its limits from these.
import { parseArgs } from 'node:util';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { computeMetrics, EntropixSampler, sampleTokens, tf, useBackend } from '../lib';
import type { BackendName } from '../lib';
import { GENERIC_FLAG, samplingStrategy } from '../lib/sampling/backends/strategy';
import { hostComputeMetrics, hostSampleStep, hostSampleTokens } from '../lib/sampling/backends/host/strategy';
import { compileLogitsOnlyRegimes, compileRegimes } from '../lib/sampling/regimes';
import { validateSamplingParams } from '../lib/sampling/sample-tokens';

const DEFAULT_SHAPES = '1:4000:8:256,1:32000:32:1024,1:128256:32:1024,1:128256:32:4096,2:128256:32:1024,'
  + '4:32000:32:1024,4:128256:32:1024,8:128256:8:256,16:32000:8:256';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Reads every tensor of a result (the caller's await data()), then disposes it. */
function finish(out: tf.TensorContainer): void {
  const walk = (o: unknown): void => {
    if (o instanceof tf.Tensor) o.dataSync();
    else if (o && typeof o === 'object') Object.values(o).forEach(walk);
  };
  walk(out);
  tf.dispose(out);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'tensorflow' },
      rounds: { type: 'string', default: '15' },
      shapes: { type: 'string', default: DEFAULT_SHAPES },
    },
  });
  const rounds = Number(values.rounds);
  await useBackend(values.backend as BackendName);
  console.log(`${values.backend} (strategy ${samplingStrategy().name}): host step / generic tf ops, ms median/fastest of ${rounds} interleaved rounds`);
  const sampler = new EntropixSampler();
  const table = compileRegimes(sampler.config);
  const logitsOnly = compileLogitsOnlyRegimes(sampler.config);
  for (const shape of values.shapes!.split(',')) {
    const [B, V, H, T] = shape.split(':').map(Number) as [number, number, number, number];
    const x = tf.tidy(() => tf.mul(tf.randomNormal([B, V], 0, 1, 'float32', 1), 3)) as Tensor2D;
    const s = tf.randomNormal([B, H, T], 0, 1, 'float32', 2);
    const k = Math.min(sampler.config.candidateCap, V);
    const step = (scores: Tensor | null) => ({ logits: x, scores, seed: 1, table: scores ? table : logitsOnly, k, clarifyingTokenId: null });
    const topK = { temperature: 0.7, topK: 27, topP: 0.9 };
    const topP = { temperature: 0.7, topP: 0.9 };
    const cases: Record<string, [() => tf.TensorContainer, () => tf.TensorContainer]> = {
      // Each pair: the host step, then the public call (run with the generic flag set).
      metrics: [() => tf.tidy(() => hostComputeMetrics(x, s, undefined)), () => computeMetrics(x, s)],
      step: [() => tf.tidy(() => hostSampleStep(step(s))), () => sampler.sample(x, s, { seed: 1 })],
      'step, logits only': [() => tf.tidy(() => hostSampleStep(step(null))), () => sampler.sample(x, null, { seed: 1 })],
      'tokens, top-k': [() => tf.tidy(() => hostSampleTokens(x, validateSamplingParams(topK, B), 1, k)), () => sampleTokens(x, topK, 1)],
      'tokens, top-p only': [() => tf.tidy(() => hostSampleTokens(x, validateSamplingParams(topP, B), 1, k)), () => sampleTokens(x, topP, 1)],
    };
    const cells: string[] = [];
    for (const [name, [host, generic]] of Object.entries(cases)) {
      const t: [number[], number[]] = [[], []];
      for (let r = 0; r < rounds + 2; r++) {
        for (const [i, fn] of [host, generic].entries()) {
          tf.env().set(GENERIC_FLAG, i === 1);
          try {
            const t0 = performance.now();
            finish(fn());
            if (r >= 2) t[i]!.push(performance.now() - t0);
          } finally {
            tf.env().set(GENERIC_FLAG, false);
          }
        }
      }
      const [h, g] = t.map(median) as [number, number];
      const [hMin, gMin] = t.map((xs) => Math.min(...xs)) as [number, number];
      cells.push(`${name} ${h.toFixed(1)}/${hMin.toFixed(1)} vs ${g.toFixed(1)}/${gMin.toFixed(1)} (${(g / h).toFixed(2)}×, fastest ${(gMin / hMin).toFixed(2)}×)`);
    }
    console.log(`B=${B} V=${V} scores ${H}×${T}: ${cells.join('; ')}`);
    tf.dispose([x, s]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
