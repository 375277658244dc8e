// The peer's run, in its own process: onnxruntime-node on DIR/model.onnx (benchmarks/peer/export_onnx.py),
// the benchmark's prompt, then greedy decode with the key-value cache fed back. Prints one JSON line.
//
//   tsx benchmarks/peer/ort-run.ts DIR --threads N --steps S --prompt P --rounds R [--warmup]
//
// --warmup: one untimed prompt and two steps first (first-run allocations), as bench's graph job does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runtimeRequire } from '../../lib/core/runtime-require';

interface Ort {
  InferenceSession: { create(path: string, o: object): Promise<Session> };
  Tensor: new (type: string, data: BigInt64Array | Float32Array, dims: number[]) => OrtTensor;
}
interface OrtTensor { data: Float32Array; dims: readonly number[]; dispose?(): void }
interface Session { run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>; release(): Promise<void> }

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { threads: { type: 'string', default: '1' }, steps: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '64' }, rounds: { type: 'string', default: '1' },
    warmup: { type: 'boolean', default: false } },
});

async function main(): Promise<void> {
  const dir = positionals[0]!;
  const ort = runtimeRequire<Ort>('onnxruntime-node'); // optional: typed here, not resolved by tsc
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const { inputs } = JSON.parse(readFileSync(join(dir, 'onnx.json'), 'utf8')) as { inputs: string[] };
  const layers: number = config.num_hidden_layers;
  const hkv: number = config.num_key_value_heads;
  const hd: number = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  const vocab: number = config.vocab_size;
  const threads = Number(values.threads);
  const steps = Number(values.steps);
  const prompt = Number(values.prompt);
  let peakRss = process.memoryUsage().rss;
  const sample = () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); };
  const rssBefore = process.memoryUsage().rss;
  let t0 = performance.now();
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const loadMs = performance.now() - t0;
  sample();
  const rssAfterLoad = process.memoryUsage().rss;
  const argmaxLast = (logits: OrtTensor): number => {
    const v = logits.dims[2]!;
    const off = (logits.dims[1]! - 1) * v;
    let best = 0;
    for (let i = 1; i < v; i++) if (logits.data[off + i]! > logits.data[off + best]!) best = i;
    return best;
  };
  const runs = [];
  const rounds = Number(values.rounds);
  for (let r = values.warmup ? -1 : 0; r < rounds; r++) {
    const n = r < 0 ? 2 : steps;
    const ids = BigInt64Array.from({ length: prompt }, (_, i) => BigInt((i * 7919 + 17) % vocab));
    const feeds: Record<string, OrtTensor> = { input_ids: new ort.Tensor('int64', ids, [1, prompt]) };
    for (const name of inputs.slice(1)) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, hkv, 0, hd]);
    t0 = performance.now();
    let out = await session.run(feeds);
    const prefillMs = performance.now() - t0;
    const tokens = [argmaxLast(out.logits!)];
    const stepMs: number[] = [];
    const stepCpuMs: number[] = [];
    for (let s = 0; s < n; s++) {
      sample();
      const next: Record<string, OrtTensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(tokens[tokens.length - 1]!)), [1, 1]),
      };
      for (let i = 0; i < layers; i++) {
        next[`past_key.${i}`] = out[`present_key.${i}`]!;
        next[`past_value.${i}`] = out[`present_value.${i}`]!;
      }
      t0 = performance.now();
      const cpu0 = process.cpuUsage();
      out = await session.run(next);
      tokens.push(argmaxLast(out.logits!));
      stepMs.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      stepCpuMs.push((cpu.user + cpu.system) / 1000);
    }
    sample();
    if (r >= 0) runs.push({ prefillMs, stepMs, stepCpuMs, tokens });
  }
  await session.release();
  if (global.gc) global.gc();
  const rssEnd = process.memoryUsage().rss;
  console.log(JSON.stringify({ threads, loadMs, runs, rssBefore, rssAfterLoad, peakRss, rssEnd }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
