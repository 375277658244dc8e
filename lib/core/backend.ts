// Choosing a TF.js backend by name, loading its package on demand.
import { tf } from './tf';
import { EntropixError } from './errors';
import { runtimeRequire } from './runtime-require';

export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'webgl' | 'tensorflow';
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow'];

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

const load = runtimeRequire;

function unavailable(name: BackendName, packages: string, cause: unknown): EntropixError {
  const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new EntropixError(
    'BACKEND_UNAVAILABLE',
    `backend '${name}' is not available: install ${packages} (${why})`,
    'backend',
  );
}

/** In Node, WebGPU comes from Dawn through the `webgpu` package; see the README for software GPUs. */
function installNodeWebGpu(): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  const dawn = load('webgpu') as { create: (flags: string[]) => unknown; globals: object };
  Object.assign(globalThis, dawn.globals);
  const flags = (process.env.ENTROPIX_WEBGPU_FLAGS ?? '').split(',').filter(Boolean);
  const gpu = dawn.create(flags) as { requestAdapter: (o?: object) => Promise<unknown> };
  const featureLevel = process.env.ENTROPIX_WEBGPU_FEATURE_LEVEL;
  if (featureLevel) {
    const request = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (o?: object) => request({ ...o, featureLevel });
  }
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(g.navigator ?? {}), gpu }, configurable: true, writable: true,
  });
}

async function register(name: BackendName): Promise<void> {
  if (tf.findBackendFactory(name)) return;
  try {
    switch (name) {
      case 'cpu':
        return; // registered by ./tf
      case 'wasm':
        load('@tensorflow/tfjs-backend-wasm');
        return;
      case 'webgl':
        load('@tensorflow/tfjs-backend-webgl');
        return;
      case 'webgpu':
        if (isNode) installNodeWebGpu();
        load('@tensorflow/tfjs-backend-webgpu');
        return;
      case 'tensorflow':
        try {
          load('@tensorflow/tfjs-node-gpu');
        } catch {
          load('@tensorflow/tfjs-node');
        }
        return;
    }
  } catch (cause) {
    const packages: Record<BackendName, string> = {
      cpu: '@tensorflow/tfjs-backend-cpu',
      wasm: '@tensorflow/tfjs-backend-wasm',
      webgl: '@tensorflow/tfjs-backend-webgl (browsers only)',
      webgpu: isNode ? '@tensorflow/tfjs-backend-webgpu and webgpu' : '@tensorflow/tfjs-backend-webgpu',
      tensorflow: '@tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu',
    };
    throw unavailable(name, packages[name], cause);
  }
}

/** Registers the backend if needed, makes it current and waits until it is ready. */
export async function useBackend(name: BackendName): Promise<void> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new EntropixError(
      'UNKNOWN_BACKEND',
      `unknown backend ${JSON.stringify(name)}; expected one of ${BACKEND_NAMES.join(', ')}`,
      'backend',
    );
  }
  await register(name);
  if (!tf.findBackendFactory(name)) {
    throw unavailable(name, 'its package', new Error('the package did not register the backend'));
  }
  const previous = (tf.engine() as unknown as { backendName: string | null }).backendName;
  let failure: unknown = null;
  try {
    if (!(await tf.setBackend(name))) failure = new Error('initialisation failed');
  } catch (cause) {
    failure = cause;
  }
  if (failure !== null) {
    // Leave TF.js usable: a failed backend would otherwise stay registered as the preferred one
    // and break the next op.
    tf.removeBackend(name);
    await tf.setBackend(previous && previous !== name ? previous : 'cpu');
    throw unavailable(name, 'a working setup', failure);
  }
  await tf.ready();
}
