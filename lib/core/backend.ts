// Choosing a TF.js backend by name, loading its package on demand.
import { tf } from './tf';
import { EntropixError } from './errors';
import { runtimeRequire } from './runtime-require';

export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'webgl' | 'tensorflow';
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow'];

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

const load = runtimeRequire;

// The backend packages are loaded with import() of literal names, which bundlers follow: a page
// that bundles this package gets the backends it asks for without importing them itself (a
// bundler that cannot find an optional one says so at build time; mark it external to leave it
// out). tsc's CommonJS output turns these into require(). Node-only packages (the Dawn `webgpu`
// package, tfjs-node) go through runtimeRequire, which bundlers do not see, so they never reach
// a browser bundle.
const importWasm = () => import('@tensorflow/tfjs-backend-wasm');
const importWebgl = () => import('@tensorflow/tfjs-backend-webgl');
const importWebgpu = () => import('@tensorflow/tfjs-backend-webgpu');

function unavailable(name: BackendName, packages: string, cause: unknown): EntropixError {
  const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new EntropixError(
    'BACKEND_UNAVAILABLE',
    `backend '${name}' is not available: install ${packages} (${why})`,
    'backend',
  );
}

/** Which backend and, on webgpu, which adapter runs: see backendInfo(). */
export interface BackendInfo {
  /** tf.getBackend(). */
  backend: string;
  /** The GPU adapter (webgpu only), as the adapter reports itself. */
  adapter?: { vendor: string; architecture: string; device: string; description: string; software: boolean };
  /** Dawn's backend in Node ('vulkan', 'opengles', or the one ENTROPIX_WEBGPU_FLAGS named). */
  dawnBackend?: string;
  featureLevel?: 'core' | 'compatibility';
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}
interface GpuLike { requestAdapter: (o?: object) => Promise<GpuAdapterLike | null> }

/** The adapter chosen in Node, kept for backendInfo(). */
let nodeAdapter: { info: NonNullable<BackendInfo['adapter']>; dawnBackend: string; featureLevel: 'core' | 'compatibility' } | null = null;
// Dawn instances stay referenced for the life of the process.
const dawnInstances: unknown[] = [];

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software/i;

function describeAdapter(a: GpuAdapterLike): NonNullable<BackendInfo['adapter']> {
  const i = a.info ?? {};
  const info = {
    vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', description: i.description ?? '',
  };
  const software = !!(i.isFallbackAdapter ?? a.isFallbackAdapter) || SOFTWARE.test(`${info.device} ${info.description}`);
  return { ...info, software };
}

/**
 * In Node, WebGPU comes from Dawn through the `webgpu` package. Dawn's default instance on Linux
 * only looks for Vulkan, which needs the Vulkan loader (libvulkan.so.1, Debian's libvulkan1) and a
 * driver ICD; without them a GPU is reachable only through OpenGL ES (EGL), in WebGPU's
 * compatibility mode. So the adapters are tried in order: Vulkan, then OpenGL ES, taking the first
 * hardware one; a software adapter (Mesa's llvmpipe or lavapipe) only when
 * ENTROPIX_WEBGPU_SOFTWARE=1 asks for it. ENTROPIX_WEBGPU_FLAGS (Dawn toggles, e.g.
 * backend=opengles) and ENTROPIX_WEBGPU_FEATURE_LEVEL pick one instance by hand instead.
 */
async function installNodeWebGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  const dawn = load('webgpu') as { create: (flags: string[]) => unknown; globals: object };
  Object.assign(globalThis, dawn.globals);
  // Headless EGL (no display server) for the OpenGL ES backend; Mesa and NVIDIA both support it.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const explicit = process.env.ENTROPIX_WEBGPU_FLAGS;
  const tries: { flags: string[]; featureLevel: 'core' | 'compatibility' }[] = explicit !== undefined
    ? [{
      flags: explicit.split(',').filter(Boolean),
      featureLevel: process.env.ENTROPIX_WEBGPU_FEATURE_LEVEL === 'compatibility' ? 'compatibility' : 'core',
    }]
    : [{ flags: ['backend=vulkan'], featureLevel: 'core' }, { flags: ['backend=opengles'], featureLevel: 'compatibility' }];
  const allowSoftware = explicit !== undefined || /^(1|true|yes)$/i.test(process.env.ENTROPIX_WEBGPU_SOFTWARE ?? '');
  type Found = { gpu: GpuLike; flags: string[]; featureLevel: 'core' | 'compatibility'; info: NonNullable<BackendInfo['adapter']> };
  let chosen = null as Found | null;
  let software = null as Found | null;
  for (const t of tries) {
    const gpu = dawn.create(t.flags) as GpuLike;
    dawnInstances.push(gpu);
    const adapter = await gpu.requestAdapter({ featureLevel: t.featureLevel, powerPreference: 'high-performance' })
      .catch(() => null);
    if (!adapter) continue;
    const info = describeAdapter(adapter);
    if (!info.software) { chosen = { gpu, ...t, info }; break; }
    software ??= { gpu, ...t, info };
  }
  if (!chosen && allowSoftware) chosen = software;
  if (!chosen) {
    throw new Error(software
      ? `Dawn found only a software adapter (${software.info.description || software.info.device}); `
        + 'set ENTROPIX_WEBGPU_SOFTWARE=1 to use it'
      : 'Dawn found no adapter through Vulkan (is libvulkan.so.1 installed?) or OpenGL ES');
  }
  const { gpu, featureLevel, flags } = chosen;
  nodeAdapter = {
    info: chosen.info, featureLevel,
    dawnBackend: flags.find((f) => f.startsWith('backend='))?.slice('backend='.length) ?? 'default',
  };
  // tfjs asks navigator.gpu for an adapter once per backend start: always the chosen kind.
  const request = gpu.requestAdapter.bind(gpu);
  const wrapped = Object.create(gpu as object) as GpuLike;
  wrapped.requestAdapter = (o?: object) => request({ ...o, featureLevel });
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(g.navigator ?? {}), gpu: wrapped }, configurable: true, writable: true,
  });
}

