// Run as a child process by webgpu-sampling.test.ts (Dawn must not start inside jest's process):
// runs the fused webgpu sampling programs and the generic tf-ops path on the same inputs and
// seeds on the software adapter, counts dispatches and reads, and prints one JSON line.
import { computeMetrics, EntropixSampler, sampleTokens, tf, useBackend } from '../../lib/node';
import type { Metrics, SamplerConfig } from '../../lib/node';
import type { SamplingParams } from '../../lib/sampling/sample-tokens';
import { samplingStrategy } from '../../lib/sampling/backends/strategy';
import type { Seed } from '../../lib/sampling/rng';
import { counted, instrument } from './webgpu-instrument';
import { generic, rng } from './paths';

 

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Rows shaped to land in every regime (see the test), then special rows. */
function regimeRows(batch: number, vocab: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(batch * vocab);
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * vocab, (b + 1) * vocab);
    const kind = b % 6;
    const jitter = () => 0.01 * normal(r);
    const peak = Math.floor(r() * vocab);
    // Logit gaps that give a peak of probability q over a flat rest.
    const peaked = (q: number) => Math.log(q / (1 - q) * (vocab - 1));
    for (let i = 0; i < vocab; i++) {
      switch (kind) {
        case 0: row[i] = i === peak ? 25 : jitter(); break; // flowing
        case 1: row[i] = (i + peak) % vocab < 20 ? 10 + jitter() : -30; break; // treading
        case 2: row[i] = i === peak ? peaked(0.6) : jitter(); break; // exploring
        case 3: row[i] = i === peak ? peaked(0.3) : jitter(); break; // resampling
        case 4: row[i] = normal(r); break; // adaptive
        default: row[i] = 2 * normal(r); break;
      }
    }
  }
  return x;
}

/** Special rows: NaN entries, ±Inf, all masked, ties. */
function specialRows(vocab: number): number[][] {
  const base = (f: (i: number) => number) => Array.from({ length: vocab }, (_, i) => f(i));
  return [
    base((i) => (i % 3 === 0 ? NaN : Math.sin(i))),
    base((i) => (i === 5 ? Infinity : Math.cos(i))),
    base((i) => (i === 2 || i === 9 ? Infinity : i % 4 === 0 ? -Infinity : Math.sin(i * 0.3))),
    base(() => NaN),
    base(() => -Infinity),
    base((i) => Math.round(Math.sin(i) * 2) / 2), // many ties
    base((i) => (i % 2 === 0 ? -3.4e38 : 0.5 * Math.cos(i))), // finite at the mask level
    base(() => 1), // all equal
  ];
}

