// The `tensorflow` backend (tfjs-node on libtensorflow, `npm run setup:tensorflow`): the same
// assertions the other backends meet, on a representative subset — metrics as cpu computes them,
// the same tokens as cpu for the same seeds (both run the host strategy's JS step, and the generic
// one matches it: host-strategy.test.ts), model logits as wasm computes them, the same greedy decode. Without tfjs-node the
// tests skip with the install command (and fail in CI).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeMetrics, EntropixSampler, sampleTokens, tf, useBackend, backendInfo } from '../lib';
import type { BackendName, CausalLM, Metrics, SamplingParams } from '../lib';
import { convertHfCheckpoint, loadHfCheckpoint, loadModel } from '../lib/node';
import { generate } from '../lib/decoding/generate';
import { expectSameTokens, onBackend, TENSORFLOW } from './helpers/backends';
import { testNeeding } from './helpers/environment';
import { opened } from './helpers/generators';
import { randomModel, SHAPE } from './helpers/llama-reference';
import { writeCheckpoint } from './helpers/hf-writer';

const it = testNeeding(TENSORFLOW);
const BUNDLED = path.join(__dirname, '..', 'models', 'kjv-tiny');

/** |a − b| ≤ tol · max(1, |b|) everywhere (NaN only where b is NaN). */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(b[i]!) || Number.isNaN(a[i]!)) {
      if (!(Number.isNaN(b[i]!) && Number.isNaN(a[i]!))) throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
      continue;
    }
    if (a[i] === b[i]) continue; // ±Inf
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  }
  if (worst > tol) throw new Error(`${what}: worst relative difference ${worst} > ${tol}`);
}

/** A seeded generator in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Rows of logits from sharp to flat, with a few −Inf entries. */
function logitRows(rows: number, vocab: number, seed: number): number[][] {
  const r = lcg(seed);
  return Array.from({ length: rows }, (_, i) => {
    const scale = 0.2 + (i % 7) * 1.5;
    return Array.from({ length: vocab }, (_, j) => (j % 97 === i % 97 && j > 0 ? -Infinity : (r() - 0.5) * 2 * scale));
  });
}

const METRIC_KEYS: (keyof Metrics)[] = ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'];

/** Runs fn on `backend` and disposes what it left: the test's before/after count must agree. */
async function leakFree<T>(backend: BackendName, fn: () => Promise<T>): Promise<T> {
  return onBackend(backend, async () => {
    const before = tf.memory().numTensors;
    const out = await fn();
    expect(tf.memory().numTensors).toBe(before);
    return out;
  });
}

