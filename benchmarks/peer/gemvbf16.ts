// Does a bfloat16 weight kernel pay on wasm? lib/wasm/matmul.wat's float32 one-row product (two
// panel streams) against its gemv_bf16 (the same panels in bfloat16, two streams, widened by one
// bit operation per four values; first measured as a prototype here) over SmolLM2-135M's weight matrices
// (538 MB as float32, 269 MB as bfloat16), alternately in one process, CPU time per whole-model
// pass (one decode step's matrix reads). Most Hugging Face checkpoints are bfloat16, so for them
// the narrow panels would be exact. Checked first against float64 sums over the same bfloat16 weights.
//
//   npx tsx benchmarks/peer/gemvbf16.ts
import { MATMUL_WASM_HEX } from '../../lib/wasm/matmul-wasm';
import { FLOAT32_BYTES, memoryFor, SCRATCH, SMOLLM_MATRICES } from './smollm-matrices';

const b32 = Buffer.from(MATMUL_WASM_HEX, 'hex');
const mem32 = memoryFor(FLOAT32_BYTES);
const memBf = memoryFor(FLOAT32_BYTES / 2);
type Gemv = (x: number, w: number, y: number, kp: number, np: number) => void;
const gemv = new WebAssembly.Instance(new WebAssembly.Module(b32), { env: { memory: mem32 } }).exports.gemv as Gemv;
const gemvBf = new WebAssembly.Instance(new WebAssembly.Module(b32), { env: { memory: memBf } }).exports.gemv_bf16 as Gemv;
const f32 = new Float32Array(mem32.buffer);
const u16 = new Uint16Array(memBf.buffer);
const gBf = new Float32Array(memBf.buffer);
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
// float32 → bfloat16 bits, round to nearest even (finite values here).
const toBf = (v: number) => { asFloat[0] = v; const b = bits[0]!; return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff; };
const fromBf = (h: number) => { bits[0] = h << 16; return asFloat[0]!; };
let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.1;
let at = SCRATCH;
const offs: number[] = [];
const offsBf: number[] = [];
for (const [k, n] of SMOLLM_MATRICES) {
  offs.push(at);
  const atBf = SCRATCH + (at - SCRATCH) / 2;
  offsBf.push(atBf);
  // W[kk, c] in panels: float32 at [p][kk][c & 15]; bfloat16 at [p][kk][slot], word m of each
  // 8-column half holding columns m (low) and m + 4 (high).
  for (let c = 0; c < n; c++) {
    const p = c >> 4, l = c & 15, half = l >> 3, j = l & 7;
    const slot = half * 8 + (j & 3) * 2 + (j >> 2);
    for (let kk = 0; kk < k; kk++) {
      const v = fromBf(toBf(random())); // the same (bfloat16-exact) weights for both kernels
      f32[at / 4 + (p * k + kk) * 16 + l] = v;
      u16[atBf / 2 + (p * k + kk) * 16 + slot] = toBf(v);
    }
  }
  at += 4 * k * n;
}
for (let i = 0; i < 1536; i++) { f32[i] = random() * 10; gBf[i] = f32[i]!; }
// Both kernels against float64 sums, the first and the head's SMOLLM_MATRICES.
for (const i of [0, SMOLLM_MATRICES.length - 1]) {
  const [k, n] = SMOLLM_MATRICES[i]!;
  gemv(0, offs[i]!, 65536, k, n);
  gemvBf(0, offsBf[i]!, 65536, k, n);
  let worst = 0;
  let worstF32 = 0;
  for (let c = 0; c < n; c++) {
    let s = 0;
    for (let kk = 0; kk < k; kk++) s += f32[kk]! * f32[offs[i]! / 4 + ((c >> 4) * k + kk) * 16 + (c & 15)]!;
    worst = Math.max(worst, Math.abs(s - gBf[16384 + c]!));
    worstF32 = Math.max(worstF32, Math.abs(s - f32[16384 + c]!));
  }
  console.log(`[${k}, ${n}]: max |y − float64| bfloat16 kernel ${worst.toExponential(2)}, float32 kernel ${worstF32.toExponential(2)}`);
}
const cpu: Record<string, number[]> = { f32: [], bf16: [] };
for (let rep = 0; rep < 9; rep++) {
  for (const which of ['f32', 'bf16'] as const) {
    const c0 = process.cpuUsage();
    SMOLLM_MATRICES.forEach(([k, n], i) => (which === 'f32' ? gemv(0, offs[i]!, 65536, k, n) : gemvBf(0, offsBf[i]!, 65536, k, n)));
    const c = process.cpuUsage(c0);
    cpu[which]!.push((c.user + c.system) / 1000);
  }
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
for (const which of ['f32', 'bf16'] as const) {
  const ms = median(cpu[which]!);
  const bytes = which === 'f32' ? FLOAT32_BYTES : FLOAT32_BYTES / 2;
  console.log(`${which}: whole model, median of 9: ${ms.toFixed(1)} ms CPU (${(bytes / ms / 1e6).toFixed(1)} GB/s read; all ${cpu[which]!.map((v) => v.toFixed(1)).join(' ')})`);
}
console.log(`bf16 / f32 time: ${(median(cpu.bf16!) / median(cpu.f32!)).toFixed(2)}`);
