import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  readSafetensorsHeader, readSafetensorsTensor, writeSafetensors, readSafetensorsIndex, SafetensorsCheckpoint,
  halfToFloatBits, floatBitsToHalf, floatBitsToBf16, SafetensorsInput, MAX_HEADER_BYTES,
} from '../lib/models/safetensors';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-safetensors-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

let fileCounter = 0;
/** A fresh path (or directory, made) under the temp dir. */
function fresh(ext = '.safetensors'): string { return path.join(tmp, `f${fileCounter++}${ext}`); }
function freshDir(): string { const d = fresh(''); fs.mkdirSync(d); return d; }

/** Writes a file by hand: 8-byte length (or `length`), the header text, then `body`. */
function rawFile(header: unknown, body: Uint8Array | number = 0, length?: bigint, file = fresh()): string {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(text.length));
  const bytes = typeof body === 'number' ? new Uint8Array(body) : body;
  fs.writeFileSync(file, Buffer.concat([prefix, text, bytes]));
  return file;
}

/** Asserts the promise rejects with an EntropixError of `code`, `argument` and a message matching `message`. */
async function expectRejected(p: Promise<unknown>, code: string, argument?: string | RegExp, message?: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeDefined();
  expect((caught as Error).name).toBe('EntropixError');
  expect((caught as { code?: string }).code).toBe(code);
  if (argument !== undefined) expect((caught as { argument?: string }).argument).toMatch(argument);
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
}
const exactly = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bitsOf(x: number): number { f32[0] = x; return u32[0]!; }
function fromBits(b: number): number { u32[0] = b >>> 0; return f32[0]!; }
function bitsArray(a: Float32Array): Uint32Array { return new Uint32Array(a.slice().buffer); }

/** The value of half `h`, computed from the IEEE definition in float64 (independent of the code). */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? s * Infinity : NaN;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Records the length of every FileHandle read until restore(). */
async function spyReads(): Promise<{ lengths: number[]; restore: () => void }> {
  const probe = await fs.promises.open(__filename, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => unknown };
  await probe.close();
  const original = proto.read;
  const lengths: number[] = [];
  proto.read = function (this: unknown, ...a: unknown[]) {
    lengths.push(a[2] as number); // read(buffer, offset, length, position)
    return original.apply(this, a);
  };
  return { lengths, restore: () => { proto.read = original; } };
}

