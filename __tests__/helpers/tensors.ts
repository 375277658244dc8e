// Test helpers for tensors: leak checks and read-back spies.
import { tf } from '../../lib';

/** Runs fn and asserts it leaves exactly `expected` more tensors allocated. */
export function expectTensorDelta<T>(expected: number, fn: () => T): T {
  const before = tf.memory().numTensors;
  let result: T;
  try {
    result = fn();
  } finally {
    // checked below, also when fn throws
  }
  const after = tf.memory().numTensors;
  if (after - before !== expected) throw new Error(`expected ${expected} new tensors, got ${after - before}`);
  return result!;
}

/** Asserts fn throws an EntropixError with `code` (and `argument`) and leaks nothing. */
export function expectRefused(fn: () => unknown, code: string, argument?: string | RegExp): void {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  const after = tf.memory().numTensors;
  expect(caught).toBeDefined();
  expect((caught as { name?: string }).name).toBe('EntropixError');
  expect((caught as { code?: string }).code).toBe(code);
  if (argument !== undefined) expect((caught as { argument?: string }).argument).toMatch(argument);
  expect(after).toBe(before);
}

/**
 * Counts reads of tensor values into JS while fn runs: every Tensor read (dataSync, data, array,
 * arraySync, buffer, bufferSync) goes through the engine's read/readSync. (Kernels may look at
 * their own backend's memory directly, as wasm's do on its heap; that is no read-back.)
 */
export function countReads(fn: () => void): number {
  const engine = tf.engine() as unknown as Record<string, (...a: unknown[]) => unknown>;
  let reads = 0;
  const originals = { readSync: engine.readSync, read: engine.read };
  engine.readSync = (...a: unknown[]) => { reads++; return originals.readSync!.apply(engine, a); };
  engine.read = (...a: unknown[]) => { reads++; return originals.read!.apply(engine, a); };
  try {
    fn();
  } finally {
    engine.readSync = originals.readSync!;
    engine.read = originals.read!;
  }
  return reads;
}
