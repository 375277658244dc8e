// lib/core/runtime-require.ts in the ESM build (build-esm.mjs swaps it in): browsers and bundlers have
// no require, and what it loads (the Dawn `webgpu` package, tfjs-node) is Node-only; Node takes
// the CommonJS build.

export function runtimeRequire<T = unknown>(name: string): T {
  throw new Error(`${name} is Node-only: this ES module build cannot load it (Node uses the CommonJS build)`);
}
