// The attention products of one decode step alone on wasm (SmolLM2-135M's shape: 3 kv heads × 3
// query heads each, head dim 64, 30 layers): q·kᵀ [1, 3, 3, 64] × [1, 3, S, 64]ᵀ and p·v
// [1, 3, 3, S] × [1, 3, S, 64], CPU ms per step (60 products): tf.matMul (tfjs-wasm's scalar loop
// for a batch > 1) against batchedMatMul (lib/wasm/attention.ts, what the models call now).
//
//   tsx benchmarks/peer/attention-matmul.ts [--contexts 70,190] [--reps 20]
import { parseArgs } from 'node:util';
import { tf, useBackend } from '../../lib/node';
import { batchedMatMul } from '../../lib/wasm/attention';

const { values } = parseArgs({ options: { contexts: { type: 'string', default: '70,190' }, reps: { type: 'string', default: '20' } } });
const LAYERS = 30;

async function main(): Promise<void> {
  await useBackend('wasm');
  for (const s of values.contexts!.split(',').map(Number)) {
    const q = tf.randomNormal([1, 3, 3, 64]);
    const ks = Array.from({ length: LAYERS }, () => tf.randomNormal([1, 3, s, 64]));
    const vs = Array.from({ length: LAYERS }, () => tf.randomNormal([1, 3, s, 64]));
    const p = tf.softmax(tf.randomNormal([1, 3, 3, s]));
    const time = (f: () => void) => {
      const ms: number[] = [];
      for (let r = 0; r < Number(values.reps); r++) {
        const c0 = process.cpuUsage();
        f();
        const c = process.cpuUsage(c0);
        ms.push((c.user + c.system) / 1000);
      }
      return ms.sort((a, b) => a - b)[ms.length >> 1]!;
    };
    const row: Record<string, number> = { context: s };
    for (const [name, mm] of [['tfMatMul', tf.matMul], ['batchedMatMul', batchedMatMul]] as const) {
      const f = mm as (a: tf.Tensor, b: tf.Tensor, ...rest: boolean[]) => tf.Tensor;
      const t = (x: boolean) => (name === 'tfMatMul' ? [false, x] : [x]);
      row[`${name} q·kᵀ`] = +time(() => tf.tidy(() => { for (const k of ks) f(q, k, ...t(true)).dataSync(); })).toFixed(2);
      row[`${name} p·v`] = +time(() => tf.tidy(() => { for (const v of vs) f(p, v, ...t(false)).dataSync(); })).toFixed(2);
    }
    console.log(JSON.stringify(row));
    tf.dispose([q, p, ...ks, ...vs]);
  }
}
main().catch((e) => { console.error(e); process.exitCode = 1; });
