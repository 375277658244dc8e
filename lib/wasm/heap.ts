// Direct access to tfjs-wasm's heap for kernels of ours that read and write tensors in place:
// a view of a float32 or int32 tensor's data, and an output tensor to fill. Null off the wasm backend.
import type { Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';

/** The part of tfjs-backend-wasm's BackendWasm used here. */
interface BackendWasm {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export interface WasmHeap {
  /** A new float32 tensor's storage on the heap (fill it through view, then makeTensorFromTensorInfo). */
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  /**
   * The tensor's data in place, or null when this backend does not hold it (made on another
   * backend, or disposed). Take views after every makeOutput: a heap that grows detaches them.
   */
  view(t: Tensor | TensorInfo): Float32Array | Int32Array | null;
}

const heaps = new WeakMap<object, WasmHeap>();

/** tfjs-wasm's heap when it is the backend, else null. */
export function wasmHeap(): WasmHeap | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as BackendWasm;
  let heap = heaps.get(backend);
  if (!heap) {
    heap = {
      makeOutput: (shape, dtype) => backend.makeOutput(shape, dtype),
      view: (t) => ((t.dtype === 'float32' || t.dtype === 'int32') && backend.dataIdMap.get(t.dataId)
        ? (backend.typedArrayFromHeap(t) as Float32Array | Int32Array) : null),
    };
    heaps.set(backend, heap);
  }
  return heap;
}
