// WebGPU in Node (Dawn through the `webgpu` package) on Mesa's software OpenGL ES adapter: the
// converted graph (whose shape parameters must stay CPU-resident), the native model and the
// decoder must give what wasm gives. Dawn runs in a child process (see helpers/webgpu-child.ts).
// Where Dawn finds no adapter at all, the test says so and checks nothing else.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

type Run = { logits: number[]; scores: number[]; decode: number[]; greedy: number[] };

function close(a: number[], b: number[], tol = 1e-3): void {
  expect(a).toHaveLength(b.length);
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(1, Math.abs(b[i]!))));
  expect(worst).toBeLessThanOrEqual(tol);
}

test('converted graph, native model and generate on webgpu (software adapter) match wasm', () => {
  const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'helpers', 'webgpu-child.ts')], {
    encoding: 'utf8', timeout: 120_000,
    env: {
      ...process.env, EGL_PLATFORM: 'surfaceless', ENTROPIX_WEBGPU_FLAGS: 'backend=opengles',
      ENTROPIX_WEBGPU_FEATURE_LEVEL: 'compatibility',
    },
  });
  expect(child.status).toBe(0);
  const out = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, Run & { unavailable?: string }>;
  if (out.webgpu?.unavailable) {
    console.warn(`webgpu not checked here: ${out.webgpu.unavailable}`);
    return;
  }
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
}, 150_000);
