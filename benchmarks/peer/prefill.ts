// A warm prompt's CPU time, for comparing matmul kernels while other jobs share the machine:
// model.ts's memory child times one prompt by the wall clock; here a native checkpoint is loaded
// once and a 64-token prompt (model.ts's ids) runs `--prompts` times, each timed in process CPU
// time, then `--steps` one-token steps. The last stdout line is JSON (medians).
//
//   [ENTROPIX_WASM_MATMUL=tfjs] npx tsx benchmarks/peer/prefill.ts --dir HF_DIR [--prompts 7] [--steps 16]
import { parseArgs } from 'node:util';
import { loadHfCheckpoint, tf, useBackend } from '../../lib/node';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, prompts: { type: 'string', default: '7' }, steps: { type: 'string', default: '16' } },
});
const PROMPT = 64;
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);

async function main(): Promise<void> {
  if (!values.dir) throw new Error('--dir HF_DIR: a Hugging Face checkpoint');
  await useBackend('wasm');
  const model = await loadHfCheckpoint(values.dir);
  const vocab = model.config.vocabSize;
  const ids = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 17) % vocab);
  const timed = async (f: () => Promise<void>) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await f();
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  };
  const prefill: { wall: number; cpu: number }[] = [];
  const steps: number[] = [];
  const prompts = Number(values.prompts);
  let token = 0;
  // Prompt 0 pays one-time work (XNNPACK packs each weight on its first product): not counted.
  for (let p = 0; p <= prompts; p++) {
    const input = tf.tensor2d([ids], [1, PROMPT], 'int32');
    let out!: ReturnType<typeof model.forward>;
    const run = await timed(async () => {
      out = model.forward(input, null);
      token = argmax((await out.logits.data()) as Float32Array);
    });
    let cache = out.cache;
    tf.dispose([input, out.logits, out.attentionScores]);
    if (p > 0) prefill.push(run);
    for (let s = 0; p === prompts && s < Number(values.steps); s++) {
      const step = tf.tensor2d([[token]], [1, 1], 'int32');
      const r = await timed(async () => {
        out = model.forward(step, cache); // hands the old cache over
        cache = out.cache;
        token = argmax((await out.logits.data()) as Float32Array);
      });
      steps.push(r.cpu);
      tf.dispose([step, out.logits, out.attentionScores]);
    }
    cache.dispose();
  }
  model.dispose();
  console.log(JSON.stringify({
    matmul: process.env.ENTROPIX_WASM_MATMUL || 'default', prompts: prefill.length,
    prefillCpuMs: median(prefill.map((r) => r.cpu)), prefillWallMs: median(prefill.map((r) => r.wall)),
    prefillCpuMsAll: prefill.map((r) => Math.round(r.cpu)), medianStepCpuMs: median(steps), lastToken: token,
  }));
}

void main();
