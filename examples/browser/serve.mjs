// `npm run demo`: bundles the page (esbuild) and serves it on 127.0.0.1 with Node's http, with
// the bundled model under models/kjv-tiny/ and the wasm backend's binaries under wasm/, and
// importmap.html: the package without a bundler (an import map and ES modules of its peers). No
// cross-origin isolation headers, so wasm runs single-threaded (with SIMD), as it does in Node.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { esmOptions, esmRuntimeRequire } from '../../scripts/build-esm.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

/** The page's script, bundled in memory. */
export async function bundlePage() {
  const r = await build({
    entryPoints: [path.join(here, 'main.ts')],
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false,
    logLevel: 'warning', plugins: [esmRuntimeRequire],
  });
  return r.outputFiles[0].text;
}

/** The peers importmap.html maps, each served as one ES module with the others left as imports. */
const PEERS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-converter', '@huggingface/tokenizers', '@huggingface/jinja'];

/** /esm/entropix-tfjs.js (the package's ESM build, from source) and /esm/<peer>.js, built on first use. */
const esmModules = new Map();
async function esmModule(name) {
  if (!esmModules.has(name)) {
    esmModules.set(name, (async () => {
      const common = { write: false, bundle: true, format: 'esm', target: 'es2022', logLevel: 'warning' };
      const r = name === 'entropix-tfjs'
        ? await build({ ...esmOptions, ...common, platform: 'neutral' })
        : await build({
          ...common, platform: 'browser', absWorkingDir: root,
          stdin: { contents: `export * from '${name}';`, resolveDir: root, loader: 'js' },
          // Only the other peers' exact names stay imports (subpaths such as
          // @tensorflow/tfjs-core/dist/io/io_utils are bundled: the map names packages only).
          plugins: [{
            name: 'peers-external',
            setup(b) {
              b.onResolve({ filter: /^@(tensorflow|huggingface)\/[^/]+$/ }, (a) =>
                (a.path !== name && PEERS.includes(a.path) ? { path: a.path, external: true } : undefined));
            },
          }],
        });
      return r.outputFiles[0].text;
    })());
  }
  return esmModules.get(name);
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.json': 'application/json',
  '.wasm': 'application/wasm', '.bin': 'application/octet-stream', '.png': 'image/png' };

/** Where each URL prefix is served from; nothing outside these folders is reachable. */
const FOLDERS = {
  '/models/kjv-tiny/': path.join(root, 'models/kjv-tiny'),
  '/wasm/': path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist'),
};

/** Starts the server; resolves to { url, close }. port 0: any free port. */
export async function startServer({ port = 0, host = '127.0.0.1' } = {}) {
  const app = await bundlePage();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status, type, body) => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') return send(200, TYPES['.html'], fs.readFileSync(path.join(here, 'index.html')));
    if (url.pathname === '/app.js') return send(200, TYPES['.js'], app);
    if (url.pathname === '/importmap.html') return send(200, TYPES['.html'], fs.readFileSync(path.join(here, 'importmap.html')));
    const esm = /^\/esm\/(.+)\.js$/.exec(url.pathname);
    if (esm && (esm[1] === 'entropix-tfjs' || PEERS.includes(esm[1]))) {
      try {
        return send(200, TYPES['.js'], await esmModule(esm[1]));
      } catch (e) {
        return send(500, 'text/plain', String(e));
      }
    }
    for (const [prefix, dir] of Object.entries(FOLDERS)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const name = decodeURIComponent(url.pathname.slice(prefix.length));
      if (!/^[\w.-]+$/.test(name)) break;
      const file = path.join(dir, name);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) break;
      return send(200, TYPES[path.extname(name)] ?? 'application/octet-stream', fs.readFileSync(file));
    }
    send(404, 'text/plain', `not found: ${url.pathname}\n`);
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const url = `http://${host}:${server.address().port}/`;
  return {
    url,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  const { url } = await startServer({ port });
  console.log(`entropix-tfjs demo: ${url}  (Ctrl-C stops)`);
}
