// What the sampling-path tests share: the generic path on demand, seeded inputs, the metric names.
import { tf } from '../../lib';
import type { SampleResult } from '../../lib';
import { GENERIC_FLAG } from '../../lib/sampling/backends/strategy';

export const METRICS = ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'] as const;

/** Runs fn on the generic tf-ops path (the reference), then restores the fused one. */
export function generic<T>(fn: () => T): T {
  tf.env().set(GENERIC_FLAG, true);
  try {
    return fn();
  } finally {
    tf.env().set(GENERIC_FLAG, false);
  }
}

/** mulberry32: a small seeded generator of floats in [0, 1), so inputs are the same in every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal from two uniforms (Box–Muller). */
export const normal = (r: () => number): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

/** A sampler result read back (tokens, states, the six metrics in METRICS order), then disposed. */
export async function readResult(r: SampleResult): Promise<{ tokens: number[]; states: number[]; metrics: number[][] }> {
  const out = {
    tokens: Array.from(await r.tokens.data()),
    states: Array.from(await r.states.data()),
    metrics: await Promise.all(METRICS.map(async (k) => Array.from(await r.metrics[k].data()))),
  };
  tf.dispose(r);
  return out;
}
