// The decoder's fused ops on wasm (lib/wasm/fused.ts) against the chains of tf ops they replace,
// its block-copy splits, concats and transposes (lib/wasm/layout.ts) against the tf ops, and the
// executor's matching of those chains in a converted graph (lib/graphdef/fusion.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useBackend } from '../lib';
import type { Tensor } from '@tensorflow/tfjs-core';
import { splitAlong } from '../lib/core/split';
import { maskedSoftmax, rmsNorm, swiglu } from '../lib/wasm/fused';
import { concatOnHeap, splitOnHeap, transposeOnHeap } from '../lib/wasm/layout';
import { findFusions } from '../lib/graphdef/fusion';
import type { NodeDefJson } from '../lib/graphdef/json';
import { rng } from './helpers/paths';

const BUNDLED = path.join(__dirname, '..', 'models', 'kjv-tiny');

const random = (shape: number[], seed: number, scale = 1) => {
  const next = rng(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * scale), shape);
};

/** Max |a − b| / max(1, |b|) over the elements. */
const worst = (a: Tensor, b: Tensor) => {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [a.dataSync(), b.dataSync()];
  let w = 0;
  for (let i = 0; i < y.length; i++) w = Math.max(w, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
  return w;
};

describe('fused decoder ops on wasm', () => {
  beforeAll(() => useBackend('wasm'));

  // The fused op sums in float64; tf's float32 mean over 40000 terms is off by ~1e-6 itself.
  test.each([[[3, 576], 1e-6], [[1, 2, 3, 8], 1e-6], [[1, 40000], 3e-6]])('rmsNorm of %j equals the chain of ops (%f)', (shape, tol) => {
    const dims = shape as number[];
    const x = random(dims, 1, 3);
    const w = random([dims[dims.length - 1]!], 2);
    const before = tf.memory().numTensors;
    const got = rmsNorm(x, w, 1e-5);
    const want = tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), tf.scalar(1e-5)))), w));
    expect(worst(got, want)).toBeLessThan(tol as number);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });

  test('rmsNorm with a weight of another shape (Qwen3\'s per-head [H, hd]) is the chain of ops', () => {
    const x = random([1, 1, 4, 8], 3);
    const w = random([4, 8], 4);
    const got = rmsNorm(x, w, 1e-6);
    const want = tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), tf.scalar(1e-6)))), w);
    expect(worst(got, want)).toBe(0);
    tf.dispose([x, w, got, want]);
  });

  test.each([[[1, 3072]], [[5, 48]], [[64, 3072]]])('swiglu of %j equals split, sigmoid, mul, mul (1e-6)', (shape) => {
    const x = random(shape, 5, 4);
    const before = tf.memory().numTensors;
    const got = swiglu(x);
    const half = shape[1]! / 2;
    const want = tf.tidy(() => {
      const [g, u] = splitAlong(x, [half, half], 1) as [Tensor, Tensor];
      return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
    });
    expect(worst(got, want)).toBeLessThan(1e-6);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  test('maskedSoftmax broadcasts a [B, 1, R, S] mask over the kv heads; hidden keys get 0', () => {
    const s = random([2, 3, 6, 70], 7, 5);
    // Row r of batch b sees keys 0 .. 40 + r (+ b), −1e9 beyond, as the decoder's bias does.
    const mask = tf.tensor(Float32Array.from({ length: 2 * 6 * 70 }, (_, i) => {
      const [b, r, j] = [Math.floor(i / 420), Math.floor(i / 70) % 6, i % 70];
      return j <= 40 + r + b ? 0 : -1e9;
    }), [2, 1, 6, 70]);
    const got = maskedSoftmax(s, 0.125, mask);
    const want = tf.softmax(tf.add(tf.mul(s, tf.scalar(0.125)), mask));
    expect(worst(got, want)).toBeLessThan(1e-6);
    const p = got.arraySync() as number[][][][];
    expect(p[1]![2]![5]![69]).toBe(0);
    expect(p[0]![0]![0]![40]).toBeGreaterThan(0);
    expect(p[0]![0]![0]![41]).toBe(0);
    tf.dispose([s, mask, got, want]);
  });

  test('on another backend each is the chain of ops', async () => {
    await useBackend('cpu');
    try {
      const x = random([2, 16], 9);
      const w = random([16], 10);
      const got = [rmsNorm(x, w, 1e-5), swiglu(x), maskedSoftmax(x, 2, tf.zeros([1, 16]))];
      const want = [
        tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), tf.scalar(1e-5)))), w),
        tf.tidy(() => {
          const [g, u] = splitAlong(x, [8, 8], 1) as [Tensor, Tensor];
          return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
        }),
        tf.softmax(tf.mul(x, tf.scalar(2))),
      ];
      got.forEach((g, i) => expect(worst(g, want[i]!)).toBe(0));
      tf.dispose([x, w, ...got, ...want]);
    } finally {
      await useBackend('wasm');
    }
  });
});

