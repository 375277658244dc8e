// How a loaded model holds its weight matrices (the projections and lm_head): the `weights` load
// option. On the wasm backend 'packed', the default there, keeps them in our own SIMD module
// (lib/wasm/packed-matrices.ts): one copy outside the tfjs-wasm heap, given back on dispose, 1.28×
// the weights' bytes at peak where tensors cost 2.3× (XNNPACK packs a second copy into a heap
// that never shrinks), and decode faster than XNNPACK (benchmarks/README.md). 'tfjs' keeps them
// as tensors multiplied by tf.matMul: the only mode on the other backends.
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';

export type WeightsMode = 'tfjs' | 'packed';

/** The `weights` option of loadModel and loadHfCheckpoint. */
export interface WeightsOption {
  /**
   * 'packed' (wasm backend only; the default there): the matrices in a wasm module of their own.
   * 'tfjs' (the default elsewhere): tensors, products by tf.matMul. ENTROPIX_WASM_MATMUL=tfjs
   * makes 'tfjs' the default on wasm for the process (the CLI, the benchmarks).
   */
  weights?: WeightsMode;
}

/**
 * Whether the matrices are to be packed: checks `options.weights` (EntropixError INVALID_ARGUMENT,
 * argument 'weights', for another value, or 'packed' off the wasm backend) before anything is read.
 */
export function packedWeights(options: unknown): boolean {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new EntropixError('INVALID_ARGUMENT', `options must be an object, got ${options === null ? 'null' : typeof options}`, 'options');
  }
  const weights = (options as WeightsOption | undefined)?.weights;
  if (weights !== undefined && weights !== 'tfjs' && weights !== 'packed') {
    throw new EntropixError('INVALID_ARGUMENT', `weights must be 'tfjs' or 'packed', got ${JSON.stringify(weights)}`, 'weights');
  }
  const wasm = tf.getBackend() === 'wasm';
  if (weights === 'packed' && !wasm) {
    throw new EntropixError('INVALID_ARGUMENT', `weights: 'packed' runs on the wasm backend, not ${tf.getBackend()}`, 'weights');
  }
  if (weights !== undefined) return weights === 'packed';
  const env = typeof process !== 'undefined' ? process.env : undefined; // none in a browser
  return wasm && env?.ENTROPIX_WASM_MATMUL !== 'tfjs';
}
