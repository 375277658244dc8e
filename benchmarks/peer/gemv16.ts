// Prototype: does a float16 weight kernel pay on wasm? lib/wasm/matmul.wat's float32 one-row
// product against benchmarks/peer/gemv16.wat (the same panels in float16, widened on the fly)
// over SmolLM2-135M's weight matrices (538 MB as float32, 269 MB as float16), alternately in one
// process, CPU time per whole-model pass (one decode step's matrix reads).
//
//   tsx benchmarks/peer/gemv16.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleWat } from '../../scripts/wat';
import { MATMUL_WASM_HEX } from '../../lib/wasm/matmul-wasm';
import { FLOAT32_BYTES, memoryFor, SCRATCH, SMOLLM_MATRICES } from './smollm-matrices';
import { floatsToHalfBytes } from '../../lib/graphdef/shards';

const b16 = assembleWat(readFileSync(join(__dirname, 'gemv16.wat'), 'utf8'));
const b32 = Buffer.from(MATMUL_WASM_HEX, 'hex');
const shapes = SMOLLM_MATRICES;
const total = FLOAT32_BYTES;
const scratch = SCRATCH;
const mem32 = memoryFor(total);
const mem16 = memoryFor(total / 2);
const gemv = new WebAssembly.Instance(new WebAssembly.Module(b32), { env: { memory: mem32 } }).exports.gemv as (...a: number[]) => void;
const gemv16 = new WebAssembly.Instance(new WebAssembly.Module(b16), { env: { memory: mem16 } }).exports.gemv16 as (...a: number[]) => void;
const f32 = new Float32Array(mem32.buffer); const u8 = new Uint8Array(mem16.buffer); const g32 = new Float32Array(mem16.buffer);
let at = scratch; const offs: number[] = [];
for (const [k, n] of shapes) { offs.push(at); for (let i = 0; i < k * n; i++) f32[at / 4 + i] = (Math.random() - 0.5) * 0.1; at += 4 * k * n; }
// f16 copies of the same packed values (panel layout, 16 halves a row)
const offs16 = offs.map((o) => scratch + (o - scratch) / 2);
shapes.forEach(([k, n], i) => u8.set(floatsToHalfBytes(f32.subarray(offs[i]! / 4, offs[i]! / 4 + k * n)), offs16[i]!));
for (let i = 0; i < 1536; i++) { f32[i] = Math.random(); g32[i] = f32[i]!; }
// correctness: f16 result vs f32 of the rounded weights
// The float16 kernel against float64 sums over the same rounded weights.
{ const [k, n] = shapes[0]!; gemv16(0, offs16[0]!, 65536, k, n); const h = new Uint16Array(mem16.buffer, offs16[0]!, k * n);
  const toF = (x: number) => { const s = x & 0x8000 ? -1 : 1, e = (x >> 10) & 31, m = x & 1023; return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15)); };
  let err = 0; for (let j = 0; j < n; j++) { let s = 0; const p = j >> 4, l = j & 15; for (let kk = 0; kk < k; kk++) s += f32[kk]! * toF(h[(p * k + kk) * 16 + l]!); err = Math.max(err, Math.abs(s - g32[16384 + j]!)); } console.log('f16 maxErr', err); }
for (let rep = 0; rep < 6; rep++) {
  for (const which of ['f32', 'f16']) {
    const c0 = process.cpuUsage();
    shapes.forEach(([k, n], i) => (which === 'f32' ? gemv(0, offs[i]!, 65536, k, n) : gemv16(0, offs16[i]!, 65536, k, n)));
    const c = process.cpuUsage(c0); const cpu = (c.user + c.system) / 1000;
    console.log(`${which}: whole model cpu ${cpu.toFixed(1)} ms (${((which === 'f32' ? total : total / 2) / cpu / 1e6).toFixed(1)} GB/s read)`);
  }
}