describe('splits, concats and transposes as block copies on wasm (lib/wasm/layout.ts)', () => {
  beforeAll(() => useBackend('wasm'));

  test.each([[[1, 1, 15, 64], [9, 3, 3], 2], [[2, 5, 24], [8, 16], 2], [[3, 4, 5], [1, 2, 1], 1], [[6, 2], [2, 4], 0]])(
    'split of %j into %j along %i equals splitAlong, exactly', (shape, sizes, axis) => {
      const x = random(shape as number[], 11);
      const before = tf.memory().numTensors;
      const got = splitOnHeap(x, sizes as number[], axis as number);
      const want = splitAlong(x, sizes as number[], axis as number);
      got.forEach((g, i) => expect(worst(g, want[i]!)).toBe(0));
      tf.dispose([...got, ...want]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });

  test('concat along the cache axis (and others) equals tf.concat, exactly; mismatched shapes are tf.concat\'s to refuse', () => {
    const past = random([1, 3, 70, 64], 12);
    const next = random([1, 3, 1, 64], 13);
    for (const [xs, axis] of [[[past, next], 2], [[random([2, 3], 1), random([2, 5], 2), random([2, 1], 3)], 1], [[next, next], 0]] as const) {
      const got = concatOnHeap(xs, axis);
      const want = tf.concat(xs as unknown as Tensor[], axis);
      expect(worst(got, want)).toBe(0);
      tf.dispose([got, want]);
    }
    expect(() => concatOnHeap([past, random([1, 2, 1, 64], 4)], 2)).toThrow();
    tf.dispose([past, next]);
  });

  test.each([[[1, 1, 12, 64], [0, 2, 1, 3]], [[2, 7, 5, 8], [0, 2, 1, 3]], [[3, 4, 6], [1, 0, 2]], [[2, 3, 4, 5], [2, 0, 1, 3]]])(
    'transpose of %j by %j equals tf.transpose, exactly', (shape, perm) => {
      const x = random(shape as number[], 14);
      const got = transposeOnHeap(x, perm as number[]);
      const want = tf.transpose(x, perm as number[]);
      expect(worst(got, want)).toBe(0);
      tf.dispose([x, got, want]);
    });

  test('a permutation that moves the last axis, or another dtype, is tf.transpose / tf.concat', () => {
    const x = random([2, 3, 4], 15);
    const got = transposeOnHeap(x, [0, 2, 1]);
    const want = tf.transpose(x, [0, 2, 1]);
    expect(worst(got, want)).toBe(0);
    const ints = tf.tensor2d([[1, 2], [3, 4]], undefined, 'int32');
    const joined = concatOnHeap([ints, ints], 0);
    expect(joined.arraySync()).toEqual([[1, 2], [3, 4], [1, 2], [3, 4]]);
    tf.dispose([x, got, want, ints, joined]);
  });
});

describe('the executor finds the chains in a converted graph', () => {
  const nodes = (JSON.parse(fs.readFileSync(path.join(BUNDLED, 'model.json'), 'utf8')) as { modelTopology: { node: NodeDefJson[] } })
    .modelTopology.node;
  // The graph's small Consts by name, as the executor reads them from the loaded weights: here
  // only what matching needs (scalars and the split sizes), decoded from nothing but the names.
  const constant = (values: Record<string, number[]>) => (name: string) => values[name] ?? null;

  test('kjv-tiny (4 layers): 2·4 + 1 RMSNorms, 4 SwiGLUs, 4 masked softmaxes', () => {
    const byName = new Map(nodes.map((n) => [n.name, n]));
    // Every one-element Const stands for itself (eps, scale, axes): matching reads only their count.
    const values: Record<string, number[]> = {};
    for (const n of nodes) {
      if (n.op !== 'Const') continue;
      const dims = (n.attr?.value as { tensor?: { tensorShape?: { dim?: { size: string }[] } } } | undefined)?.tensor?.tensorShape?.dim ?? [];
      const size = dims.reduce((a, d) => a * Number(d.size), 1);
      if (size === 1) values[n.name] = [-1];
      if (size === 2) values[n.name] = [768, 768]; // the gate/up split sizes (intermediate 768)
    }
    const found = findFusions(nodes, constant(values));
    const count = (op: string) => [...found.values()].filter((f) => f.op === op).length;
    expect(count('rmsNorm')).toBe(9);
    expect(count('swiglu')).toBe(4);
    expect(count('maskedSoftmax')).toBe(4);
    for (const [name, f] of found) {
      expect(byName.get(name)!.op).toBe(f.op === 'maskedSoftmax' ? 'Softmax' : 'Mul');
      for (const input of f.inputs) expect(byName.has(input.split(':')[0]!)).toBe(true);
    }
    // Split sizes that are not two equal halves: no SwiGLU.
    for (const k of Object.keys(values)) if (values[k]!.length === 2) values[k] = [700, 836];
    expect([...findFusions(nodes, constant(values)).values()].filter((f) => f.op === 'swiglu')).toHaveLength(0);
  });

  test('none in a graph with a control input (the order it asks for would be lost)', () => {
    const withControl = nodes.map((n, i) => (i === nodes.length - 1 ? { ...n, input: [...(n.input ?? []), `^${nodes[0]!.name}`] } : n));
    expect(findFusions(withControl, () => [1]).size).toBe(0);
  });
});
