// Counting what a webgpu step does (in the child processes, where Dawn runs): compute dispatches on
// the backend's device, and reads (mapAsync, the backend's read/readSync).
import { tf } from '../../lib';

/** Counts dispatchWorkgroups on the backend's device, and reads (mapAsync, backend reads). */
export function instrument(): { dispatches: () => number; reads: () => number; reset: () => void } {
  const backend = tf.backend() as any;
  const device = backend.device;
  let dispatches = 0;
  let reads = 0;
  const create = device.createCommandEncoder.bind(device);
  device.createCommandEncoder = (...a: unknown[]) => {
    const encoder = create(...a);
    const begin = encoder.beginComputePass.bind(encoder);
    encoder.beginComputePass = (...b: unknown[]) => {
      const pass = begin(...b);
      const run = pass.dispatchWorkgroups.bind(pass);
      pass.dispatchWorkgroups = (...c: unknown[]) => { dispatches++; return run(...c); };
      return pass;
    };
    return encoder;
  };
  const proto = (globalThis as any).GPUBuffer.prototype;
  const mapAsync = proto.mapAsync;
  proto.mapAsync = function (...a: unknown[]) { reads++; return mapAsync.apply(this, a); };
  for (const name of ['read', 'readSync']) {
    const f = backend[name].bind(backend);
    backend[name] = (...a: unknown[]) => { reads++; return f(...a); };
  }
  return { dispatches: () => dispatches, reads: () => reads, reset: () => { dispatches = 0; reads = 0; } };
}

/** Runs f with the queue flushed before and after, so that only its own dispatches and reads count. */
export function counted<T>(probe: ReturnType<typeof instrument>, f: () => T): { value: T; dispatches: number; reads: number } {
  const backend = tf.backend() as any;
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  probe.reset();
  const value = f();
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  return { value, dispatches: probe.dispatches(), reads: probe.reads() };
}
