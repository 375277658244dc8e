// Tests that need something npm does not install (Mesa for webgpu; later Chromium, tfjs-node's
// native library). Where it is missing, a user's machine skips them loudly with the command that
// installs it; CI (CI=true) fails them, so a missing package never passes as green.
import { spawnSync } from 'node:child_process';

export interface Environment {
  /** What the tests need, for messages. */
  name: string;
  /** How to install it on a user's machine. */
  install: string;
  /** null when it is there, else why not (one line). */
  missing(): string | null;
}

/** Defines one test, as jest's `test(name, fn, timeout)` does. */
export type TestDefinition = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

/**
 * `test` where the environment is there. Otherwise `test.skip` with a warning naming the install
 * command, or, in CI, a test that fails with that message.
 */
export function testNeeding(env: Environment): TestDefinition {
  const missing = env.missing();
  if (missing === null) return test;
  const message = `${env.name} is missing (${missing}); install it with: ${env.install}`;
  if (process.env.CI === 'true') {
    return (name) => test(name, () => { throw new Error(`CI must have it: ${message}`); });
  }
  console.warn(`SKIPPED: ${message}`);
  return test.skip;
}

/**
 * Mesa's software OpenGL ES for WebGPU in Node (Dawn in the `webgpu` package, on llvmpipe). Dawn
 * dlopens the unversioned libEGL.so (Debian ships it in libegl-dev), glvnd then loads Mesa's
 * libEGL_mesa.so.0 (libegl-mesa0), which loads the llvmpipe driver swrast_dri.so
 * (libgl1-mesa-dri). .ci/run installs the same packages.
 */
export const MESA_PACKAGES = ['libegl-dev', 'libegl-mesa0', 'libgl1-mesa-dri'];

/** The environment Dawn gets in the tests (README: WebGPU in Node without a GPU). */
export const MESA_WEBGPU_ENV = {
  EGL_PLATFORM: 'surfaceless',
  ENTROPIX_WEBGPU_FLAGS: 'backend=opengles',
  ENTROPIX_WEBGPU_FEATURE_LEVEL: 'compatibility',
};

// Asks Dawn for an adapter in a child process (Dawn must not start inside jest's process).
const PROBE = `
  const { create, globals } = require('webgpu');
  Object.assign(globalThis, globals);
  create(process.env.ENTROPIX_WEBGPU_FLAGS.split(','))
    .requestAdapter({ featureLevel: process.env.ENTROPIX_WEBGPU_FEATURE_LEVEL })
    .then((a) => { process.stdout.write(a ? 'adapter' : 'none'); process.exit(0); },
          (e) => { process.stdout.write('error: ' + e.message); process.exit(0); });`;

let mesaMissing: string | null | undefined; // probed once per test file

export const MESA_WEBGPU: Environment = {
  name: "Mesa's OpenGL ES (llvmpipe) for WebGPU in Node",
  install: `sudo apt-get install ${MESA_PACKAGES.join(' ')}`,
  missing() {
    if (mesaMissing === undefined) mesaMissing = probeMesa();
    return mesaMissing;
  },
};

function probeMesa(): string | null {
  const r = spawnSync(process.execPath, ['-e', PROBE], {
    cwd: __dirname, encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...MESA_WEBGPU_ENV },
  });
  if (r.stdout === 'adapter') return null;
  const dawn = (r.stderr ?? '').split('\n').find((l) => /warning|error/i.test(l))?.trim();
  return `Dawn found no adapter${dawn ? `: ${dawn}` : r.stdout ? `: ${r.stdout}` : ''}`;
}
