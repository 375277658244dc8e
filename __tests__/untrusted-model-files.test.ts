// Issue 13, items 1–4 and 6: a model directory is untrusted input. Its files are bounded before
// they are parsed, checked against each other before anything is built, and never followed
// outside the directory. Cases whose failure mode is a hang or an out-of-memory run in a child
// process with a time and heap limit.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseHfConfig } from '../lib/models/hf-config';
import { MAX_TENSORS_PER_FILE, readSafetensorsHeader } from '../lib/models/safetensors';

const ROOT = path.join(__dirname, '..');
const BUNDLED = path.join(ROOT, 'models', 'kjv-tiny');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-model-files-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs a CommonJS snippet (TypeScript modules load through tsx) in a child with a heap cap and a time limit. */
export function inChild(code: string, { timeoutMs = 20_000, heapMb = 256 } = {}) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, '--require', 'tsx/cjs', '-e', code],
    { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

describe('config.json bounds (item 1)', () => {
  const base = JSON.parse(fs.readFileSync(path.join(BUNDLED, 'config.json'), 'utf8'));
  test.each([
    ['num_hidden_layers', 1e9], ['num_hidden_layers', 1e7], ['head_dim', 2e9], ['vocab_size', 1e8],
    ['hidden_size', 1e6], ['intermediate_size', 1e7], ['max_position_embeddings', 1e9], ['num_attention_heads', 4096],
  ])('%s: %d is refused', (field, value) => {
    expect(() => parseHfConfig({ ...base, [field]: value }, 'config.json'))
      .toThrow(expect.objectContaining({ name: 'EntropixError', code: 'INVALID_ARGUMENT', argument: field }));
  });

  test('the extremes of real models pass', () => {
    const big = {
      ...base, vocab_size: 262_144, num_hidden_layers: 126, hidden_size: 16_384, intermediate_size: 53_248,
      num_attention_heads: 128, num_key_value_heads: 8, head_dim: 256, max_position_embeddings: 10_000_000,
    };
    expect(parseHfConfig(big, 'config.json')).toMatchObject({ numLayers: 126, vocabSize: 262_144, maxPositions: 10_000_000 });
  });
});

describe('safetensors headers (item 6)', () => {
  test(`a header listing more than ${MAX_TENSORS_PER_FILE} tensors is refused before it is parsed`, async () => {
    const n = MAX_TENSORS_PER_FILE + 50_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const header = Buffer.from(`{${parts.join(',')}}`);
    const file = path.join(tmp, 'many.safetensors');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([length, header]));
    const parse = jest.spyOn(JSON, 'parse');
    try {
      await expect(readSafetensorsHeader(file)).rejects.toThrow(/more than 100000 tensors/);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});
