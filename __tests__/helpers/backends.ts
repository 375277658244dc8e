// Running a piece of a test on another backend. Statistics run on wasm (fast); the cpu backend,
// the slow reference, is checked against wasm on fewer rows: the noise is made on the host from
// (seed, row), so the same seeds give the same tokens on every backend.
import { tf, useBackend } from '../../lib';
import type { BackendName } from '../../lib';

/** Runs fn with `backend` current, then makes the previous backend current again. */
export async function onBackend<T>(backend: BackendName, fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend() as BackendName;
  await useBackend(backend);
  try {
    return await fn();
  } finally {
    await useBackend(previous);
  }
}

/** Asserts that two backends drew the same tokens. */
export function expectSameTokens(cpu: ArrayLike<number>, wasm: ArrayLike<number>): void {
  const a = Array.from(cpu);
  const b = Array.from(wasm);
  expect(a.length).toBe(b.length);
  const differ = a.map((t, i) => (t === b[i] ? -1 : i)).filter((i) => i >= 0);
  if (differ.length > 0) {
    throw new Error(`cpu and wasm draw different tokens at ${differ.length} of ${a.length} rows, first ${differ.slice(0, 5)}`);
  }
}

/** Asserts that `draw` gives the same tokens on cpu as on wasm. */
export async function expectCpuDrawsAsWasm(draw: () => ArrayLike<number> | Promise<ArrayLike<number>>): Promise<void> {
  const wasm = await onBackend('wasm', draw);
  expectSameTokens(await onBackend('cpu', draw), wasm);
}
