// Running our own WGSL compute pipelines on the webgpu backend's device, inside its command stream.
//
// tfjs's runWebGPUProgram has one output binding; the fused sampling programs write several
// outputs, so they are recorded here the way tfjs records its own programs: in the backend's
// command encoder and compute pass (so they run after every op queued before them, and before
// every op queued after), with the buffers owned by tfjs tensors. Outputs packed into one buffer
// are cut into tensors by buffer copies, which are not dispatches.
import type { DataType, Tensor } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Gpu = any;

/** The parts of tfjs-backend-webgpu's WebGPUBackend used here (stable across 4.x). */
interface WebGpuBackend {
  device: Gpu;
  queue: Gpu;
  commandEncoder: Gpu | null;
  computePassEncoder: Gpu | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  uniformPendingDisposal: Gpu[];
  bufferManager: { acquireBuffer(size: number, usage: number): Gpu };
  tensorMap: { get(dataId: object): { resource?: Gpu } };
  makeTensorInfo(shape: number[], dtype: DataType): { dataId: object; shape: number[]; dtype: DataType };
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export function webGpuBackend(): WebGpuBackend {
  return tf.backend() as unknown as WebGpuBackend;
}

const pipelines = new WeakMap<object, Map<string, Gpu>>();

/**
 * The pipeline for a program, with an explicit layout: every binding stays in it even where a
 * program variant does not read it ('auto' would drop those).
 */
function pipeline(backend: WebGpuBackend, key: string, code: () => string, inputs: number, outputs: number): Gpu {
  let cache = pipelines.get(backend.device);
  if (!cache) pipelines.set(backend.device, cache = new Map());
  let p = cache.get(key);
  if (!p) {
    const compute = (globalThis as Gpu).GPUShaderStage.COMPUTE;
    const entries = [
      ...Array.from({ length: inputs + outputs }, (_, i) => ({
        binding: i, visibility: compute, buffer: { type: i < inputs ? 'read-only-storage' : 'storage' },
      })),
      { binding: inputs + outputs, visibility: compute, buffer: { type: 'uniform' } },
    ];
    const layout = backend.device.createPipelineLayout({ bindGroupLayouts: [backend.device.createBindGroupLayout({ entries })] });
    const module = backend.device.createShaderModule({ code: code() });
    p = backend.device.createComputePipeline({ layout, compute: { module, entryPoint: 'main' } });
    cache.set(key, p);
  }
  return p;
}

/** A fresh tensor whose GPU buffer a program writes. */
export function outputTensor(shape: number[], dtype: DataType): Tensor {
  const backend = webGpuBackend();
  const info = backend.makeTensorInfo(shape, dtype);
  backend.uploadToGPU(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info);
}

function bufferOf(backend: WebGpuBackend, t: Tensor): Gpu {
  backend.uploadToGPU(t.dataId);
  return backend.tensorMap.get(t.dataId).resource;
}

export interface ProgramRun {
  /** Cache key: the same key must always mean the same code. */
  key: string;
  code: () => string;
  /** Storage bindings in order: read-only inputs, then outputs (0 … n−1). */
  inputs: Tensor[];
  outputs: Tensor[];
  /** The uniform struct's words (u32 bit patterns; floats through a Float32Array view). */
  uniforms: Uint32Array;
  workgroups: number;
}

/**
 * Records one dispatch of a program. Binding i is storage buffer i (inputs then outputs), the
 * uniform struct is the binding after them.
 */
export function dispatch(run: ProgramRun): void {
  const backend = webGpuBackend();
  const p = pipeline(backend, run.key, run.code, run.inputs.length, run.outputs.length);
  const tensors = [...run.inputs, ...run.outputs];
  const buffers = tensors.map((t) => bufferOf(backend, t));
  const size = Math.max(16, Math.ceil(run.uniforms.byteLength / 16) * 16);
  const uniform = backend.bufferManager.acquireBuffer(size, GPUBufferUsageFlags.COPY_DST | GPUBufferUsageFlags.UNIFORM);
  const words = new Uint32Array(size / 4);
  words.set(run.uniforms);
  backend.queue.writeBuffer(uniform, 0, words.buffer, 0, size);
  backend.uniformPendingDisposal.push(uniform);
  for (const t of tensors) backend.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = backend.device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: [
      ...buffers.map((buffer, i) => ({ binding: i, resource: { buffer } })),
      { binding: buffers.length, resource: { buffer: uniform, size } },
    ],
  });
  backend.ensureCommandEncoderReady();
  if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder.beginComputePass({});
  backend.computePassEncoder.setPipeline(p);
  backend.computePassEncoder.setBindGroup(0, bindGroup);
  backend.computePassEncoder.dispatchWorkgroups(run.workgroups, 1, 1);
  backend.dispatchCountInPass++;
  if (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

/** Tensors cut from a packed [parts, n] 32-bit buffer: part i becomes a [n] tensor of dtypes[i]. */
export function unpack(packed: Tensor, n: number, dtypes: DataType[]): Tensor[] {
  const backend = webGpuBackend();
  const source = bufferOf(backend, packed);
  const out = dtypes.map((dtype) => outputTensor([n], dtype));
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  out.forEach((t, i) => {
    backend.commandQueueOwnedIds.add(t.dataId);
    backend.commandEncoder.copyBufferToBuffer(source, i * n * 4, bufferOf(backend, t), 0, n * 4);
  });
  backend.commandQueueOwnedIds.add(packed.dataId);
  return out;
}

/** GPUBufferUsage, which Dawn's globals (or the browser) provide. */
const GPUBufferUsageFlags = {
  get COPY_DST(): number { return (globalThis as Gpu).GPUBufferUsage.COPY_DST; },
  get UNIFORM(): number { return (globalThis as Gpu).GPUBufferUsage.UNIFORM; },
};

/** The device's limits that shape the programs. */
export function deviceLimits(): { invocations: number; sharedBytes: number; storageBuffers: number } {
  const l = webGpuBackend().device.limits;
  return {
    invocations: Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX),
    sharedBytes: l.maxComputeWorkgroupStorageSize,
    storageBuffers: l.maxStorageBuffersPerShaderStage,
  };
}

/** Writes words for a uniform struct: numbers tagged 'f' (f32), 'u' (u32) or 'i' (i32). */
export function words(values: [('f' | 'u' | 'i'), number][]): Uint32Array {
  const buf = new ArrayBuffer(values.length * 4);
  const view = new DataView(buf);
  values.forEach(([kind, v], i) => {
    if (kind === 'f') view.setFloat32(i * 4, v, true);
    else if (kind === 'u') view.setUint32(i * 4, v >>> 0, true);
    else view.setInt32(i * 4, v, true);
  });
  return new Uint32Array(buf);
}
