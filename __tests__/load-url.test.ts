// loadModel(url) / loadTokenizer(url) against a local HTTP server serving models/kjv-tiny, and
// the ways a server can fail: a 404, a truncated shard, a shard of the wrong size, an oversized
// Content-Length, a shard path that leaves the folder. Refusals allocate nothing.
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { tf, useBackend, EntropixError, loadModel, loadTokenizer } from '../lib';
import * as node from '../lib/node';

const modelDir = path.resolve(__dirname, '../models/kjv-tiny');
const SHARD = 'group1-shard2of2.bin';
// The manifest's need: the shards' sizes on disk (kjv-tiny is one group).
const shardBytes = fs.readdirSync(modelDir).filter((f) => f.endsWith('.bin')).map((f) => fs.statSync(path.join(modelDir, f)).size);
const NEED = shardBytes.reduce((a, b) => a + b, 0);
const FULL = Math.max(...shardBytes);

type Route = (file: string, res: http.ServerResponse) => boolean; // true: handled
// Each folder is kjv-tiny with one thing broken.
const folders: Record<string, Route> = {
  ok: () => false,
  chunked: (file, res) => { // no Content-Length: bodies are read up to their need and checked after
    const body = fs.readFileSync(path.join(modelDir, file));
    res.writeHead(200);
    res.write(body.subarray(0, 1000));
    res.end(body.subarray(1000));
    return true;
  },
  'no-model-json': (file, res) => file === 'model.json' && notFound(res),
  'missing-shard': (file, res) => file === SHARD && notFound(res),
  truncated: (file, res) => { // the connection drops halfway through the shard
    if (file !== SHARD) return false;
    const body = fs.readFileSync(path.join(modelDir, file));
    res.writeHead(200, { 'Content-Length': body.length });
    res.write(body.subarray(0, body.length >> 1), () => res.destroy());
    return true;
  },
  short: (file, res) => { // a shard that is whole as sent, but shorter than the manifest needs
    if (file !== SHARD) return false;
    const body = fs.readFileSync(path.join(modelDir, file)).subarray(0, 1000);
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
    return true;
  },
  'long-length': (file, res) => { // announces more bytes than the manifest needs
    if (file !== SHARD) return false;
    res.writeHead(200, { 'Content-Length': fs.statSync(path.join(modelDir, file)).size + 4 });
    res.end();
    return true;
  },
  'huge-json': (file, res) => { // model.json announcing 1 GB: refused on the header
    if (file !== 'model.json') return false;
    res.writeHead(200, { 'Content-Length': 1e9 });
    res.write('{');
    return true;
  },
  escape: (file, res) => { // model.json naming a shard on another server
    if (file !== 'model.json') return false;
    const json = JSON.parse(fs.readFileSync(path.join(modelDir, file), 'utf8'));
    json.weightsManifest[0].paths[1] = 'http://example.com/evil.bin';
    res.end(JSON.stringify(json));
    return true;
  },
  'server-error': (file, res) => {
    if (file !== 'config.json') return false;
    res.writeHead(500);
    res.end('oops');
    return true;
  },
};

function notFound(res: http.ServerResponse): true {
  res.writeHead(404);
  res.end('not found');
  return true;
}

let server: http.Server;
let origin: string;

beforeAll(async () => {
  await useBackend('wasm');
  server = http.createServer((req, res) => {
    const [, folder, file] = /^\/([^/]+)\/([^/?]+)$/.exec(req.url ?? '') ?? [];
    const route = folder !== undefined ? folders[folder] : undefined;
    if (!route || !file) return void notFound(res);
    if (route(file, res)) return;
    const p = path.join(modelDir, file);
    if (!fs.existsSync(p)) return void notFound(res);
    const body = fs.readFileSync(p);
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function refusal(p: Promise<unknown>): Promise<EntropixError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof EntropixError)) throw e;
    return e;
  }
  throw new Error('expected a refusal');
}