describe('half and bfloat16 conversions', () => {
  test('every half widens to its exact value (subnormals, ±0, ±Inf, NaN with payload)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = fromBits(halfToFloatBits(h));
      const want = halfValue(h);
      if (Number.isNaN(want)) {
        expect(Number.isNaN(v)).toBe(true);
        expect((halfToFloatBits(h) >>> 13) & 0x3ff).toBe(h & 0x3ff); // payload kept
      } else if (v !== want || Object.is(v, -0) !== Object.is(want, -0)) {
        throw new Error(`half 0x${h.toString(16)}: got ${v}, want ${want}`);
      }
    }
  });

  test('float32 → half → float32 is the identity on every half, and NaN stays NaN', () => {
    for (let h = 0; h < 65536; h++) {
      const back = floatBitsToHalf(halfToFloatBits(h));
      if (Number.isNaN(halfValue(h))) expect(Number.isNaN(halfValue(back))).toBe(true);
      else if (back !== h) throw new Error(`half 0x${h.toString(16)} came back as 0x${back.toString(16)}`);
    }
    // A float32 NaN whose payload sits only in the low bits must not become Inf.
    expect(Number.isNaN(halfValue(floatBitsToHalf(0x7f800001)))).toBe(true);
    expect(Number.isNaN(halfValue(floatBitsToHalf(0xffc00000)))).toBe(true);
  });

  test('narrowing to half rounds to nearest, ties to even, at every pair of neighbours', () => {
    for (let h = 0; h < 0x7c00; h++) {
      for (const sign of [0, 0x8000]) {
        const lo = h | sign;
        const hi = (h + 1) | sign;
        // Past the largest half (65504) the next step would be 2^16: values from 65520 round to Inf.
        const hiValue = h + 1 === 0x7c00 ? (sign ? -65536 : 65536) : halfValue(hi);
        const mid = (halfValue(lo) + hiValue) / 2; // 12 significant bits: exact in float32
        const midBits = bitsOf(mid);
        if (fromBits(midBits) !== mid) throw new Error(`midpoint ${mid} is not a float32`);
        const even = (h & 1) === 0 ? lo : hi;
        const got = [floatBitsToHalf(midBits), floatBitsToHalf(midBits - 1), floatBitsToHalf(midBits + 1)];
        // midBits ∓ 1 step toward / away from zero for either sign, as float32 bits are sign-magnitude.
        const want = [even, lo, hi];
        if (got.some((g, i) => g !== want[i])) {
          throw new Error(`between 0x${lo.toString(16)} and 0x${hi.toString(16)}: got ${got.map((g) => g.toString(16))}`);
        }
      }
    }
  });

  test('half edge cases: overflow, underflow, signed zero', () => {
    const toHalf = (x: number) => halfValue(floatBitsToHalf(bitsOf(x)));
    expect(toHalf(65504)).toBe(65504);
    expect(toHalf(65519.99)).toBe(65504);
    expect(toHalf(65520)).toBe(Infinity); // the tie goes to the even neighbour, Inf
    expect(toHalf(-3.4e38)).toBe(-Infinity);
    expect(toHalf(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0); // tie → even (0)
    expect(toHalf(2 ** -25 * 1.0000001)).toBe(2 ** -24);
    expect(toHalf(3 * 2 ** -26)).toBe(2 ** -24);
    expect(Object.is(toHalf(-1e-9), -0)).toBe(true);
    expect(Object.is(toHalf(1e-45), 0)).toBe(true); // float32 subnormal
    expect(toHalf(2 ** -14 - 2 ** -25)).toBe(2 ** -14); // rounds up from the subnormals into the normals
  });

  test('every bfloat16 round-trips, and narrowing rounds to nearest even', () => {
    for (let b = 0; b < 65536; b++) {
      const bits = (b << 16) >>> 0;
      const isNaN = ((b >> 7) & 0xff) === 0xff && (b & 0x7f) !== 0;
      const back = floatBitsToBf16(bits);
      if (isNaN) expect(Number.isNaN(fromBits(back << 16))).toBe(true);
      else if (back !== b) throw new Error(`bf16 0x${b.toString(16)} came back as 0x${back.toString(16)}`);
      // Neighbours b and b + 1 among finite values (same sign): the midpoint, and one float32 step either side.
      if (!isNaN && (b & 0x7fff) < 0x7f80) {
        const even = (b & 1) === 0 ? b : b + 1;
        const got = [floatBitsToBf16(bits + 0x8000), floatBitsToBf16(bits + 0x7fff), floatBitsToBf16(bits + 0x8001)];
        if (got[0] !== even || got[1] !== b || got[2] !== b + 1) throw new Error(`bf16 0x${b.toString(16)}: ${got}`);
      }
    }
    expect(floatBitsToBf16(0x7f7fffff)).toBe(0x7f80); // float32 max rounds to Inf
    expect(Number.isNaN(fromBits(floatBitsToBf16(0x7f800001) << 16))).toBe(true); // not truncated to Inf
    expect(floatBitsToBf16(bitsOf(-0))).toBe(0x8000);
  });
});

/** All 65536 patterns of a 16-bit format, widened to float32. */
function allPatterns(widen: (h: number) => number): Float32Array {
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = widen(h);
  return new Float32Array(bits.buffer);
}

function expectSameBits(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const a = bitsArray(got);
  const b = bitsArray(want);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`element ${i}: 0x${a[i]!.toString(16)} vs 0x${b[i]!.toString(16)}`);
  }
}

