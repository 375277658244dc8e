// Writing a benchmark's results: the machine and command that produced them, then the payload.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { tf } from '../lib';
import { startedBackends } from '../lib/core/backend';

/** Writes results/<name>-<date>-<backends>[-quick].json and returns its path. */
export function writeResults(
  name: string, backends: string[], quick: boolean, payload: object,
  replacer: ((key: string, value: unknown) => unknown) | null = null,
): string {
  const date = new Date().toISOString();
  // benchmarks/bench.ts collects its children's results in a folder of its own.
  const dir = process.env.ENTROPIX_BENCH_RESULTS_DIR ?? join(__dirname, 'results');
  const file = join(dir, `${name}-${date.slice(0, 10)}-${backends.join('-')}${quick ? '-quick' : ''}.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify({
    command: process.argv.join(' '),
    date,
    node: process.version,
    platform: `${process.platform} ${process.arch}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    tfjs: tf.version_core,
    // Each backend the run started, with its GPU adapter on webgpu (vendor, architecture, Dawn backend).
    backendInfo: startedBackends(),
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(ENTROPIX_|EGL_PLATFORM$)/.test(k))),
    ...payload,
  }, replacer as never, 2)}\n`);
  return file;
}
