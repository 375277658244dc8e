// The ESM build beside tsc's CommonJS one: dist/esm/index.js, the main (browser-safe) entry as one
// ES module. Packages stay imports (the tfjs packages are peers: a page that also imports
// @tensorflow/tfjs shares one engine), and the backends' import() of literal names stays for the
// app's bundler to follow. Types come from tsc's dist/index.d.ts.
import { build } from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// runtimeRequire (Node-only packages by name) has no require to call in an ES module.
export const esmRuntimeRequire = {
  name: 'esm-runtime-require',
  setup(b) {
    b.onResolve({ filter: /\/runtime-require$/ }, () => ({ path: path.join(root, 'scripts/esm-runtime-require.ts') }));
  },
};

/** esbuild's options for the ESM main entry (without where it goes). */
export const esmOptions = {
  entryPoints: [path.join(root, 'lib/index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  packages: 'external',
  logLevel: 'warning',
  plugins: [esmRuntimeRequire],
};

/**
 * Writes `outDir`/index.js. No source map (the package does not ship lib/), and no package.json
 * "type": "module" beside it: Node takes the CommonJS build (the "node" export condition), so only
 * bundlers and browsers read this file, and they go by the import, not the extension.
 */
export async function buildEsm(outDir = path.join(root, 'dist/esm')) {
  await build({ ...esmOptions, outfile: path.join(outDir, 'index.js') });
}

// `node scripts/build-esm.mjs [outDir]`
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildEsm(process.argv[2] && path.resolve(process.argv[2]));