async function logitsOf(model: { forward: node.CausalLM['forward'] }, ids: number[]): Promise<Float32Array> {
  const input = tf.tensor2d([ids], [1, ids.length], 'int32');
  const out = model.forward(input);
  const logits = (await out.logits.data()) as Float32Array;
  tf.dispose([input, out.logits, out.attentionScores]);
  out.cache.dispose();
  return logits;
}

describe('loadModel(url)', () => {
  test('gives the model a directory gives: same config, defaults and logits (folder, model.json, chunked)', async () => {
    const fromDir = await node.loadModel(modelDir);
    const tokenizer = await loadTokenizer(`${origin}/ok/`);
    const ids = tokenizer.encode('In the beginning');
    const want = await logitsOf(fromDir, ids);
    for (const url of [`${origin}/ok`, new URL(`${origin}/ok/model.json`), `${origin}/chunked/`]) {
      const before = tf.memory().numTensors;
      const m = await loadModel(url);
      expect(m.config).toEqual(fromDir.config);
      expect(m.generationDefaults).toEqual(fromDir.generationDefaults);
      expect(Array.from(await logitsOf(m, ids))).toEqual(Array.from(want));
      m.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    fromDir.dispose();
  });

  test('entropix-tfjs/node takes a URL too, and the tokenizer over HTTP equals the one on disk', async () => {
    const m = await node.loadModel(`${origin}/ok/`);
    expect(m.config.vocabSize).toBeGreaterThan(0);
    m.dispose();
    const [a, b] = [await node.loadTokenizer(`${origin}/ok/`), await node.loadTokenizer(modelDir)];
    expect(a.eosTokenIds).toEqual(b.eosTokenIds);
    expect(a.vocabSize).toBe(b.vocabSize);
    expect(a.encode('And God said, Let there be light')).toEqual(b.encode('And God said, Let there be light'));
  });

  test.each([
    ['no-model-json', /model\.json is missing: .*\/no-model-json\/model\.json answered HTTP 404/],
    ['missing-shard', /weight shard 'group1-shard2of2\.bin' is missing: .* answered HTTP 404/],
    ['truncated', /weight shard 'group1-shard2of2\.bin' at .* is truncated/],
    ['short', new RegExp(`weight shard 'group1-shard2of2\\.bin' is short: its group's weights need ${NEED} bytes, its shards hold ${FULL + 1000}`)],
    ['long-length', /weight shard 'group1-shard2of2\.bin' is too long/],
    ['huge-json', /model\.json at .* is too large: 1000000000 bytes, at most 67108864 allowed/],
    ['escape', /weight path "http:\/\/example\.com\/evil\.bin" is not a relative path/],
    ['server-error', /config\.json could not be fetched: .* answered HTTP 500/],
    ['nothing-here', /config\.json is missing: .* answered HTTP 404/],
  ])('%s is refused with a clear message and allocates nothing', async (folder, message) => {
    const before = tf.memory().numTensors;
    const e = await refusal(loadModel(`${origin}/${folder}/`));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.argument).toBe('url');
    expect(e.message).toMatch(message);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('limits, bad URLs and an abort are refused', async () => {
    const small = await refusal(loadModel(`${origin}/ok/`, { maxWeightBytes: 1e6 }));
    expect(small.message).toContain(`needs ${NEED} bytes of weights, more than maxWeightBytes (1000000)`);
    for (const url of ['', 'models/kjv-tiny', 'file:///etc/passwd', 42]) {
      const e = await refusal(loadModel(url as string));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.argument).toBe('url');
    }
    const controller = new AbortController();
    controller.abort();
    expect((await refusal(loadModel(`${origin}/ok/`, { signal: controller.signal }))).code).toBe('ABORTED');
    const t = await refusal(loadTokenizer(`${origin}/no-such/`));
    expect(t.message).toMatch(/tokenizer\.json is missing: .* answered HTTP 404/);
  });
});
