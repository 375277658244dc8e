// Experiment: the native model's decode step on wasm with every weight matrix in the GEMV
// prototype's own memory (benchmarks/peer/gemv.wat; no tfjs tensor, no XNNPACK copy) instead of
// tf.matMul, against the native model (loadHfCheckpoint) on the same checkpoint in the same run.
// Both feed the same prompt one token at a time (the prototype does one row), then decode greedily.
//
//   tsx benchmarks/peer/gemv-decode.ts [DIR=benchmarks/peer/out/smollm] [--steps 32] [--prompt 16]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { loadHfCheckpoint, tf, useBackend } from '../../lib/node';
import type { KVCache } from '../../lib/node';
import { readHfConfig } from '../../lib/models/hf-config-file';
import { forwardShape, stepInputs, tfOps } from '../../lib/models/llama';
import { decoderForward } from '../../lib/models/llama-forward';
import type { LlamaOps } from '../../lib/models/llama-forward';
import { assembleWeights, fuseWeight, llamaWeightSpecs } from '../../lib/models/llama-tensors';
import { SafetensorsCheckpoint } from '../../lib/models/safetensors';
import { gemvIn } from './gemv';

const { positionals, values } = parseArgs({
  allowPositionals: true, options: { steps: { type: 'string', default: '32' }, prompt: { type: 'string', default: '16' } },
});

/** A weight matrix [K, N] living in the GEMV module's memory at byte offset `at`. */
class Matrix {
  constructor(readonly at: number, readonly k: number, readonly n: number) {}
}