describe('the tensorflow backend (tfjs-node)', () => {
  // onBackend goes back to the backend in use before: there must be one.
  beforeAll(() => useBackend('cpu'));

  it('useBackend("tensorflow") makes our tfjs-core compute on libtensorflow (one engine)', async () => {
    await useBackend('tensorflow');
    try {
      expect(tf.getBackend()).toBe('tensorflow');
      expect(backendInfo().backend).toBe('tensorflow');
      // tfjs-node requires @tensorflow/tfjs, which re-exports tfjs-core: npm dedupes it to ours.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const node = require('@tensorflow/tfjs-node') as typeof tf;
      expect(node.engine()).toBe(tf.engine());
      expect(tf.backend().constructor.name).toBe('NodeJSKernelBackend');
      const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
      expect(Array.from(await y.data())).toEqual([11]);
      y.dispose();
    } finally {
      await useBackend('cpu');
    }
  });

  it('rounding: tf.round on int32 gives zeros there, so the package never calls tf.round', async () => {
    // TF.js 4.22 on libtensorflow: Round on an int32 tensor returns 0s. The package's one rounding
    // (the adaptive top-k, regimes.ts) is ⌊x + 0.5⌋ in float32, and no source calls tf.round.
    const zeros = await leakFree('tensorflow', async () => {
      const y = tf.tidy(() => tf.round(tf.tensor1d([3, -2, 7], 'int32')));
      const values = Array.from(await y.data());
      y.dispose();
      return values;
    });
    expect(zeros).toEqual([0, 0, 0]);
    // tf.round(x), x.round() (the chained op), or round imported from tfjs-core.
    const TF_ROUND = /\btf\s*\.\s*round\s*\(|\.round\(\)|import\s*\{[^}]*\bround\b[^}]*\}\s*from\s*'@tensorflow\/tfjs-core'/;
    const sources: string[] = [];
    const walk = (dir: string) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && TF_ROUND.test(fs.readFileSync(p, 'utf8').replace(/\/\/.*$/gm, ''))) sources.push(p);
    });
    walk(path.join(__dirname, '..', 'lib'));
    expect(sources).toEqual([]);
  });

  it('computeMetrics gives what cpu gives (1e-4), keyMask and −Inf included', async () => {
    const [B, V, H, T] = [6, 800, 4, 10];
    const rows = logitRows(B, V, 11);
    const r = lcg(3);
    const scores = Array.from({ length: B * H * T }, (_, i) => (i % 13 === 5 ? -Infinity : (r() - 0.5) * 6));
    const mask = Array.from({ length: B * T }, (_, i) => (i % T < (i / T | 0) % 3 ? 0 : 1));
    const run = () => {
      const m = tf.tidy(() => computeMetrics(tf.tensor2d(rows), tf.tensor3d(scores, [B, H, T]), { keyMask: tf.tensor2d(mask, [B, T]) }));
      return Promise.all(METRIC_KEYS.map(async (k) => Array.from(await m[k].data()))).finally(() => tf.dispose(m as unknown as tf.TensorContainer));
    };
    const cpu = await leakFree('cpu', run);
    const tfn = await leakFree('tensorflow', run);
    METRIC_KEYS.forEach((k, i) => expectClose(tfn[i]!, cpu[i]!, 1e-4, k));
  });

  it('sampleTokens draws what cpu draws for the same seeds (300 rows, per-row parameters)', async () => {
    const [B, V] = [300, 600];
    const rows = logitRows(B, V, 5);
    const perRow = (f: (i: number) => number) => tf.tensor1d(Array.from({ length: B }, (_, i) => f(i)));
    const draw = async () => {
      const logits = tf.tensor2d(rows);
      const params: SamplingParams[] = [
        { temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05 },
        { temperature: perRow((i) => (i % 5) * 0.4), topK: perRow((i) => i % 9), topP: perRow((i) => 0.3 + (i % 8) * 0.1), minP: perRow((i) => (i % 4) * 0.1) },
      ];
      const out: number[][] = [];
      for (const p of params) {
        const t = sampleTokens(logits, p, Array.from({ length: B }, (_, i) => 1000 + i));
        out.push(Array.from(await t.data()));
        tf.dispose([t, ...Object.values(p).filter((v) => typeof v !== 'number')]);
      }
      logits.dispose();
      return out;
    };
    const cpu = await leakFree('cpu', draw);
    const tfn = await leakFree('tensorflow', draw);
    cpu.forEach((c, i) => expectSameTokens(tfn[i]!, c));
  });

  it('EntropixSampler: the same regimes, metrics (1e-4) and tokens as cpu for the same seeds', async () => {
    const V = 1200;
    // Rows from one-hot to flat, forks with long tails: every regime, adaptive top-k rounding included.
    const row = (head: number[], tail = 0, mass = 0) => Array.from({ length: V }, (_, j) =>
      j < head.length ? Math.log(head[j]!) : j < head.length + tail ? Math.log(mass / tail) + 0.4 * Math.sin(j) : -Infinity);
    const base = [
      row([0.99999999, 1e-8]), row(new Array(16).fill(1 / 16)), row([0.9], 1100, 0.1), row([0.3], 1100, 0.7),
      row([0.5, 0.25, 0.25]), row([0.3, 0.2, 0.15, 0.1], 40, 0.25), row([0.6, 0.1], 300, 0.3), row([0.2, 0.2], 30, 0.6),
    ];
    const rows = Array.from({ length: 96 }, (_, i) => base[i % base.length]!);
    const r = lcg(9);
    const att = Array.from({ length: rows.length * 4 * 16 }, () => (r() - 0.5) * 4);
    const step = async () => {
      const x = tf.tensor2d(rows);
      const a = tf.tensor3d(att, [rows.length, 4, 16]);
      const s = new EntropixSampler({ clarifyingTokenId: 7 }).sample(x, a, { seed: 77 });
      const out = {
        tokens: Array.from(await s.tokens.data()), states: Array.from(await s.states.data()),
        metrics: await Promise.all(METRIC_KEYS.map(async (k) => Array.from(await s.metrics[k].data()))),
      };
      tf.dispose([x, a, s as unknown as tf.TensorContainer]);
      return out;
    };
    const cpu = await leakFree('cpu', step);
    const tfn = await leakFree('tensorflow', step);
    expect(new Set(cpu.states)).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(tfn.states).toEqual(cpu.states);
    METRIC_KEYS.forEach((k, i) => expectClose(tfn.metrics[i]!, cpu.metrics[i]!, 1e-4, k));
    expectSameTokens(tfn.tokens, cpu.tokens);
  });

  describe('models', () => {
    let root: string;
    beforeAll(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-tensorflow-'));
      const { arrays, weights } = randomModel(SHAPE, 5);
      tf.dispose(weights as unknown as tf.TensorContainer);
      await writeCheckpoint(path.join(root, 'hf'), arrays);
      await convertHfCheckpoint(path.join(root, 'hf'), path.join(root, 'graph'));
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    /** Prefill (left-padded batch of 2) and one decode step: logits and attention scores. */
    async function forward(model: CausalLM, ids: number[][]): Promise<number[][]> {
      const width = ids[0]!.length;
      const x = tf.tensor2d(ids.map((row) => row.map((t) => Math.max(t, 0))), [2, width], 'int32');
      const mask = tf.tensor2d(ids.map((row) => row.map((t) => (t < 0 ? 0 : 1))));
      const r = model.forward(x, null, { attentionMask: mask });
      const out = [Array.from(await r.logits.data()), Array.from(await r.attentionScores.data())];
      const next = tf.tensor2d([[ids[0]![1]!], [ids[1]![width - 1]!]], [2, 1], 'int32');
      const mask2 = tf.tidy(() => tf.concat([mask, tf.ones([2, 1])], 1)) as tf.Tensor2D;
      const r2 = model.forward(next, r.cache, { attentionMask: mask2 });
      out.push(Array.from(await r2.logits.data()), Array.from(await r2.attentionScores.data()));
      tf.dispose([x, mask, next, mask2, r.logits, r.attentionScores, r2.logits, r2.attentionScores]);
      r2.cache.dispose();
      return out;
    }

    async function onBoth(load: () => Promise<CausalLM>, ids: number[][]): Promise<[number[][], number[][]]> {
      const run = async () => {
        const model = await load();
        try {
          return await forward(model, ids);
        } finally {
          model.dispose();
        }
      };
      return [await leakFree('tensorflow', run), await leakFree('wasm', run)];
    }

    const PARTS = ['prefill logits', 'prefill scores', 'decode logits', 'decode scores'];

    it('the bundled model (converted graph): logits and scores as wasm (1e-4)', async () => {
      const text = [...Buffer.from('In the beginning')];
      const ids = [[256, ...text], [-1, -1, -1, -1, 256, ...text.slice(0, text.length - 4)]];
      const [tfn, wasm] = await onBoth(() => loadModel(BUNDLED), ids);
      PARTS.forEach((p, i) => expectClose(tfn[i]!, wasm[i]!, 1e-4, p));
    });

    for (const [what, dir] of [['native (safetensors)', 'hf'], ['converted graph', 'graph']] as const) {
      it(`a random Llama checkpoint, ${what}: logits and scores as wasm (1e-4)`, async () => {
        const load = () => (dir === 'hf' ? loadHfCheckpoint(path.join(root, 'hf')) : loadModel(path.join(root, 'graph')));
        const [tfn, wasm] = await onBoth(load, [[5, 1, 30, 12, 8], [-1, -1, 7, 9, 3]]);
        PARTS.forEach((p, i) => expectClose(tfn[i]!, wasm[i]!, 1e-4, p));
      });
    }

    it('greedy generate() on the bundled model decodes what wasm decodes', async () => {
      const prompts = [[256, ...Buffer.from('And God said')], [256, ...Buffer.from('The LORD')]];
      const decode = async () => {
        const model = await loadModel(BUNDLED);
        const tokens: number[][] = [];
        try {
          for await (const s of opened(generate(model, prompts, { maxNewTokens: 24, sampler: 'greedy' }))) tokens.push(s.tokenIds);
        } finally {
          model.dispose();
        }
        return tokens;
      };
      const wasm = await leakFree('wasm', decode);
      const tfn = await leakFree('tensorflow', decode);
      expect(wasm.length).toBe(24);
      expect(tfn).toEqual(wasm);
    });
  });
});