/**
 * The backend in use and, on webgpu, its adapter (vendor, architecture, device, description,
 * whether it is a software one) and, in Node, Dawn's backend and the feature level.
 */
export function backendInfo(): BackendInfo {
  const backend = tf.getBackend();
  const info: BackendInfo = { backend };
  if (backend !== 'webgpu') return info;
  if (nodeAdapter) return { ...info, adapter: nodeAdapter.info, dawnBackend: nodeAdapter.dawnBackend, featureLevel: nodeAdapter.featureLevel };
  // In a browser: what tfjs kept of the adapter's info.
  const a = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  return {
    ...info,
    adapter: { vendor: a?.vendor ?? '', architecture: a?.architecture ?? '', device: '', description: '', software: false },
  };
}

/** Options for useBackend. */
export interface UseBackendOptions {
  /**
   * Where a page serves the wasm backend's binaries (tfjs-backend-wasm's dist/*.wasm): a URL
   * prefix ending in '/', handed to the package's setWasmPaths before the backend starts. Without
   * it the wasm package looks next to the page.
   */
  wasmPaths?: string;
}

async function register(name: BackendName, options: UseBackendOptions): Promise<void> {
  if (name === 'wasm' && options.wasmPaths !== undefined) {
    if (typeof options.wasmPaths !== 'string' || options.wasmPaths.length === 0) {
      throw new EntropixError('INVALID_ARGUMENT', 'wasmPaths must be a non-empty URL prefix', 'wasmPaths');
    }
    const wasm = await importWasm().catch((cause: unknown) => { throw unavailable(name, '@tensorflow/tfjs-backend-wasm', cause); });
    wasm.setWasmPaths(options.wasmPaths);
  }
  if (tf.findBackendFactory(name)) return;
  if (name === 'webgl' && isNode) {
    // tfjs-backend-webgl registers itself only in a browser (in Node it may be installed anyway:
    // @tensorflow/tfjs, which tfjs-node requires, depends on it).
    throw new EntropixError('BACKEND_UNAVAILABLE', "backend 'webgl' runs in browsers only; in Node use wasm, tensorflow or webgpu", 'backend');
  }
  try {
    switch (name) {
      case 'cpu':
        return; // registered by ./tf
      case 'wasm':
        await importWasm();
        return;
      case 'webgl':
        await importWebgl();
        return;
      case 'webgpu':
        if (isNode) await installNodeWebGpu();
        await importWebgpu();
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
export async function useBackend(name: BackendName, options: UseBackendOptions = {}): Promise<void> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new EntropixError(
      'UNKNOWN_BACKEND',
      `unknown backend ${JSON.stringify(name)}; expected one of ${BACKEND_NAMES.join(', ')}`,
      'backend',
    );
  }
  await register(name, options ?? {});
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
  started.set(name, backendInfo());
}

const started = new Map<string, BackendInfo>();

/** backendInfo() of every backend useBackend has started in this process (benchmarks record it). */
export function startedBackends(): BackendInfo[] {
  return [...started.values()];
}

/** One line for people: the backend and, on webgpu, the adapter. */
export function describeBackend(info: BackendInfo = backendInfo()): string {
  if (!info.adapter) return `backend ${info.backend}`;
  const a = info.adapter;
  const name = [a.vendor, a.architecture, a.device].filter(Boolean).join(' ');
  const dawn = info.dawnBackend ? `, Dawn ${info.dawnBackend}${info.featureLevel === 'compatibility' ? ' (compatibility)' : ''}` : '';
  return `backend ${info.backend}: ${name || 'unknown adapter'}${a.description ? ` — ${a.description}` : ''}${dawn}${a.software ? ', software' : ''}`;
}
