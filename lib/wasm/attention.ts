// Batched matrix products for inference (the attention's q·kᵀ and p·v over batch × kv heads, the
// rotary product of a prompt) that run on tfjs-wasm's heap with the SIMD kernels of
// attention.wat. Why: tfjs-wasm hands every matmul to XNNPACK only when its batch is 1 and nothing
// is transposed; the rest, attention included, goes to a scalar loop (batch_mat_mul_impl.cc's
// slow_batch_matmul), so a decode step cost more with every token of context. The kernels
// import tfjs-wasm's own WebAssembly.Memory and read and write the tensors in place: no copy.
// Anything else (another backend, a shape the kernels do not take, a threaded build whose memory
// is shared) is tf.matMul. Not differentiable: training keeps tf.matMul.
import type { Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { ATTENTION_WASM_HEX } from './attention-wasm';

type Kernel = (a: number, b: number, y: number, nb: number, m: number, n: number, d: number) => void;
interface Kernels { dots: Kernel; mix: Kernel }

/** What this file reads of tfjs-wasm's BackendWasm. */
interface WasmBackend {
  wasm: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

const instances = new WeakMap<object, Kernels | null>();
let compiled: WebAssembly.Module | null = null;

/** The kernels on this wasm backend's memory, or null (not wasm, or its memory cannot be imported). */
function kernelsFor(backend: object): Kernels | null {
  if (instances.has(backend)) return instances.get(backend)!;
  let kernels: Kernels | null = null;
  const memory = (backend as Partial<WasmBackend>).wasm?.asm?.memory;
  if (tf.getBackend() === 'wasm' && memory instanceof WebAssembly.Memory) {
    try {
      if (!compiled) compiled = new WebAssembly.Module(Uint8Array.from(ATTENTION_WASM_HEX.match(/../g)!, (h) => parseInt(h, 16)));
      const exports = new WebAssembly.Instance(compiled, { env: { memory } }).exports;
      kernels = { dots: exports.dots as Kernel, mix: exports.mix as Kernel };
    } catch {
      kernels = null; // e.g. a shared memory (the threaded build): tf.matMul then
    }
  }
  instances.set(backend, kernels);
  return kernels;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * a · b (transposeB: a · bᵀ) batched over the leading dims, as tf.matMul(a, b, false, transposeB)
 * computes it (summed in another order). On wasm, float32 operands of one rank ≥ 3 with the same
 * leading dims run in attention.wat when tfjs-wasm would run them in its scalar loop: with
 * transposeB the shared dim a multiple of 8, without it a batch > 1 and b's columns a multiple of 16.
 */
export function batchedMatMul(a: Tensor, b: Tensor, transposeB = false): Tensor {
  const backend = tf.backend();
  const kernels = a.dtype === 'float32' && b.dtype === 'float32' && a.rank >= 3 && a.rank === b.rank ? kernelsFor(backend) : null;
  const lead = a.shape.slice(0, -2);
  if (!kernels || !same(lead, b.shape.slice(0, -2))) return tf.matMul(a, b, false, transposeB);
  const nb = lead.reduce((x, y) => x * y, 1);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [r, c] = b.shape.slice(-2) as [number, number];
  const n = transposeB ? r : c;
  const fits = transposeB ? c === k && k % 8 === 0 : r === k && nb > 1 && c % 16 === 0;
  if (!fits || nb * m * n * k === 0) return tf.matMul(a, b, false, transposeB);
  const wasm = backend as unknown as WasmBackend;
  // An operand held by another backend (made before a switch), or disposed: tf.matMul moves it, or throws.
  const [pa, pb] = [wasm.dataIdMap.get(a.dataId), wasm.dataIdMap.get(b.dataId)];
  if (!pa || !pb) return tf.matMul(a, b, false, transposeB);
  const out = wasm.makeOutput([...lead, m, n], 'float32');
  const py = wasm.dataIdMap.get(out.dataId)!;
  (transposeB ? kernels.dots : kernels.mix)(pa.memoryOffset, pb.memoryOffset, py.memoryOffset, nb, m, transposeB ? n : k, transposeB ? k : n);
  return tf.engine().makeTensorFromTensorInfo(out);
}