describe('writeSafetensors / readSafetensorsTensor round trips', () => {
  test('F32 is bit-exact, including NaN payloads, ±Inf, -0 and subnormals', async () => {
    const special = [NaN, Infinity, -Infinity, -0, 0, 1.4e-45, -1.4e-45, 1.17e-38, 3.4028234663852886e38, Math.PI, -1 / 3];
    const data = new Float32Array(special.length + 100);
    data.set(special);
    for (let i = special.length; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 1e3;
    const payloadNaN = new Uint32Array(data.buffer);
    payloadNaN[0] = 0x7fa12345; // a signalling NaN with a payload
    const file = fresh();
    await writeSafetensors(file, { x: { dtype: 'F32', shape: [data.length / 3, 3], data } });
    const header = await readSafetensorsHeader(file);
    expect(header.tensors.get('x')).toEqual({ dtype: 'F32', shape: [37, 3], dataOffsets: [0, data.length * 4] });
    expectSameBits(await readSafetensorsTensor(file, header, 'x'), data);
  });

  test('F16: every half value is written as its own bits and read back exactly', async () => {
    const data = allPatterns(halfToFloatBits);
    const file = fresh();
    await writeSafetensors(file, { h: { dtype: 'F16', shape: [256, 256], data } });
    const header = await readSafetensorsHeader(file);
    const raw = fs.readFileSync(file).subarray(header.dataStart);
    expect(raw.length).toBe(65536 * 2);
    for (let h = 0; h < 65536; h++) {
      const stored = raw.readUInt16LE(2 * h);
      if (Number.isNaN(halfValue(h)) ? !Number.isNaN(halfValue(stored)) : stored !== h) {
        throw new Error(`half 0x${h.toString(16)} stored as 0x${stored.toString(16)}`);
      }
    }
    const back = await readSafetensorsTensor(file, header, 'h');
    for (let h = 0; h < 65536; h++) {
      const want = halfValue(h);
      if (Number.isNaN(want) ? !Number.isNaN(back[h]!) : !Object.is(back[h], want)) throw new Error(`half 0x${h.toString(16)}: ${back[h]}`);
    }
  });

  test('BF16: every bfloat16 value is written as its own bits and read back exactly', async () => {
    const data = allPatterns((b) => (b << 16) >>> 0);
    const file = fresh();
    await writeSafetensors(file, { b: { dtype: 'BF16', shape: [65536], data } });
    const header = await readSafetensorsHeader(file);
    const raw = fs.readFileSync(file).subarray(header.dataStart);
    const back = await readSafetensorsTensor(file, header, 'b');
    const backBits = bitsArray(back);
    for (let b = 0; b < 65536; b++) {
      const isNaN = ((b >> 7) & 0xff) === 0xff && (b & 0x7f) !== 0;
      if (isNaN) {
        expect(Number.isNaN(back[b]!)).toBe(true);
      } else if (raw.readUInt16LE(2 * b) !== b || backBits[b] !== ((b << 16) >>> 0)) {
        throw new Error(`bf16 0x${b.toString(16)}`);
      }
    }
  });

  test('values between representable ones round to nearest even in the file', async () => {
    const inputs = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, -(1 + 2 ** -11), 65520, 1e-9, -1e-9, 0.1];
    const asF16 = [1, 1 + 2 ** -9, 1 + 2 ** -10, -1, Infinity, 0, -0, 0.0999755859375];
    const bfInputs = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -(1 + 2 ** -8), 3.4028234663852886e38, 1e-41, 0.1];
    const asBf16 = [1, 1 + 2 ** -6, 1 + 2 ** -7, -1, Infinity, fromBits(bitsOf(1e-41) & 0xffff0000), 0.10009765625];
    const file = fresh();
    await writeSafetensors(file, {
      h: { dtype: 'F16', shape: [inputs.length], data: Float32Array.from(inputs) },
      b: { dtype: 'BF16', shape: [bfInputs.length], data: Float32Array.from(bfInputs) },
    });
    const header = await readSafetensorsHeader(file);
    const h = Array.from(await readSafetensorsTensor(file, header, 'h'));
    const b = Array.from(await readSafetensorsTensor(file, header, 'b'));
    h.forEach((v, i) => expect(Object.is(v, asF16[i])).toBe(true));
    b.forEach((v, i) => expect(v).toBe(asBf16[i]));
  });

  test('scalars, empty tensors, metadata, and awkward names survive', async () => {
    const file = fresh();
    const tensors: Record<string, SafetensorsInput> = {
      scalar: { dtype: 'F32', shape: [], data: Float32Array.of(7.5) },
      empty: { dtype: 'F16', shape: [0, 4], data: new Float32Array(0) },
      '0': { dtype: 'BF16', shape: [1], data: Float32Array.of(2) },
      __proto__x: { dtype: 'F16', shape: [2], data: Float32Array.of(-1, 0.5) },
      'model.layers.0.self_attn.q_proj.weight': { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
      'ünïcødé ✓': { dtype: 'F32', shape: [1], data: Float32Array.of(9) },
    };
    Object.defineProperty(tensors, '__proto__', { value: { dtype: 'F32', shape: [1], data: Float32Array.of(42) }, enumerable: true });
    await writeSafetensors(file, tensors, { format: 'pt', __proto__y: 'z' });
    const header = await readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt', __proto__y: 'z' });
    expect([...header.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(header.tensors.get(name)!.shape).toEqual(t.shape);
      expect(Array.from(await readSafetensorsTensor(file, header, name))).toEqual(Array.from(t.data));
    }
  });

  test('the layout: padded 8-byte-aligned header, contiguous widest-first offsets', async () => {
    const file = fresh();
    await writeSafetensors(file, {
      b: { dtype: 'F16', shape: [3], data: new Float32Array(3) },
      a: { dtype: 'BF16', shape: [1], data: new Float32Array(1) },
      z: { dtype: 'F32', shape: [2], data: new Float32Array(2) },
      y: { dtype: 'F32', shape: [1], data: new Float32Array(1) },
    }, { format: 'pt' });
    const bytes = fs.readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text).toMatch(/^\{.*\} *$/);
    const json = JSON.parse(text);
    expect(json.__metadata__).toEqual({ format: 'pt' });
    expect(json.y.data_offsets).toEqual([0, 4]);
    expect(json.z.data_offsets).toEqual([4, 12]);
    expect(json.a.data_offsets).toEqual([12, 14]);
    expect(json.b.data_offsets).toEqual([14, 20]);
    expect(bytes.length).toBe(8 + n + 20);
  });

  test('writes atomically: no temporary file is left, an existing file is replaced whole', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'model.safetensors');
    fs.writeFileSync(file, 'old contents');
    await writeSafetensors(file, { x: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    expect(Array.from(await readSafetensorsTensor(file, await readSafetensorsHeader(file), 'x'))).toEqual([1]);
    await expect(writeSafetensors(path.join(dir, 'missing-dir', 'm.safetensors'), {})).rejects.toThrow();
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
  });

  test('an empty tensor set is a valid file', async () => {
    const file = fresh();
    await writeSafetensors(file, {});
    const header = await readSafetensorsHeader(file);
    expect(header.tensors.size).toBe(0);
    expect(fs.statSync(file).size).toBe(16); // 8 + "{}" padded to 8
  });

  test('refuses bad input before creating anything', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'm.safetensors');
    const cases: [unknown, unknown, string | RegExp][] = [
      [{ x: { dtype: 'F64', shape: [1], data: new Float32Array(1) } }, undefined, /dtype must be F32, F16 or BF16/],
      [{ x: { dtype: 'I32', shape: [1], data: new Float32Array(1) } }, undefined, /dtype/],
      [{ x: { dtype: 'F32', shape: [2], data: new Float32Array(3) } }, undefined, /shape \[2\] has 2 elements, but data has 3/],
      [{ x: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }, undefined, /non-negative integers/],
      [{ x: { dtype: 'F32', shape: [1.5], data: new Float32Array(1) } }, undefined, /non-negative integers/],
      [{ x: { dtype: 'F32', shape: [1], data: [1] } }, undefined, /Float32Array/],
      [{ x: { dtype: 'F32', shape: [1], data: new Float64Array(1) } }, undefined, /Float32Array/],
      [{ __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, undefined, /reserved/],
      [{ x: null }, undefined, /must be \{dtype, shape, data\}/],
      [[], undefined, /tensors must be an object/],
      [{}, { a: 1 }, /metadata\["a"\] must be a string/],
      [{}, 'pt', /metadata must be an object/],
    ];
    for (const [tensors, metadata, message] of cases) {
      await expectRejected(
        writeSafetensors(file, tensors as Record<string, SafetensorsInput>, metadata as Record<string, string>),
        'INVALID_ARGUMENT', undefined, message as RegExp,
      );
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('readSafetensorsHeader', () => {
  test('reads only the 8-byte length and the header, never the buffer', async () => {
    const file = fresh();
    await writeSafetensors(file, { big: { dtype: 'F32', shape: [256, 1024], data: new Float32Array(256 * 1024) } });
    const n = Number(fs.readFileSync(file).readBigUInt64LE(0));
    const reads = await spyReads();
    try {
      const header = await readSafetensorsHeader(file);
      expect(header.dataStart).toBe(8 + n);
      expect(header.fileSize).toBe(8 + n + (1 << 20));
    } finally {
      reads.restore();
    }
    expect(reads.lengths).toEqual([8, n]);
  });

  test('a tensor claimed beyond the end of a small file is reported from the header alone', async () => {
    const file = rawFile({ huge: { dtype: 'F32', shape: [1000000, 1000], data_offsets: [0, 4e9] } }, 16);
    await expectRejected(readSafetensorsHeader(file), 'INVALID_ARGUMENT', exactly(file),
      /tensor "huge": data_offsets \[0, 4000000000\] run past the end of the 16-byte buffer/);
  });

  test('a header length larger than the file is refused before allocating it', async () => {
    const file = rawFile('{}', 0, BigInt(MAX_HEADER_BYTES - 1));
    const reads = await spyReads();
    const before = process.memoryUsage().arrayBuffers;
    try {
      await expectRejected(readSafetensorsHeader(file), 'INVALID_ARGUMENT', exactly(file),
        /header length 99999999 is larger than the 2 bytes after the length field/);
    } finally {
      reads.restore();
    }
    expect(reads.lengths).toEqual([8]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50e6);
  });

  test('an absurd header length is refused (corrupt file)', async () => {
    for (const length of [BigInt(MAX_HEADER_BYTES) + 1n, 2n ** 40n, 2n ** 64n - 1n]) {
      const file = rawFile('{}', 0, length);
      await expectRejected(readSafetensorsHeader(file), 'INVALID_ARGUMENT', exactly(file), /exceeds the 100000000-byte limit/);
    }
  });

  test('a file shorter than 8 bytes, a missing file, and a directory are refused', async () => {
    for (const size of [0, 1, 7]) {
      const file = fresh();
      fs.writeFileSync(file, new Uint8Array(size));
      await expectRejected(readSafetensorsHeader(file), 'INVALID_ARGUMENT', exactly(file), new RegExp(`is ${size} bytes, shorter than`));
    }
    const missing = path.join(tmp, 'no-such.safetensors');
    await expectRejected(readSafetensorsHeader(missing), 'INVALID_ARGUMENT', exactly(missing), /cannot open/);
    await expectRejected(readSafetensorsHeader(tmp), 'INVALID_ARGUMENT', exactly(tmp), /not a regular file/);
  });

  test('malformed headers are refused with what is wrong', async () => {
    const t = (over: Record<string, unknown>) => ({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over } });
    const cases: [unknown, number, RegExp][] = [
      ['', 0, /not valid JSON/],
      ['{"x": ', 0, /not valid JSON/],
      ['[1, 2]', 0, /header must be a JSON object, got an array/],
      ['null', 0, /header must be a JSON object, got null/],
      [{ x: 5 }, 0, /tensor "x" must be an object/],
      [t({ dtype: 'F4' }), 8, /tensor "x" has an unknown dtype "F4"/],
      [t({ dtype: 'float32' }), 8, /unknown dtype "float32"/],
      [t({ dtype: undefined }), 8, /unknown dtype undefined/],
      [t({ shape: 2 }), 8, /shape must be an array of non-negative integers, got 2/],
      [t({ shape: [-2] }), 8, /shape must be an array of non-negative integers/],
      [t({ shape: [2.5] }), 8, /shape must be an array/],
      [t({ shape: ['2'] }), 8, /shape must be an array/],
      [t({ shape: [2 ** 40, 2 ** 40] }), 8, /shape \[1099511627776,1099511627776\] is too large/],
      [t({ data_offsets: [0] }), 8, /data_offsets must be two non-negative integers, got \[0\]/],
      [t({ data_offsets: [-8, 0] }), 8, /data_offsets must be two non-negative integers/],
      [t({ data_offsets: '0,8' }), 8, /data_offsets must be two/],
      [t({ data_offsets: [0, 6] }), 8, /data_offsets \[0, 6\] span 6 bytes, but shape \[2\] of F32 needs 8/],
      [t({ data_offsets: [8, 0] }), 8, /span -8 bytes/],
      [t({ data_offsets: [4, 12] }), 8, /run past the end of the 8-byte buffer/],
      [t({ shape: [2, 2], data_offsets: [0, 16] }), 8, /run past the end/],
      [t({ extra: 1 }), 8, /tensor "x" has an unknown key "extra"/],
      [{ ...t({}), __metadata__: { a: 1 } }, 8, /__metadata__ values must be strings; "a" is 1/],
      [{ ...t({}), __metadata__: ['a'] }, 8, /__metadata__ must be an object/],
      [{ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F16', shape: [2], data_offsets: [6, 10] } }, 12,
        /tensors "a" \[0,8\] and "b" \[6,10\] overlap/],
      [{ a: { dtype: 'U8', shape: [4], data_offsets: [4, 8] }, b: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } }, 8, /overlap/],
    ];
    for (const [header, body, message] of cases) {
      const file = rawFile(header, body);
      await expectRejected(readSafetensorsHeader(file), 'INVALID_ARGUMENT', exactly(file), message);
    }
    const badUtf8 = fresh();
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(4n);
    fs.writeFileSync(badUtf8, Buffer.concat([prefix, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
    await expectRejected(readSafetensorsHeader(badUtf8), 'INVALID_ARGUMENT', exactly(badUtf8), /not valid UTF-8/);
  });

  test('accepts gaps, zero-size tensors anywhere in range, trailing spaces, and integer dtypes', async () => {
    const header = {
      __metadata__: { format: 'pt' },
      ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
      mask: { dtype: 'BOOL', shape: [3], data_offsets: [20, 23] }, // a gap before it
      counts: { dtype: 'I32', shape: [1], data_offsets: [24, 28] },
      small: { dtype: 'I8', shape: [1], data_offsets: [28, 29] },
      bytes: { dtype: 'U8', shape: [1], data_offsets: [29, 30] },
      none: { dtype: 'F32', shape: [0, 5], data_offsets: [8, 8] }, // inside another tensor's span, but empty
    };
    const file = rawFile(`${JSON.stringify(header)}      `, 32);
    const h = await readSafetensorsHeader(file);
    expect([...h.tensors.keys()]).toEqual(['ids', 'mask', 'counts', 'small', 'bytes', 'none']);
    expect(h.tensors.get('mask')).toEqual({ dtype: 'BOOL', shape: [3], dataOffsets: [20, 23] });
    expect(h.metadata).toEqual({ format: 'pt' });
    for (const name of ['ids', 'mask', 'counts', 'small', 'bytes']) {
      await expectRejected(readSafetensorsTensor(file, h, name), 'INVALID_DTYPE', exactly(name),
        new RegExp(`is ${h.tensors.get(name)!.dtype}; only F32, F16 and BF16 can be read as float32`));
    }
    expect(Array.from(await readSafetensorsTensor(file, h, 'none'))).toEqual([]);
  });
});

describe('readSafetensorsTensor', () => {
  test('reads a hand-written file (offsets out of order, with a gap) with one positioned read per tensor', async () => {
    const body = Buffer.alloc(32);
    body.writeUInt16LE(0x3c00, 0); // F16 1
    body.writeUInt16LE(0xc000, 2); // F16 -2
    body.writeUInt16LE(0x0001, 4); // F16 smallest subnormal
    body.writeUInt16LE(0x7c00, 6); // F16 Inf
    body.writeFloatLE(0.25, 12); // F32, after a 4-byte gap
    body.writeFloatLE(-8, 16);
    body.writeUInt16LE(0x3f80, 20); // BF16 1
    body.writeUInt16LE(0xc0a0, 22); // BF16 -5
    const file = rawFile({
      c: { dtype: 'BF16', shape: [2, 1], data_offsets: [20, 24] },
      a: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] },
    }, body);
    const header = await readSafetensorsHeader(file);
    const reads = await spyReads();
    try {
      expect(Array.from(await readSafetensorsTensor(file, header, 'a'))).toEqual([1, -2, 2 ** -24, Infinity]);
      expect(Array.from(await readSafetensorsTensor(file, header, 'b'))).toEqual([0.25, -8]);
      expect(Array.from(await readSafetensorsTensor(file, header, 'c'))).toEqual([1, -5]);
    } finally {
      reads.restore();
    }
    expect(reads.lengths).toEqual([8, 8, 4]);
  });

  test('a missing tensor is an error naming it and the file', async () => {
    const file = fresh();
    await writeSafetensors(file, { x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    const header = await readSafetensorsHeader(file);
    await expectRejected(readSafetensorsTensor(file, header, 'lm_head.weight'), 'INVALID_ARGUMENT', exactly('lm_head.weight'),
      new RegExp(`${file.replace(/[.\\]/g, '\\$&')} has no tensor named "lm_head.weight"`));
  });

  test('a file truncated (or changed) after its header was read is reported', async () => {
    const file = fresh();
    await writeSafetensors(file, { x: { dtype: 'F32', shape: [64], data: new Float32Array(64).fill(3) } });
    const header = await readSafetensorsHeader(file);
    fs.truncateSync(file, header.fileSize - 10);
    await expectRejected(readSafetensorsTensor(file, header, 'x'), 'INVALID_ARGUMENT', exactly(file),
      new RegExp(`was truncated since its header was read \\(${header.fileSize} bytes then, ${header.fileSize - 10} now\\)`));
    fs.appendFileSync(file, new Uint8Array(20));
    await expectRejected(readSafetensorsTensor(file, header, 'x'), 'INVALID_ARGUMENT', exactly(file), /has changed since its header was read/);
    fs.rmSync(file);
    await expectRejected(readSafetensorsTensor(file, header, 'x'), 'INVALID_ARGUMENT', exactly(file), /cannot open/);
  });
});

/** Test tensors shaped like a tiny Llama. */
function tinyModel(): Record<string, SafetensorsInput> {
  const t = (dtype: SafetensorsInput['dtype'], shape: number[], seed: number): SafetensorsInput => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { dtype, shape, data: Float32Array.from({ length: n }, (_, i) => Math.round(Math.sin(seed + i) * 256) / 64) };
  };
  return {
    'model.embed_tokens.weight': t('BF16', [16, 8], 1),
    'model.layers.0.self_attn.q_proj.weight': t('F16', [8, 8], 2),
    'model.layers.0.self_attn.k_proj.weight': t('F16', [4, 8], 3),
    'model.layers.0.input_layernorm.weight': t('F32', [8], 4),
    'model.layers.1.self_attn.q_proj.weight': t('BF16', [8, 8], 5),
    'model.norm.weight': t('F32', [8], 6),
    'lm_head.weight': t('BF16', [16, 8], 7),
  };
}

/** Writes `tensors` into `dir` as shards (by the given split) plus an index. */
async function writeSharded(dir: string, tensors: Record<string, SafetensorsInput>, split: Record<string, string>): Promise<void> {
  const byShard = new Map<string, Record<string, SafetensorsInput>>();
  for (const [name, shard] of Object.entries(split)) {
    if (!byShard.has(shard)) byShard.set(shard, {});
    byShard.get(shard)![name] = tensors[name]!;
  }
  for (const [shard, part] of byShard) {
    fs.mkdirSync(path.dirname(path.join(dir, shard)), { recursive: true });
    await writeSafetensors(path.join(dir, shard), part);
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1234 }, weight_map: split }));
}

function splitOf(names: string[], shards: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n, i) => [n, shards[i % shards.length]!]));
}

