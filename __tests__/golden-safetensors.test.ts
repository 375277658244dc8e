// Golden safetensors files written by the Python safetensors library (and a sharded checkpoint by
// huggingface_hub), see __tests__/fixtures/golden/README.md: our reader must see the same header
// and the same values, bit for bit once widened to float32.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EntropixError } from '../lib';
import {
  readSafetensorsHeader, readSafetensorsTensor, SafetensorsCheckpoint, SafetensorsFloatDtype, writeSafetensors,
} from '../lib/models/safetensors';

const ROOT = path.join(__dirname, 'fixtures', 'golden', 'safetensors');

interface TensorGolden { dtype: string; shape: number[]; float32?: (number | string)[]; int?: number[] }
interface Golden {
  files: Record<string, { metadata: Record<string, string>; tensors: Record<string, TensorGolden> }>;
  sharded: { files: string[]; tensors: Record<string, TensorGolden> };
}
const golden: Golden = JSON.parse(fs.readFileSync(path.join(ROOT, 'golden.json'), 'utf8'));

const DTYPES: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32' };
const value = (x: number | string): number => (typeof x === 'number' ? x : Number(x)); // "NaN", "Infinity", "-Infinity"

/** Exact equality, -0 and NaN included. */
function expectSameFloats(actual: Float32Array, expected: (number | string)[], what: string): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((x, i) => {
    if (!Object.is(actual[i], value(x))) throw new Error(`${what}[${i}]: read ${actual[i]}, Python has ${x}`);
  });
}

/**
 * The bytes with every NaN of a 16-bit file as one pattern: NaN payloads are not values (torch
 * narrows float32 NaN to bf16 0xFFFF, we to 0x7FC0).
 */
function canonicalNaNs(bytes: Buffer, file: string): Buffer {
  if (file === 'f32.safetensors') return bytes;
  const [exp, frac] = file === 'bf16.safetensors' ? [0x7f80, 0x007f] : [0x7c00, 0x03ff];
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i += 2) {
    const w = out.readUInt16LE(i);
    if ((w & exp) === exp && (w & frac) !== 0) out.writeUInt16LE(exp | frac, i);
  }
  return out;
}

describe('safetensors files written by the Python library', () => {
  test.each(Object.keys(golden.files))('%s: header and values as Python wrote them', async (file) => {
    const g = golden.files[file]!;
    const p = path.join(ROOT, file);
    const header = await readSafetensorsHeader(p);
    expect(header.metadata).toEqual(g.metadata);
    expect([...header.tensors.keys()].sort()).toEqual(Object.keys(g.tensors).sort());
    for (const [name, t] of Object.entries(g.tensors)) {
      const info = header.tensors.get(name)!;
      expect(info.dtype).toBe(DTYPES[t.dtype]);
      expect(info.shape).toEqual(t.shape);
      if (t.float32) {
        expectSameFloats(await readSafetensorsTensor(p, header, name), t.float32, `${file}:${name}`);
      } else {
        // Integer tensors are described but not read as floats: a typed refusal, naming the tensor.
        await expect(readSafetensorsTensor(p, header, name)).rejects.toMatchObject({ code: 'INVALID_DTYPE', argument: name });
        const count = t.shape.reduce((a, b) => a * b, 1);
        expect(info.dataOffsets[1] - info.dataOffsets[0]).toBe(count * (t.dtype === 'int64' ? 8 : 4));
      }
    }
  });

  test.each(['f32.safetensors', 'f16.safetensors', 'bf16.safetensors'])(
    '%s: our writer, given the values Python read, writes the same bytes', async (file) => {
      const g = golden.files[file]!;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-golden-st-'));
      try {
        const out = path.join(dir, file);
        const tensors = Object.fromEntries(Object.entries(g.tensors).map(([name, t]) => [name, {
          dtype: DTYPES[t.dtype] as SafetensorsFloatDtype, shape: t.shape, data: Float32Array.from(t.float32!, value),
        }]));
        await writeSafetensors(out, tensors);
        const ours = await readSafetensorsHeader(out);
        const theirs = await readSafetensorsHeader(path.join(ROOT, file));
        expect(ours.tensors).toEqual(theirs.tensors); // same layout (widest dtype first, then by name)
        const data = (f: string, h: typeof ours) => canonicalNaNs(fs.readFileSync(f).subarray(h.dataStart), file);
        expect(Buffer.compare(data(out, ours), data(path.join(ROOT, file), theirs))).toBe(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

  test('a sharded checkpoint written by huggingface_hub reads through its index', async () => {
    const dir = path.join(ROOT, 'sharded');
    expect(fs.readdirSync(dir).sort()).toEqual(golden.sharded.files);
    const ckpt = await SafetensorsCheckpoint.open(dir);
    for (const [name, t] of Object.entries(golden.sharded.tensors)) {
      expect(ckpt.tensor(name).dtype).toBe(DTYPES[t.dtype]);
      expect(ckpt.tensor(name).shape).toEqual(t.shape);
      expectSameFloats(await ckpt.read(name), t.float32!, `sharded:${name}`);
    }
    expect(() => ckpt.tensor('missing.weight')).toThrow(EntropixError);
  });
});
