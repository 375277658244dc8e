import { tf, useBackend, EntropixError } from '../lib';
import { isTensor } from '../lib/core/validate';

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

async function refusal(p: Promise<unknown>): Promise<EntropixError> {
  try {
    await p;
  } catch (e) {
    return e as EntropixError;
  }
  throw new Error('expected a refusal');
}

describe('useBackend', () => {
  test('switches between cpu and wasm and computes the same thing', async () => {
    const values: number[][] = [];
    for (const name of ['cpu', 'wasm'] as const) {
      await useBackend(name);
      expect(tf.getBackend()).toBe(name);
      const y = tf.softmax(tf.tensor1d([1, 2, 3]));
      values.push(Array.from(await y.data()));
      y.dispose();
    }
    values[1]!.forEach((v, i) => expect(v).toBeCloseTo(values[0]![i]!, 6));
  });

  test('an unknown name is refused', async () => {
    const e = await refusal(useBackend('tpu' as never));
    expect(e).toBeInstanceOf(EntropixError);
    expect(e.code).toBe('UNKNOWN_BACKEND');
    expect(e.message).toMatch(/cpu, wasm, webgpu, webgl, tensorflow/);
  });

  test('a backend whose package is missing gives a clear error', async () => {
    // webgl needs a browser; tfjs-node is there only after `npm run setup:tensorflow`.
    const missing = [...(installed('@tensorflow/tfjs-node') ? [] : ['tensorflow' as const]), 'webgl' as const];
    for (const name of missing) {
      const e = await refusal(useBackend(name));
      expect(e.code).toBe('BACKEND_UNAVAILABLE');
      expect(e.message).toMatch(name === 'webgl' ? /runs in browsers only/ : /install @tensorflow\/tfjs-node/);
    }
    await useBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('isTensor', () => {
  test('recognises tensors by shape, not by class (another copy of tfjs-core passes too)', () => {
    const t = tf.zeros([2]);
    const foreign = { shape: [2], dtype: 'float32', dataId: {}, isDisposed: false, rank: 1 };
    expect(isTensor(t)).toBe(true);
    expect(isTensor(foreign)).toBe(true);
    expect(isTensor([0, 0])).toBe(false);
    expect(isTensor({ shape: [2] })).toBe(false);
    expect(isTensor(null)).toBe(false);
    t.dispose();
  });
});

describe('a backend that fails to start', () => {
  test('is refused and TF.js stays usable on the previous backend', async () => {
    await useBackend('wasm');
    // Dawn without a usable adapter (an unknown Dawn backend name) fails webgpu's initialisation.
    const saved = process.env.ENTROPIX_WEBGPU_FLAGS;
    process.env.ENTROPIX_WEBGPU_FLAGS = 'backend=nonexistent';
    try {
      const e = await refusal(useBackend('webgpu'));
      expect(e.code).toBe('BACKEND_UNAVAILABLE');
    } finally {
      if (saved === undefined) delete process.env.ENTROPIX_WEBGPU_FLAGS;
      else process.env.ENTROPIX_WEBGPU_FLAGS = saved;
    }
    expect(tf.getBackend()).toBe('wasm');
    const y = tf.add(tf.scalar(1), tf.scalar(2));
    expect(await y.data()).toEqual(new Float32Array([3]));
    y.dispose();
  });
});