async function arr(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}
async function metricArrays(m: Metrics): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(m)) out[k] = await arr(v as tf.Tensor);
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
  const out: Record<string, unknown> = {};
  const start = tf.memory().numTensors;
  const V = 300;

  // 1. computeMetrics: regime rows, special rows, keyMask (float and bool), 3-D and 4-D scores.
  {
    const rows = [...Array.from(regimeRows(12, V, 1)), ...specialRows(V).flat()];
    const B = rows.length / V;
    const H = 4;
    const T = 12;
    const r = rng(2);
    const scores = Array.from({ length: B * H * 2 * T }, (_, i) => {
      const b = Math.floor(i / (H * 2 * T));
      if (b === 1 && i % 5 === 0) return NaN;
      if (b === 2 && i % 7 === 0) return -Infinity;
      if (b === 3) return -Infinity; // no real key at all
      if (b === 4 && i % 11 === 0) return Infinity;
      return 3 * normal(r);
    });
    const mask = Array.from({ length: B * T }, (_, i) => (Math.floor(i / T) % 3 === 0 && i % T < 4 ? 0 : 1));
    const logits = tf.tensor2d(rows, [B, V]);
    const s4 = tf.tensor4d(scores, [B, H, 2, T]);
    const s3 = tf.tidy(() => tf.reshape(tf.slice(s4, [0, 0, 1, 0], [-1, -1, 1, -1]), [B, H, T]));
    const maskF = tf.tensor2d(mask, [B, T]);
    const maskB = tf.tensor2d(mask, [B, T], 'bool');
    const cases: [string, tf.Tensor, tf.Tensor2D | undefined][] = [['3d', s3, undefined], ['4d mask', s4, maskF], ['bool mask', s3, maskB as tf.Tensor2D]];
    for (const [name, s, m] of cases) {
      const g = generic(() => computeMetrics(logits, s, m ? { keyMask: m } : {}));
      const before = tf.memory().numTensors;
      const fused = counted(probe, () => computeMetrics(logits, s, m ? { keyMask: m } : {}));
      out[`metrics ${name}`] = {
        generic: await metricArrays(g), fused: await metricArrays(fused.value),
        dispatches: fused.dispatches, reads: fused.reads, tensors: tf.memory().numTensors - before - 6,
      };
      tf.dispose([g, fused.value] as unknown as tf.TensorContainer);
    }
    tf.dispose([logits, s4, s3, maskF, maskB]);
  }

  // 2. sampleTokens: number and per-row tensor parameters, one seed and per-row seeds, ties.
  {
    const B = 64;
    const vocab = 96;
    const r = rng(3);
    const rows = Array.from({ length: B * vocab }, (_, i) => {
      const b = Math.floor(i / vocab);
      const x = (1 + (b % 4)) * normal(r);
      return b % 5 === 0 ? Math.round(x) : x; // rows with ties
    });
    specialRows(vocab).forEach((row, j) => rows.splice(j * 7 * vocab, vocab, ...row));
    const logits = tf.tensor2d(rows, [B, vocab]);
    const col = (f: (b: number) => number, dtype: 'float32' | 'int32' = 'float32') =>
      tf.tensor1d(Array.from({ length: B }, (_, b) => f(b)), dtype);
    const tensors = {
      temperature: col((b) => [0.7, 1.3, 0, -1, NaN, 2.5, 1e-9, 1][b % 8]!),
      topK: col((b) => [0, 1, 5, 40, 200, 3, 0, 12][(b * 3) % 8]!, 'int32'),
      topKf: col((b) => [0, 1.7, 5, NaN, -2, 3, 0, 12][(b * 5) % 8]!),
      topP: col((b) => [1, 0.9, 0.5, 0.05, NaN, 0.99, 0.3, 1][(b * 7) % 8]!),
      minP: col((b) => [0, 0.05, 0.2, NaN, 1, 0.5, 0, 0.01][(b * 3 + 1) % 8]!),
    };
    const cases: [string, SamplingParams, Seed, number][] = [
      ['defaults', {}, 11, 256],
      ['numbers', { temperature: 0.8, topK: 20, topP: 0.9, minP: 0.02 }, 12, 256],
      ['top-p over the vocabulary', { temperature: 1.2, topP: 0.7, minP: 0.05 }, 13, 32],
      ['argmax', { temperature: 0 }, 14, 256],
      ['small cap', { temperature: 1, topK: 50 }, 15, 7],
      ['tensors', { temperature: tensors.temperature, topK: tensors.topK, topP: tensors.topP, minP: tensors.minP }, 16, 256],
      ['float topK tensor', { temperature: 1, topK: tensors.topKf, topP: 0.8 }, 17, 64],
      ['per-row seeds', { temperature: tensors.temperature, topP: 0.95 }, Array.from({ length: B }, (_, b) => 1000 + b * 7), 256],
    ];
    for (const [name, params, seed, cap] of cases) {
      // Several seeds per case: many draws.
      const genericTokens: number[] = [];
      const fused: number[] = [];
      let dispatches = 0;
      let reads = 0;
      for (let rep = 0; rep < 4; rep++) {
        const s: Seed = typeof seed === 'number' ? seed + rep * 101 : seed.map((x) => x + rep);
        const g = generic(() => sampleTokens(logits, params, s, { candidateCap: cap }));
        genericTokens.push(...await arr(g));
        g.dispose();
        const f = counted(probe, () => sampleTokens(logits, params, s, { candidateCap: cap }));
        dispatches = Math.max(dispatches, f.dispatches);
        reads += f.reads;
        fused.push(...await arr(f.value));
        f.value.dispose();
      }
      out[`tokens ${name}`] = { generic: genericTokens, fused, dispatches, reads };
    }
    tf.dispose([logits, ...Object.values(tensors)]);
  }

  // 3. EntropixSampler.sample: every regime (and Base), keyMask, lastTokens and the clarifying token.
  {
    const B = 36;
    const H = 4;
    const T = 10;
    const rows = [...Array.from(regimeRows(B - 4, V, 4)), ...specialRows(V).slice(0, 4).flat()];
    const r = rng(5);
    const logits = tf.tensor2d(rows, [B, V]);
    const scores = tf.tensor3d(Array.from({ length: B * H * T }, () => 2 * normal(r)), [B, H, T]);
    const keyMask = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T < (i / T) % 3 ? 0 : 1)), [B, T]);
    const lastTokens = tf.tensor1d(Array.from({ length: B }, (_, b) => (b % 12 === 1 ? 7 : b)), 'int32');
    const configs: [string, Partial<SamplerConfig>][] = [
      ['defaults', {}],
      ['clarifying token, no adaptive', { clarifyingTokenId: 7, enabledRegimes: ['flowing', 'treading', 'exploring', 'resampling'] }],
      ['gates, top-k off', { topK: 0, topP: 0.95, exploringMinTopK: 0, exploringTopKAgreementCoef: 0, gates: { exploring: { maxAgreement: 0.5 } } }],
    ];
    for (const [name, config] of configs) {
      const sampler = new EntropixSampler(config);
      const tokens: number[] = [];
      const states: number[] = [];
      const fusedTokens: number[] = [];
      const fusedStates: number[] = [];
      const metrics: { generic: Record<string, number[]>; fused: Record<string, number[]> }[] = [];
      let dispatches = 0;
      let reads = 0;
      for (let rep = 0; rep < 3; rep++) {
        const seed = 21 + rep * 13;
        const g = generic(() => sampler.sample(logits, scores, { keyMask, lastTokens, seed }));
        tokens.push(...await arr(g.tokens));
        states.push(...await arr(g.states));
        const before = tf.memory().numTensors;
        const f = counted(probe, () => sampler.sample(logits, scores, { keyMask, lastTokens, seed }));
        if (tf.memory().numTensors - before !== 8) throw new Error(`the step kept ${tf.memory().numTensors - before} tensors`);
        dispatches = Math.max(dispatches, f.dispatches);
        reads += f.reads;
        fusedTokens.push(...await arr(f.value.tokens));
        fusedStates.push(...await arr(f.value.states));
        if (rep === 0) metrics.push({ generic: await metricArrays(g.metrics), fused: await metricArrays(f.value.metrics) });
        tf.dispose([g, f.value] as unknown as tf.TensorContainer);
      }
      out[`step ${name}`] = { tokens, states, fusedTokens, fusedStates, metrics: metrics[0], dispatches, reads };
    }
    tf.dispose([logits, scores, keyMask, lastTokens]);
  }

  // 4. Dispatch counts at B = 1, V = 128256, 32 heads × 1024 keys (the shape), and B = 4.
  {
    const counts: Record<string, number> = {};
    for (const B of [1, 4]) {
      const logits = tf.tidy(() => tf.mul(tf.randomNormal([B, 128256], 0, 1, 'float32', 9), 3)) as tf.Tensor2D;
      const scores = tf.randomNormal([B, 32, 1024], 0, 1, 'float32', 10);
      const step = counted(probe, () => new EntropixSampler().sample(logits, scores, { seed: 1 }));
      const tokens = counted(probe, () => sampleTokens(logits, { topK: 40, topP: 0.9 }, 1));
      // Per-row tensor parameters (with NaN and out-of-range values): cleaned inside the program.
      const col = (xs: number[], dtype: 'float32' | 'int32' = 'float32') =>
        tf.tensor1d(Array.from({ length: B }, (_, b) => xs[b % xs.length]!), dtype);
      const perRow = {
        temperature: col([0.7, NaN, 0, 1.3]), topK: col([40, 0, 5, 300], 'int32'),
        topP: col([0.9, NaN, 1, 0.5]), minP: col([0.02, NaN, 2, 0]),
      };
      const tokensPerRow = counted(probe, () => sampleTokens(logits, perRow, 1));
      const metrics = counted(probe, () => computeMetrics(logits, scores));
      // At temperature 0 (argmax), the token checks the candidate selection at this size.
      const greedy = counted(probe, () => sampleTokens(logits, { temperature: 0 }, 1));
      const argmax = tf.argMax(logits, 1);
      counts[`B=${B} step`] = step.dispatches;
      counts[`B=${B} tokens`] = tokens.dispatches;
      counts[`B=${B} tokens per-row tensors`] = tokensPerRow.dispatches;
      tf.dispose([tokensPerRow.value, ...Object.values(perRow)]);
      counts[`B=${B} metrics`] = metrics.dispatches;
      counts[`B=${B} reads`] = step.reads + tokens.reads + tokensPerRow.reads + metrics.reads;
      out[`large B=${B} argmax`] = { fused: await arr(greedy.value), generic: await arr(argmax) };
      if (B === 1) {
        // The generic path at the same shape, for comparison.
        const gs = counted(probe, () => generic(() => new EntropixSampler().sample(logits, scores, { seed: 1 })));
        const gt = counted(probe, () => generic(() => sampleTokens(logits, { topK: 40, topP: 0.9 }, 1)));
        counts['B=1 generic step'] = gs.dispatches;
        counts['B=1 generic tokens'] = gt.dispatches;
        tf.dispose([gs.value, gt.value] as unknown as tf.TensorContainer);
        const g = generic(() => computeMetrics(logits, scores));
        out['large metrics'] = { generic: await metricArrays(g), fused: await metricArrays(metrics.value) };
        tf.dispose(g as unknown as tf.TensorContainer);
      }
      tf.dispose([logits, scores, argmax, step.value, tokens.value, metrics.value, greedy.value] as unknown as tf.TensorContainer);
    }
    out.counts = counts;
  }

  // 5. A cap above what one workgroup sorts is left to the generic path (same tokens, more dispatches).
  {
    const r = rng(8);
    const logits = tf.tensor2d(Array.from({ length: 3 * 1000 }, () => normal(r)), [3, 1000]);
    const params = { temperature: 1.5, topP: 0.99 };
    const g = generic(() => sampleTokens(logits, params, 3, { candidateCap: 600 }));
    const before = tf.memory().numTensors;
    const f = counted(probe, () => sampleTokens(logits, params, 3, { candidateCap: 600 }));
    const fused = samplingStrategy().sampleTokens!(logits, { temperature: 1.5, topK: 0, topP: 0.99, minP: 0 }, 3, 600);
    out['cap 600'] = {
      generic: await arr(g), fused: await arr(f.value), dispatches: f.dispatches, refused: fused === null,
      tensors: tf.memory().numTensors - before - 1,
    };
    tf.dispose([logits, g, f.value]);
  }
  out['tensors left'] = tf.memory().numTensors - start;
  // NaN and ±Inf as strings: JSON would make both null.
  process.stdout.write(`${JSON.stringify(out, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}\n`);
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
