// The ESM build (scripts/build-esm.mjs) in bundlers and as a plain ES module: the main entry and
// all it reaches stay free of Node built-ins, the backends' packages are followed by the bundler
// (and never the Node-only Dawn `webgpu` package), and a backend package missing at run time is
// BACKEND_UNAVAILABLE naming it.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtinModules } from 'module';
import { build, Metafile } from 'esbuild';

const root = path.resolve(__dirname, '..');
const builtins = new Set(builtinModules);
const isBuiltin = (p: string) => p.startsWith('node:') || builtins.has(p) || builtins.has(p.split('/')[0]!);

let dir: string;
let esm: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-esm-'));
  execFileSync(process.execPath, [path.join(root, 'scripts/build-esm.mjs'), path.join(dir, 'esm')]);
  esm = path.join(dir, 'esm/index.js');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Bundles `source` (an app importing the ESM build as `entropix`) for the browser. */
async function bundleApp(source: string, external: string[] = []): Promise<{ metafile: Metafile; code: string }> {
  const r = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js' },
    alias: { entropix: esm },
    nodePaths: [path.join(root, 'node_modules')],
    bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', external,
  });
  return { metafile: r.metafile, code: r.outputFiles[0]!.text };
}

describe('ESM build', () => {
  test('is one ES module that imports only packages, none of them Node built-ins', () => {
    const code = fs.readFileSync(esm, 'utf8');
    const specifiers = [...code.matchAll(/(?:^|\n)import\s[^;]*?from\s*"([^"]+)"|import\("([^"]+)"\)|(?:^|\n)import\s*"([^"]+)"/g)]
      .map((m) => m[1] ?? m[2] ?? m[3]!);
    expect(specifiers).toEqual(expect.arrayContaining([
      '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-backend-webgpu',
    ]));
    expect(specifiers.filter(isBuiltin)).toEqual([]);
    expect(specifiers.filter((s) => s.startsWith('.'))).toEqual([]);
    expect(code).not.toMatch(/\brequire\(/);
    expect(specifiers).not.toContain('webgpu');
  });

  test('bundles for the browser with every backend and no Node built-in reached from our code', async () => {
    const { metafile } = await bundleApp("import { useBackend } from 'entropix'; useBackend('wasm');");
    const inputs = Object.keys(metafile.inputs);
    // The backends came along through import() of literal names.
    for (const pkg of ['tfjs-backend-wasm', 'tfjs-backend-webgl', 'tfjs-backend-webgpu']) {
      expect(inputs.some((i) => i.includes(`@tensorflow/${pkg}/`))).toBe(true);
    }
    // Dawn's package never reaches a browser bundle.
    expect(inputs.filter((i) => /node_modules\/webgpu\//.test(i))).toEqual([]);
    const ours = Object.entries(metafile.inputs).find(([k]) => path.resolve(root, k) === esm)![1];
    expect(ours.imports.map((i) => i.original ?? i.path).filter((p) => isBuiltin(p))).toEqual([]);
    // Anything else that names a built-in is a package's own browser-field stub ("(disabled):…").
    for (const [file, input] of Object.entries(metafile.inputs)) {
      for (const imp of input.imports) {
        if (imp.external) throw new Error(`${file} imports ${imp.path}, left external`);
      }
    }
  });

  test('an optional backend marked external builds, and is BACKEND_UNAVAILABLE naming it when missing', async () => {
    const app = `
      import { useBackend } from 'entropix';
      try { await useBackend('webgl'); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const { code } = await bundleApp(app, ['@tensorflow/tfjs-backend-webgl']);
    expect(code).toMatch(/import\("@tensorflow\/tfjs-backend-webgl"\)/);
    // Run the bundle where the package cannot be found, with `process` hidden as in a browser.
    const file = path.join(dir, 'app.mjs');
    fs.writeFileSync(file, `globalThis.process = undefined;\n${code}`);
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').pop()!) as { code: string; message: string };
    expect(result.code).toBe('BACKEND_UNAVAILABLE');
    expect(result.message).toContain('@tensorflow/tfjs-backend-webgl');
  });
});
