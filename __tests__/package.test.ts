// The package as a user gets it: `npm pack`, unpacked into a temporary project whose node_modules
// links this repository's copies of the dependencies and peers (no registry), then loaded from
// CommonJS and from ESM in child node processes.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, sampleTokens } from '../lib';
import { ROOT, requireFreshDist } from './helpers/dist';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string; dependencies: Record<string, string>; peerDependencies: Record<string, string>;
};

/** What a packed package may hold: the build, the bundled model, READMEs, package.json. */
const SHIPPED = /^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts|js\.map)|models\/README\.md|models\/kjv-tiny\/[^/]+)$/;

// A seeded draw the children repeat: same seeds, same tokens.
const LOGITS = [[0.3, 2, -1, 1.5, 0.9, 2.2], [1, 1.1, 0.2, -3, 0.5, 0.7]];
const PARAMS = { temperature: 1.3, topP: 0.95 };
const SEED = 17;
const DRAW = `
  await useBackend('cpu');
  const x = tf.tensor2d(${JSON.stringify(LOGITS)});
  const tokens = Array.from(await sampleTokens(tf.tile(x, [50, 1]), ${JSON.stringify(PARAMS)}, ${SEED}).data());`;

let tmp: string;
let project: string;
let files: string[];

beforeAll(() => {
  requireFreshDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-pack-'));
  // --ignore-scripts: `prepare` would rebuild dist/ while other test files use it.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const packed = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path).sort();
  project = path.join(tmp, 'project');
  const installed = path.join(project, 'node_modules', pkg.name);
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(tmp, packed[0]!.filename), '-C', installed, '--strip-components=1']);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  // Only what package.json declares, so an undeclared import fails here as it would for a user.
  for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]) {
    const link = path.join(project, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), link, 'dir');
  }
}, 60_000);
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs a script in the temporary project; returns its last stdout line as JSON. */
function runInProject(file: string, source: string): Record<string, unknown> {
  fs.writeFileSync(path.join(project, file), source);
  const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${file} exited with ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function expectedTokens(): Promise<number[]> {
  await useBackend('cpu');
  const x = tf.tile(tf.tensor2d(LOGITS), [50, 1]) as tf.Tensor2D;
  const t = sampleTokens(x, PARAMS, SEED);
  const tokens = Array.from(await t.data());
  tf.dispose([x, t]);
  return tokens;
}

test('the tarball holds the build, the bundled model and READMEs; no sources, tests, training or benchmarks', () => {
  const unexpected = files.filter((f) => !SHIPPED.test(f));
  expect(unexpected).toEqual([]);
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/node.js', 'dist/cli/main.js', 'models/kjv-tiny/model.json', 'models/kjv-tiny/tokenizer.json']) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => /test|training|bench|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
});

test('require() of the main and the node entry works and draws what the sources draw', async () => {
  const got = runInProject('use.cjs', `
    const { tf, useBackend, sampleTokens } = require('${pkg.name}');
    const node = require('${pkg.name}/node');
    (async () => {${DRAW}
      console.log(JSON.stringify({ tokens, resolved: require.resolve('${pkg.name}'), sameTf: node.tf === tf,
        loadModel: typeof node.loadModel, version: require('${pkg.name}/package.json').version }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `);
  expect(got.resolved).toBe(path.join(fs.realpathSync(project), 'node_modules', pkg.name, 'dist', 'index.js'));
  expect(got.sameTf).toBe(true);
  expect(got.loadModel).toBe('function');
  expect(got.tokens).toEqual(await expectedTokens());
});

test('import from ESM (named exports) works and draws the same tokens', async () => {
  const got = runInProject('use.mjs', `
    import { tf, useBackend, sampleTokens } from '${pkg.name}';
    import { loadModel } from '${pkg.name}/node';${DRAW}
    console.log(JSON.stringify({ tokens, loadModel: typeof loadModel }));
  `);
  expect(got.loadModel).toBe('function');
  expect(got.tokens).toEqual(await expectedTokens());
});

test('the packed CLI generates from its bundled model', () => {
  const cli = path.join(project, 'node_modules', pkg.name, 'dist', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'generate', '--prompt', 'And', '--max-new-tokens', '5', '--seed', '1'],
    { cwd: project, encoding: 'utf8', timeout: 20_000 });
  expect(r.stderr).toMatch(/^5 tokens in .*seed 1/);
  expect(r.status).toBe(0);
  expect(r.stdout.startsWith('And')).toBe(true);
});
