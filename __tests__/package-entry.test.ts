// What the package's entry points load and what dist holds: library users never load the CLI's
// yargs, the main entry needs no Node built-in, and every shipped module is reachable from an entry.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  dependencies: Record<string, string>;
  exports: Record<string, { default?: string }>;
  bin: Record<string, string>;
};

/** Relative modules a file loads at run time, and the packages (bare specifiers) it loads. */
function runtimeImports(file: string): { local: string[]; bare: string[] } {
  const src = fs
    .readFileSync(file, 'utf8')
    .replace(/^\s*(import|export)\s+type\b[^;]*;/gms, '') // erased by tsc
    .replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
  const specs = [
    ...src.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g),
    ...src.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...src.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1]!);
  return { local: specs.filter((s) => s.startsWith('.')), bare: specs.filter((s) => !s.startsWith('.')) };
}

/** Every file reachable from `entries` through relative imports, with the bare specifiers they use. */
function closure(entries: string[], ext: '.ts' | '.js'): { files: Set<string>; bare: Map<string, string> } {
  const files = new Set<string>();
  const bare = new Map<string, string>(); // specifier → first file that loads it
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const { local, bare: packages } = runtimeImports(file);
    for (const p of packages) if (!bare.has(p)) bare.set(p, path.relative(ROOT, file));
    for (const spec of local) {
      const base = path.resolve(path.dirname(file), spec);
      const target = [base + ext, path.join(base, `index${ext}`), base].find(
        (f) => fs.existsSync(f) && fs.statSync(f).isFile(),
      );
      if (!target) throw new Error(`${file}: cannot resolve ${spec}`);
      visit(target);
    }
  };
  entries.forEach(visit);
  return { files, bare };
}

const isYargs = (spec: string): boolean => spec === 'yargs' || spec.startsWith('yargs/');
const NODE_BUILTINS = new Set(builtinModules);
const isBuiltin = (spec: string): boolean => spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0]!);

describe('entry points (source)', () => {
  const lib = (f: string) => path.join(ROOT, 'lib', f);

  test('the library entries never import yargs; the CLI does (the check can see it)', () => {
    for (const entry of ['index.ts', 'node.ts']) {
      const { bare } = closure([lib(entry)], '.ts');
      expect([...bare.keys()].filter(isYargs)).toEqual([]);
      expect(bare.has('@tensorflow/tfjs-core')).toBe(true); // the scan does see packages
    }
    expect([...closure([lib('cli/main.ts')], '.ts').bare.keys()].some(isYargs)).toBe(true);
  });

  test('the main entry imports no Node built-in (browser bundles); the node entry does', () => {
    const main = closure([lib('index.ts')], '.ts').bare;
    expect([...main].filter(([spec]) => isBuiltin(spec))).toEqual([]);
    expect([...closure([lib('node.ts')], '.ts').bare.keys()].some(isBuiltin)).toBe(true);
  });
});

// dist is what npm ships; `npm ci` (prepare) builds it. A stale or missing build skips loudly here
// and fails in CI.
function distState(): string | null {
  const index = path.join(DIST, 'index.js');
  if (!fs.existsSync(index)) return 'dist/ is missing';
  const built = fs.statSync(index).mtimeMs;
  const newer = closure([path.join(ROOT, 'lib', 'node.ts'), path.join(ROOT, 'lib', 'cli', 'main.ts')], '.ts').files;
  const stale = [...newer].filter((f) => fs.statSync(f).mtimeMs > built);
  return stale.length ? `dist/ is older than ${path.relative(ROOT, stale[0]!)}` : null;
}
const distProblem = distState();
if (distProblem && process.env.CI !== 'true') {
  console.warn(`SKIPPED dist checks: ${distProblem}; run \`npm run build\` first.`);
}
const distTest = distProblem && process.env.CI !== 'true' ? test.skip : test;

describe('dist', () => {
  distTest('is built and fresh', () => expect(distProblem).toBeNull());

  distTest('requiring dist/index.js and dist/node.js loads no yargs', () => {
    const script = `
      const yargs = (k) => /[\\\\/]node_modules[\\\\/]yargs[\\\\/]/.test(k);
      const out = {};
      require(${JSON.stringify(path.join(DIST, 'index.js'))});
      out.index = Object.keys(require.cache).filter(yargs);
      require(${JSON.stringify(path.join(DIST, 'node.js'))});
      out.node = Object.keys(require.cache).filter(yargs);
      require('yargs'); // the control: the filter does see yargs once it is loaded
      out.control = Object.keys(require.cache).filter(yargs).length > 0;
      console.log(JSON.stringify(out));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!,
    );
    expect(out).toEqual({ index: [], node: [], control: true });
  });

  distTest('holds only modules reachable from an entry point or the CLI (no training-only code)', () => {
    const entries = [...Object.values(pkg.exports).map((e) => e.default), ...Object.values(pkg.bin)]
      .filter((e): e is string => typeof e === 'string')
      .map((e) => path.join(ROOT, e));
    expect(entries.length).toBe(3);
    const reachable = closure(entries, '.js').files;
    // A type-only module (its .d.ts is what counts) compiles to boilerplate that nothing requires.
    const typeOnly = (f: string) =>
      fs
        .readFileSync(f, 'utf8')
        .replace(/^\/\/.*$/gm, '')
        .replace('"use strict";', '')
        .replace('Object.defineProperty(exports, "__esModule", { value: true });', '')
        .trim() === '';
    const shipped = (fs.readdirSync(DIST, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.js'))
      .map((f) => path.join(DIST, f))
      .filter((f) => !typeOnly(f));
    expect(shipped.filter((f) => !reachable.has(f)).map((f) => path.relative(ROOT, f))).toEqual([]);
    expect(fs.existsSync(path.join(DIST, 'text', 'byte-tokenizer.js'))).toBe(false);
    // Every runtime package dist loads is a dependency, a peer, or a Node built-in.
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    const packageName = (s: string) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
    const undeclared = [...closure(entries, '.js').bare].filter(
      ([s]) => !isBuiltin(s) && !declared.has(packageName(s)),
    );
    expect(undeclared).toEqual([]);
  });
});

describe('package.json', () => {
  test('every optional peer has a version range', () => {
    const optional = Object.entries(pkg.peerDependenciesMeta)
      .filter(([, m]) => m.optional)
      .map(([name]) => name);
    expect(optional.sort()).toEqual([
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-node',
      '@tensorflow/tfjs-node-gpu',
      'webgpu',
    ]);
    for (const name of optional)
      expect([name, pkg.peerDependencies[name]]).toEqual([name, expect.stringMatching(/^\^\d+\.\d+\.\d+$/)]);
  });
});
