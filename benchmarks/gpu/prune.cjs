// Copies the node_modules the GPU benchmarks need into <bundle>/node_modules, pruned: each
// @tensorflow package keeps its package.json and its Node bundle (package.json "main"), `webgpu`
// keeps Dawn's linux-x64 addon, tsx keeps what runs TypeScript. Usage: node prune.cjs <root> <bundle>
const fs = require('node:fs');
const path = require('node:path');

const [root, bundle] = process.argv.slice(2);
const from = path.join(root, 'node_modules');
const to = path.join(bundle, 'node_modules');

function copy(rel) {
  const src = path.join(from, rel);
  const dst = path.join(to, rel);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.cpSync(src, dst, { recursive: true, dereference: true });
}

const seen = new Set();
/** A package and its dependencies, whole (small packages). */
function whole(name) {
  if (seen.has(name)) return;
  seen.add(name);
  const dir = path.join(from, name);
  if (!fs.existsSync(dir)) return;
  copy(name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) whole(dep);
}
/** package.json and the files listed, plus the package's non-@types dependencies. */
function only(name, files, deps = true) {
  seen.add(name);
  copy(path.join(name, 'package.json'));
  for (const f of files) copy(path.join(name, f));
  const pkg = JSON.parse(fs.readFileSync(path.join(from, name, 'package.json'), 'utf8'));
  if (deps) for (const dep of Object.keys(pkg.dependencies ?? {})) if (!dep.startsWith('@types/') && !dep.startsWith('@webgpu/')) whole(dep);
}

for (const name of ['tfjs-core', 'tfjs-backend-cpu', 'tfjs-backend-webgpu', 'tfjs-converter']) {
  const pkg = JSON.parse(fs.readFileSync(path.join(from, '@tensorflow', name, 'package.json'), 'utf8'));
  only(`@tensorflow/${name}`, [pkg.main], true);
}
// The @tensorflow packages depend on each other by name: those are copied pruned above.
only('webgpu', ['index.js', 'dist/linux-x64/dawn.node'], false);
only('esbuild', ['lib', 'install.js'], false);
only('@esbuild/linux-x64', ['bin/esbuild'], false);
for (const name of ['tsx', 'get-tsconfig', 'resolve-pkg-maps', '@huggingface/jinja', '@huggingface/tokenizers']) whole(name);
