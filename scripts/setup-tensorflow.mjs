#!/usr/bin/env node
// `npm run setup:tensorflow [-- --gpu] [-- --offline]`: installs @tensorflow/tfjs-node 4.22.0 (the
// `tensorflow` backend) into node_modules without saving it (it stays an optional peer, never part
// of `npm ci`), and checks that its native binding loads and computes.
//
// Online: the package's own install script downloads libtensorflow 2.9.1 and a prebuilt addon from
// storage.googleapis.com (with --gpu and CUDA present: @tensorflow/tfjs-node-gpu instead).
// Offline (that host unreachable, or --offline): the package without its install script, then
// libtensorflow from the `tensorflow-cpu` wheel pip serves (libtensorflow_cc.so.2 exports the C and
// eager C APIs the binding calls and needs only libtensorflow_framework.so.2), laid out as the
// package's deps/lib + deps/include under the names its binding.gyp links, and the addon built
// from source with node-pre-gyp against the local Node headers.
//
// Idempotent: a run that finds a working binding does nothing. Prints what it did.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const TFJS_VERSION = '4.22.0';
const WHEEL = { name: 'tensorflow-cpu', version: '2.21.0', file: /^tensorflow_cpu-2\.21\.0-.*\.whl$/ };
// The libtensorflow tarball tfjs-node 4.22 downloads; reachable means the normal install works.
const PROBE_URL = 'https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz';
// Local pip indexes some machines (ours) serve the wheel from, tried when the configured one fails.
const LOCAL_INDEXES = ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple'];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const wantGpu = args.has('--gpu');
const forceOffline = args.has('--offline');
const cacheDir = process.env.ENTROPIX_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'entropix-tfjs');
const started = Date.now();

function say(line) {
  console.log(`setup:tensorflow: ${line}`);
}
function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
function fail(line) {
  console.error(`setup:tensorflow: error: ${line}`);
  process.exit(1);
}

/** Runs a command, showing its output; returns its exit status. */
function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...options });
  if (r.error) return { status: -1, error: r.error };
  return { status: r.status ?? -1 };
}

/**
 * Loads the package in a child process (a broken binding may crash it) and adds two numbers on
 * the `tensorflow` backend. Returns null when it works, else why not (one line).
 */
