// `entropix convert <hf-dir> <out-dir> [--dtype float16]`
import { convertHfCheckpoint } from '../models/convert';
import { progressBar } from './progress';

export interface ConvertArgs {
  source: string;
  out: string;
  dtype: 'float32' | 'float16';
}

export async function runConvert(args: ConvertArgs): Promise<void> {
  const started = Date.now();
  const bar = progressBar(process.stderr, `tensors → ${args.out}`);
  try {
    await convertHfCheckpoint(args.source, args.out, { dtype: args.dtype, onProgress: (done, total) => bar.update(done, total) });
  } finally {
    bar.finish();
  }
  process.stderr.write(`converted ${args.source} → ${args.out} (${args.dtype}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