async function main(): Promise<void> {
  const dir = positionals[0] ?? join(__dirname, 'out', 'smollm');
  await useBackend('wasm');
  const config = await readHfConfig(dir);
  const shape = forwardShape(config);
  const ckpt = await SafetensorsCheckpoint.open(dir);
  const specs = llamaWeightSpecs(config); // the embedding stays a tensor for the lookup
  const matrixBytes = specs.filter((s) => s.transpose).reduce((a, s) => a + 4 * s.shape[0]! * s.shape[1]!, 0);
  const scratch = 4 * (config.intermediateSize * 2 + config.vocabSize + 4096);
  const memory = new WebAssembly.Memory({ initial: Math.ceil((matrixBytes + scratch) / 65536) });
  const gemv = gemvIn(memory);
  const f32 = new Float32Array(memory.buffer);
  let at = scratch;
  const made = new Map<string, Tensor | Matrix>();
  for (const spec of specs) {
    const parts = new Map<string, Float32Array>();
    for (const p of spec.parts) parts.set(p.source, await ckpt.read(p.source));
    const data = fuseWeight(spec, (p) => parts.get(p.source)!);
    if (spec.transpose) {
      f32.set(data, at / 4);
      made.set(spec.name, new Matrix(at, spec.shape[0]!, spec.shape[1]!));
      at += data.byteLength;
    } else {
      made.set(spec.name, tf.tensor(data, spec.shape, 'float32'));
    }
  }
  const weights = assembleWeights(specs, config.numLayers, (s) => made.get(s.name)! as unknown as Tensor);
  let gemvMs = 0; // time inside the GEMV calls
  const xAt = 0;
  const yAt = 4 * (config.intermediateSize * 2 + 64);
  const ops: LlamaOps<Tensor> = {
    ...tfOps,
    matMul: (a, b) => {
      if (!(b instanceof Matrix)) return tfOps.matMul(a, b);
      if (a.shape[0] !== 1) throw new Error('the prototype multiplies one row');
      f32.set(a.dataSync() as Float32Array, xAt / 4);
      const t0 = performance.now();
      gemv(xAt, b.at, yAt, b.k, b.n);
      gemvMs += performance.now() - t0;
      return tf.tensor2d(f32.slice(yAt / 4, yAt / 4 + b.n), [1, b.n]);
    },
  };
  const native = await loadHfCheckpoint(dir);

  const prompt = Array.from({ length: Number(values.prompt) }, (_, i) => (i * 7919 + 17) % config.vocabSize);
  const steps = Number(values.steps);
  const argmax = (xs: Float32Array) => xs.reduce((best, v, i) => (v > xs[best]! ? i : best), 0);

  const runProto = () => {
    gemvMs = 0;
    let keys: Tensor[] | null = null;
    let vals: Tensor[] | null = null;
    let past = 0;
    const tokens: number[] = [];
    const cpuMs: number[] = [];
    const feed = [...prompt];
    for (let s = 0; s < prompt.length + steps; s++) {
      const token = s < prompt.length ? feed[s]! : tokens[tokens.length - 1]!;
      const cpu0 = process.cpuUsage();
      const out = tf.tidy(() => {
        const ids = tf.tensor2d([[token]], [1, 1], 'int32');
        const inp = stepInputs(shape, past, ids as Tensor2D, null);
        const o = decoderForward(ops, shape, weights, {
          ids: inp.ids, rope: inp.rope, bias: inp.bias, past: keys ? { keys, values: vals! } : null, batch: 1, steps: 1, total: past + 1,
        });
        return { logits: o.logits, keys: o.keys, values: o.values };
      });
      const logits = out.logits.dataSync() as Float32Array;
      if (s >= prompt.length - 1) tokens.push(argmax(logits));
      if (s >= prompt.length) {
        const c = process.cpuUsage(cpu0);
        cpuMs.push((c.user + c.system) / 1000);
      }
      tf.dispose([out.logits, ...(keys ?? []), ...(vals ?? [])]);
      keys = out.keys;
      vals = out.values;
      past++;
    }
    tf.dispose([...(keys ?? []), ...(vals ?? [])]);
    gemvShare.push(gemvMs / (prompt.length + steps));
    return { tokens, cpuMs };
  };
  const runNative = async () => {
    let cache: KVCache | null = null;
    const tokens: number[] = [];
    const cpuMs: number[] = [];
    for (let s = 0; s < prompt.length + steps; s++) {
      const token = s < prompt.length ? prompt[s]! : tokens[tokens.length - 1]!;
      const cpu0 = process.cpuUsage();
      const ids = tf.tensor2d([[token]], [1, 1], 'int32');
      const out = native.forward(ids, cache);
      cache = out.cache;
      const logits = await out.logits.data() as Float32Array;
      if (s >= prompt.length - 1) tokens.push(argmax(logits));
      if (s >= prompt.length) {
        const c = process.cpuUsage(cpu0);
        cpuMs.push((c.user + c.system) / 1000);
      }
      tf.dispose([ids, out.logits, out.attentionScores]);
    }
    cache?.dispose();
    return { tokens, cpuMs };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const gemvShare: number[] = [];
  const results: Record<string, number[]> = { prototype: [], native: [] };
  let same = true;
  for (let round = 0; round < 2; round++) {
    const p = runProto();
    const n = await runNative();
    results.prototype!.push(...p.cpuMs);
    results.native!.push(...n.cpuMs);
    same &&= p.tokens.join() === n.tokens.join();
  }
  console.log(`${dir}: decode CPU ms/token (median of ${2 * steps} steps, cache ${prompt.length}–${prompt.length + steps}), 2 rounds alternating:`);
  console.log(`  native model (tf.matMul, XNNPACK)   ${median(results.native!).toFixed(1)}`);
  console.log(`  matrices in the GEMV prototype      ${median(results.prototype!).toFixed(1)} `
    + `(of which the GEMV calls ${(gemvShare.reduce((a, b) => a + b, 0) / gemvShare.length).toFixed(1)} ms wall a step)`);
  console.log(`  greedy tokens ${same ? 'identical' : 'DIFFER'}; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB (both models loaded)`);
  native.dispose();
  tf.dispose([...made.values()].filter((v): v is Tensor => !(v instanceof Matrix)));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