function bindingProblem(pkg) {
  const check = `
    const tf = require(${JSON.stringify(pkg)});
    if (tf.version['tfjs-node'] !== ${JSON.stringify(TFJS_VERSION)}) throw new Error('version ' + tf.version['tfjs-node']);
    if (tf.getBackend() !== 'tensorflow') throw new Error('backend ' + tf.getBackend());
    const s = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync();
    if (s[0] !== 4 || s[1] !== 6) throw new Error('1+3, 2+4 gave ' + Array.from(s));
    process.stdout.write('ok');`;
  const r = spawnSync(process.execPath, ['-e', check], {
    cwd: root, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.stdout === 'ok') return null;
  const lines = `${r.stderr ?? ''}`.split('\n').map((l) => l.trim());
  return lines.find((l) => /^(Error|\w*Error):/.test(l)) ?? lines.find(Boolean) ?? `exit ${r.status}`;
}

function installedVersion(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Whether the host tfjs-node downloads libtensorflow from answers (5 s). */
function downloadHostReachable() {
  return new Promise((resolve) => {
    const req = https.request(PROBE_URL, { method: 'HEAD', timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode < 400);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** CUDA 11 and cuDNN 8 libraries, which libtensorflow 2.9.1 for GPU loads (ldconfig's cache). */
function cudaForTf29() {
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const libs = r.stdout ?? '';
  const missing = ['libcudart.so.11.0', 'libcudnn.so.8'].filter((l) => !libs.includes(l));
  return missing.length === 0 ? null : `missing ${missing.join(', ')}`;
}

/**
 * npm install of one package without touching package.json or the lock. The package is an
 * optional peer of ours, and npm drops a --no-save request that stays a peerOptional edge, so
 * --save-prod makes the in-memory request a plain dependency (nothing is written).
 */
function npmInstall(spec, ignoreScripts) {
  const argv = ['install', '--no-save', '--save-prod', '--no-audit', '--no-fund', spec];
  if (ignoreScripts) argv.push('--ignore-scripts');
  say(`npm ${argv.join(' ')}`);
  const t = Date.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (run(npm, argv).status !== 0) fail(`npm install ${spec} failed`);
  say(`installed ${spec} (${seconds(t)})`);
}

function findWheel() {
  if (!fs.existsSync(cacheDir)) return null;
  const f = fs.readdirSync(cacheDir).find((n) => WHEEL.file.test(n));
  return f ? path.join(cacheDir, f) : null;
}

/** The tensorflow-cpu wheel, from the cache or downloaded into it with pip. */
function wheel() {
  const cached = findWheel();
  if (cached) {
    say(`wheel ${cached} (cached)`);
    return cached;
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : 'python';
  const base = ['-m', 'pip', 'download', '--retries', '1', '--no-deps', '--only-binary=:all:', '-d', cacheDir, `${WHEEL.name}==${WHEEL.version}`];
  const t = Date.now();
  for (const extra of [[], LOCAL_INDEXES]) {
    say(`${python} ${[...base, ...extra].join(' ')}`);
    if (run(python, [...base, ...extra]).status === 0 && findWheel()) {
      say(`downloaded ${findWheel()} (${seconds(t)})`);
      return findWheel();
    }
  }
  fail(`pip could not download ${WHEEL.name}==${WHEEL.version}; is pip installed, and does its index serve it?`);
}

// Reads the binding's sources for the TensorFlow headers they include, follows their includes
// inside the wheel's include/ (14 files for 2.21), and writes them and the two libraries out.
const EXTRACT = String.raw`
import os, re, shutil, sys, zipfile
whl, binding, out = sys.argv[1:4]
z = zipfile.ZipFile(whl)
names = set(z.namelist())
INC = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
todo = []
for f in os.listdir(binding):
    todo += [h for h in INC.findall(open(os.path.join(binding, f)).read()) if '/' in h]
seen = set()
while todo:
    h = todo.pop()
    if h in seen:
        continue
    member = 'tensorflow/include/' + h
    if member not in names:
        sys.exit('the wheel has no ' + member)
    seen.add(h)
    data = z.read(member)
    todo += INC.findall(data.decode())
    dest = os.path.join(out, 'include', h)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    open(dest, 'wb').write(data)
os.makedirs(os.path.join(out, 'lib'), exist_ok=True)
for lib in ('libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'):
    with z.open('tensorflow/' + lib) as s, open(os.path.join(out, 'lib', lib), 'wb') as d:
        shutil.copyfileobj(s, d, 1 << 22)
print(len(seen))
`;

/** node_modules/<pkg>/deps from the wheel; returns the number of headers. */
function stageDeps(pkgDir, whl) {
  const deps = path.join(pkgDir, 'deps');
  const tmp = `${deps}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const t = Date.now();
  const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : 'python';
  const r = spawnSync(python, ['-c', EXTRACT, whl, path.join(pkgDir, 'binding'), tmp], { encoding: 'utf8' });
  if (r.status !== 0) fail(`extracting libtensorflow from ${whl}: ${(r.stderr || r.stdout).trim()}`);
  // binding.gyp links -ltensorflow -ltensorflow_framework from deps/lib; the package's install
  // script checks for libtensorflow.so.2.9.1. The addon then records the SONAMEs
  // (libtensorflow_cc.so.2, libtensorflow_framework.so.2) and finds them through its rpath.
  const lib = path.join(tmp, 'lib');
  for (const [link, target] of [
    ['libtensorflow.so', 'libtensorflow_cc.so.2'],
    ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
    ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
    ['libtensorflow_framework.so.2.9.1', 'libtensorflow_framework.so.2'],
  ]) fs.symlinkSync(target, path.join(lib, link));
  fs.rmSync(deps, { recursive: true, force: true });
  fs.renameSync(tmp, deps);
  say(`staged ${deps}: lib/ (libtensorflow_cc.so.2 as libtensorflow.so, libtensorflow_framework.so.2) and ${r.stdout.trim()} headers in include/ (${seconds(t)})`);
}

/** The directory with include/node/node_api.h for this Node, so node-gyp needs no download. */
function nodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function buildAddon(pkgDir) {
  const preGyp = path.join(root, 'node_modules', '@mapbox', 'node-pre-gyp', 'bin', 'node-pre-gyp');
  const env = { ...process.env };
  const dir = nodeDir();
  if (dir) env.npm_config_nodedir = dir;
  else say('no Node headers next to node (include/node/node_api.h): node-gyp will try to download them');
  say(`node-pre-gyp install --build-from-source in ${path.relative(root, pkgDir)}${dir ? ` (npm_config_nodedir=${dir})` : ''}`);
  const t = Date.now();
  const r = spawnSync(process.execPath, [preGyp, 'install', '--build-from-source'], { cwd: pkgDir, env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    fail('building the tfjs-node addon failed (a C++ compiler, make and python3 are needed)');
  }
  say(`built the addon (${seconds(t)})`);
}

async function main() {
  let pkg = '@tensorflow/tfjs-node';
  if (wantGpu) {
    const cuda = cudaForTf29();
    if (cuda === null) pkg = '@tensorflow/tfjs-node-gpu';
    else say(`--gpu: CUDA 11 / cuDNN 8 not found (${cuda}); setting up the CPU build instead (README: the tensorflow backend)`);
  }
  const version = installedVersion(pkg);
  if (version === TFJS_VERSION && bindingProblem(pkg) === null) {
    say(`${pkg}@${version} is installed and its binding works: nothing to do`);
    return;
  }
  const offline = forceOffline || (!process.env.TFJS_NODE_BASE_URI && !(await downloadHostReachable()));
  if (!offline) {
    const from = process.env.TFJS_NODE_BASE_URI ? `TFJS_NODE_BASE_URI=${process.env.TFJS_NODE_BASE_URI}` : `${new URL(PROBE_URL).host} is reachable`;
    say(`${from}: the package's own install (libtensorflow 2.9.1${pkg.endsWith('-gpu') ? ' for GPU' : ''})`);
    npmInstall(`${pkg}@${TFJS_VERSION}`, false);
  } else {
    if (pkg.endsWith('-gpu')) fail('the offline build is CPU only (the tensorflow-cpu wheel); run it without --gpu');
    if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the offline build is for linux x64, not ${process.platform} ${process.arch}`);
    say(`${forceOffline ? '--offline' : `${new URL(PROBE_URL).host} is unreachable`}: building against the ${WHEEL.name} ${WHEEL.version} wheel`);
    if (version !== TFJS_VERSION) npmInstall(`${pkg}@${TFJS_VERSION}`, true);
    else say(`${pkg}@${version} is installed (${bindingProblem(pkg)})`);
    const pkgDir = path.join(root, 'node_modules', pkg);
    const staged = path.join(pkgDir, 'deps', 'lib', 'libtensorflow_cc.so.2');
    if (fs.existsSync(staged) && fs.existsSync(path.join(pkgDir, 'deps', 'include', 'tensorflow', 'c', 'c_api.h'))) {
      say(`${path.relative(root, path.dirname(path.dirname(staged)))} is already staged`);
    } else {
      stageDeps(pkgDir, wheel());
    }
    buildAddon(pkgDir);
  }
  const problem = bindingProblem(pkg);
  if (problem !== null) fail(`${pkg} is installed but its binding does not work: ${problem}`);
  say(`${pkg}@${TFJS_VERSION} works: useBackend('tensorflow') is available (${seconds(started)} in all)`);
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
