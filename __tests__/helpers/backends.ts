// Running a piece of a test on another backend. Statistics run on wasm (fast); the cpu backend,
// the slow reference, is checked against wasm on fewer rows: the noise is made on the host from
// (seed, row), so the same seeds give the same tokens on every backend.
import { spawnSync } from 'node:child_process';
import { tf, useBackend } from '../../lib';
import type { BackendName } from '../../lib';
import type { Environment } from './environment';

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

// The `tensorflow` backend (tfjs-node) is there only after `npm run setup:tensorflow`.
let tensorflowMissing: string | null | undefined;

/** tfjs-node: installed, and its native binding loads and computes (probed once per test file). */
export const TENSORFLOW: Environment = {
  name: 'tfjs-node (the tensorflow backend)',
  install: 'npm run setup:tensorflow',
  missing() {
    if (tensorflowMissing !== undefined) return tensorflowMissing;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      return (tensorflowMissing = '@tensorflow/tfjs-node is not installed');
    }
    // In a child process: a binding that does not load must not take jest's process with it.
    const r = spawnSync(process.execPath, ['-e', `
      const tf = require('@tensorflow/tfjs-node');
      process.stdout.write(String(tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0]));`], {
      cwd: __dirname, encoding: 'utf8', timeout: 30_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    if (r.stdout === '3') return (tensorflowMissing = null);
    const why = (r.stderr ?? '').split('\n').find((l) => /Error/.test(l))?.trim() ?? `exit ${r.status}`;
    return (tensorflowMissing = `its binding does not load: ${why}`);
  },
};

/** The backends the backend-parametrized tests run on: cpu, wasm and, where installed, tensorflow. */
export function testBackends(): BackendName[] {
  return TENSORFLOW.missing() === null ? ['cpu', 'wasm', 'tensorflow'] : ['cpu', 'wasm'];
}