describe('sharded checkpoints', () => {
  test('a sharded checkpoint reads the same as the single file', async () => {
    const tensors = tinyModel();
    const single = freshDir();
    await writeSafetensors(path.join(single, 'model.safetensors'), tensors);
    const sharded = freshDir();
    const shards = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'sub/model-00003-of-00003.safetensors'];
    await writeSharded(sharded, tensors, splitOf(Object.keys(tensors), shards));

    const a = await SafetensorsCheckpoint.open(single);
    const b = await SafetensorsCheckpoint.open(sharded);
    expect(a.files).toEqual([path.join(single, 'model.safetensors')]);
    expect(b.files).toEqual(shards.map((s) => path.join(sharded, s)));
    expect([...a.names].sort()).toEqual(Object.keys(tensors).sort());
    expect(b.names).toEqual(Object.keys(tensors)); // the index's order
    for (const name of Object.keys(tensors)) {
      expect(b.has(name)).toBe(true);
      const ta = a.tensor(name);
      const tb = b.tensor(name);
      expect(tb.shape).toEqual(tensors[name]!.shape);
      expect([tb.dtype, tb.shape]).toEqual([ta.dtype, ta.shape]);
      expect(tb.path).toBe(path.join(sharded, splitOf(Object.keys(tensors), shards)[name]!));
      const da = await a.read(name);
      expectSameBits(await b.read(name), da);
      expect(Array.from(da)).toEqual(Array.from(tensors[name]!.data)); // all values are representable in BF16/F16
    }
    expect(b.has('nope')).toBe(false);
    expect(() => b.tensor('nope')).toThrow(/has no tensor named "nope"/);
    await expectRejected(b.read('nope'), 'INVALID_ARGUMENT', exactly('nope'), /checkpoint .* has no tensor named "nope"/);
  });

  test('headers are read once at open; a read touches only the tensor\'s bytes', async () => {
    const tensors = tinyModel();
    const dir = freshDir();
    await writeSharded(dir, tensors, splitOf(Object.keys(tensors), ['a.safetensors', 'b.safetensors']));
    const reads = await spyReads();
    let ckpt: SafetensorsCheckpoint;
    try {
      ckpt = await SafetensorsCheckpoint.open(dir);
      expect(reads.lengths.filter((l) => l === 8)).toHaveLength(2); // one length prefix per shard
      reads.lengths.length = 0;
      for (const name of ckpt.names) await ckpt.read(name);
      await ckpt.read('lm_head.weight');
    } finally {
      reads.restore();
    }
    const bytes = Object.values(tensors).map((t) => t.data.length * { F32: 4, F16: 2, BF16: 2 }[t.dtype]);
    expect(reads.lengths).toEqual([...bytes, 16 * 8 * 2]);
  });

  test('readSafetensorsIndex returns the map, the shards in order, and the metadata', async () => {
    const dir = freshDir();
    const tensors = tinyModel();
    await writeSharded(dir, tensors, splitOf(Object.keys(tensors), ['s1.safetensors', 's2.safetensors']));
    const index = await readSafetensorsIndex(dir);
    expect(index.path).toBe(path.join(dir, 'model.safetensors.index.json'));
    expect(index.shards).toEqual(['s1.safetensors', 's2.safetensors']);
    expect(index.weightMap.get('model.norm.weight')).toBe('s2.safetensors');
    expect(index.weightMap.size).toBe(Object.keys(tensors).length);
    expect(index.metadata).toEqual({ total_size: 1234 });
  });

  test('shard names that escape the directory are refused', async () => {
    const outside = path.join(tmp, 'outside.safetensors');
    await writeSafetensors(outside, { x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    const cases: [string, RegExp][] = [
      ['../outside.safetensors', /escapes the checkpoint directory/],
      ['sub/../../outside.safetensors', /escapes/],
      ['sub\\..\\..\\outside.safetensors', /escapes/],
      [outside, /is an absolute path/],
      ['C:\\models\\x.safetensors', /is an absolute path/],
      ['\\\\server\\share\\x.safetensors', /is an absolute path/],
      ['', /is not a file name/],
      ['.', /is not inside the checkpoint directory/],
      ['sub/..', /escapes/],
    ];
    for (const [shard, message] of cases) {
      fs.writeFileSync(indexPath, JSON.stringify({ weight_map: { x: shard } }));
      await expectRejected(readSafetensorsIndex(dir), 'INVALID_ARGUMENT', exactly(indexPath), message);
      await expectRejected(SafetensorsCheckpoint.open(dir), 'INVALID_ARGUMENT', exactly(indexPath), message);
    }
  });

  test('a symlinked shard (as in the Hugging Face cache) is allowed', async () => {
    // The cache's layout: models--org--name/snapshots/<rev>/<file> -> ../../blobs/<hash>.
    const repo = path.join(freshDir(), 'models--org--name');
    const blobs = path.join(repo, 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    await writeSafetensors(path.join(blobs, 'abc123'), { x: { dtype: 'F32', shape: [1], data: Float32Array.of(5) } });
    const dir = path.join(repo, 'snapshots', 'rev1');
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(path.join(blobs, 'abc123'), path.join(dir, 'model-00001-of-00001.safetensors'));
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00001-of-00001.safetensors' } }));
    const ckpt = await SafetensorsCheckpoint.open(dir);
    expect(Array.from(await ckpt.read('x'))).toEqual([5]);
  });

  test('missing shards, inconsistent indexes and malformed index files are refused', async () => {
    const dir = freshDir();
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    await writeSafetensors(path.join(dir, 'a.safetensors'), { x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    fs.mkdirSync(path.join(dir, 'adir'));
    const cases: [string, RegExp][] = [
      [JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }), /shard "b.safetensors" \(.*b\.safetensors\) does not exist or is not a file/],
      [JSON.stringify({ weight_map: { x: 'adir' } }), /shard "adir" .* does not exist or is not a file/],
      [JSON.stringify({ weight_map: {} }), /weight_map is empty/],
      [JSON.stringify({ weight_map: { x: 3 } }), /weight_map\["x"\] must be a file name, got 3/],
      [JSON.stringify({ weight_map: ['a.safetensors'] }), /weight_map must be an object, got an array/],
      [JSON.stringify({}), /weight_map must be an object, got undefined/],
      [JSON.stringify({ metadata: 'x', weight_map: { x: 'a.safetensors' } }), /metadata must be an object/],
      [JSON.stringify([1]), /must be a JSON object/],
      ['{"weight_map": {"x": "a.safetensors"', /is not valid JSON/],
    ];
    for (const [text, message] of cases) {
      fs.writeFileSync(indexPath, text);
      await expectRejected(readSafetensorsIndex(dir), 'INVALID_ARGUMENT', exactly(indexPath), message);
    }
    // The index promises a tensor its shard lacks.
    fs.writeFileSync(indexPath, JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'a.safetensors' } }));
    await expect(readSafetensorsIndex(dir)).resolves.toBeDefined();
    await expectRejected(SafetensorsCheckpoint.open(dir), 'INVALID_ARGUMENT', exactly(indexPath),
      /lists tensor "y" in a.safetensors, but .*a\.safetensors has no such tensor/);
    // A malformed shard is reported with the shard's path.
    fs.writeFileSync(path.join(dir, 'bad.safetensors'), 'short');
    fs.writeFileSync(indexPath, JSON.stringify({ weight_map: { x: 'bad.safetensors' } }));
    await expectRejected(SafetensorsCheckpoint.open(dir), 'INVALID_ARGUMENT', exactly(path.join(dir, 'bad.safetensors')), /shorter than/);
    const missingIndex = freshDir();
    await expectRejected(readSafetensorsIndex(missingIndex), 'INVALID_ARGUMENT', exactly(path.join(missingIndex, 'model.safetensors.index.json')), /cannot read/);
  });

  test('a directory with neither file is refused; model.safetensors wins over an index', async () => {
    const empty = freshDir();
    await expectRejected(SafetensorsCheckpoint.open(empty), 'INVALID_ARGUMENT', exactly(empty),
      /has neither model.safetensors nor model.safetensors.index.json/);
    const both = freshDir();
    await writeSafetensors(path.join(both, 'model.safetensors'), { x: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
    fs.writeFileSync(path.join(both, 'model.safetensors.index.json'), '{ corrupt');
    const ckpt = await SafetensorsCheckpoint.open(both);
    expect(ckpt.names).toEqual(['x']);
  });
});
