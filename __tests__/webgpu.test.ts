// WebGPU in Node (Dawn through the `webgpu` package) on Mesa's software OpenGL ES adapter: the
// converted graph (whose shape parameters must stay CPU-resident), the native model and the
// decoder must give what wasm gives. Dawn runs in a child process (see helpers/webgpu-child.ts).
// Without Mesa the test is skipped with the apt-get command (and fails in CI).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MESA_WEBGPU, MESA_WEBGPU_ENV, testNeeding } from './helpers/environment';

type Run = { logits: number[]; scores: number[]; decode: number[]; greedy: number[] };

function close(a: number[], b: number[], tol = 1e-3): void {
  expect(a).toHaveLength(b.length);
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(1, Math.abs(b[i]!))));
  expect(worst).toBeLessThanOrEqual(tol);
}

testNeeding(MESA_WEBGPU)('converted graph, native model and generate on webgpu (software adapter) match wasm', () => {
  const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'helpers', 'webgpu-child.ts')], {
    encoding: 'utf8', timeout: 50_000, env: { ...process.env, ...MESA_WEBGPU_ENV },
  });
  if (child.status !== 0) throw new Error(`the webgpu child exited with ${child.status}: ${child.stderr}`);
  const out = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, Run & { unavailable?: string }>;
  // Dawn has an adapter (testNeeding checked), so the backend must start.
  expect(out.webgpu?.unavailable).toBeUndefined();
  for (const name of ['converted', 'native']) {
    const gpu = out[`webgpu ${name}`]!;
    const cpu = out[`wasm ${name}`]!;
    close(gpu.logits, cpu.logits);
    close(gpu.scores, cpu.scores);
    close(gpu.decode, cpu.decode);
    expect(gpu.greedy).toEqual(cpu.greedy);
  }
  expect(out['wasm tensors left']).toBe(0);
  expect(out['webgpu tensors left']).toBe(0);
});
