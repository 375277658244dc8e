// The fused webgpu sampling programs against the generic tf-ops path, on the same backend
// (Mesa's software adapter through Dawn), inputs and seeds: tokens and states equal, metrics
// within 1e-4, dispatch counts, no read-back, no leaks. Dawn runs in a child process
// (helpers/webgpu-sampling-child.ts). Without Mesa the tests are skipped with the apt-get command
// (and fail in CI).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MESA_WEBGPU, testNeeding } from './helpers/environment';

type Values = Record<string, (number | string)[]>;
type Out = Record<string, any>;  

const num = (x: number | string): number => (typeof x === 'string' ? Number(x) : x);

/** Metrics equal within 1e-4 (relative above 1); NaN and ±Inf must match exactly. */
function expectClose(generic: Values, fused: Values, skip: (metric: string, row: number) => boolean = () => false): void {
  for (const metric of Object.keys(generic)) {
    generic[metric]!.forEach((g, row) => {
      if (skip(metric, row)) return;
      const a = num(g);
      const b = num(fused[metric]![row]!);
      if (!Number.isFinite(a) || !Number.isFinite(b)) {
        expect(`${metric}[${row}] = ${b}`).toBe(`${metric}[${row}] = ${a}`);
        return;
      }
      const err = Math.abs(a - b) / Math.max(1, Math.abs(a));
      if (err > 1e-4) expect(`${metric}[${row}] = ${b}`).toBe(`${metric}[${row}] ≈ ${a}`);
    });
  }
}

let out: Out = {};
const available = () => MESA_WEBGPU.missing() === null;
const webgpuTest = testNeeding(MESA_WEBGPU);

beforeAll(() => {
  if (!available()) return;
  const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'helpers', 'webgpu-sampling-child.ts')], {
    encoding: 'utf8', timeout: 170_000,
    env: { ...process.env, EGL_PLATFORM: 'surfaceless', ENTROPIX_WEBGPU_SOFTWARE: '1' },
  });
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr.slice(-2000)}`);
  out = JSON.parse(child.stdout.trim().split('\n').pop()!) as Out;
  // Dawn has Mesa's adapter (testNeeding checked), so the backend must start.
  if (out.unavailable) throw new Error(`webgpu did not start: ${out.unavailable}`);
}, 180_000);

webgpuTest('computeMetrics: fused = generic within 1e-4 (NaN/±Inf rows, keyMask, 3-D and 4-D scores), 2 dispatches, no read', () => {
  for (const name of ['3d', '4d mask', 'bool mask']) {
    const r = out[`metrics ${name}`];
    // Row 4 has a head with two +Inf keys: its attention is uniform over them, 1 bit. The
    // generic path loses that bit to rounding (F32MAX + log 2 − F32MAX = 0); the fused one keeps it.
    const twoInfHead = (metric: string, row: number) => row === 4 && /^attn/.test(metric);
    expectClose(r.generic, r.fused, twoInfHead);
    expect(num(r.fused.attnEntropy[4])).toBeCloseTo(0.25, 5); // (1 + 0 + 0 + 0) / 4 heads
    expect(num(r.fused.attnVarentropy[4])).toBeCloseTo(0.25, 5);
    expect(r.dispatches).toBe(2);
    expect(r.reads).toBe(0);
    expect(r.tensors).toBe(0);
  }
});

webgpuTest('sampleTokens: fused = generic on every draw (numbers, per-row tensors, seeds, ties, special rows), 1 dispatch', () => {
  const names = Object.keys(out).filter((k) => k.startsWith('tokens '));
  expect(names.length).toBe(8);
  for (const name of names) {
    const r = out[name];
    expect(r.generic.length).toBe(64 * 4);
    expect({ name, fused: r.fused }).toEqual({ name, fused: r.generic });
    expect(r.dispatches).toBe(1);
    expect(r.reads).toBe(0);
  }
  // The draws are not all the same token: the comparison has something to compare.
  expect(new Set(out['tokens numbers'].generic).size).toBeGreaterThan(30);
});

webgpuTest('EntropixSampler step: fused = generic tokens and states in every regime, metrics within 1e-4, 2 dispatches', () => {
  const names = Object.keys(out).filter((k) => k.startsWith('step '));
  expect(names.length).toBe(3);
  const seen = new Set<number>();
  for (const name of names) {
    const r = out[name];
    expect({ name, tokens: r.fusedTokens }).toEqual({ name, tokens: r.tokens });
    expect({ name, states: r.fusedStates }).toEqual({ name, states: r.states });
    (r.states as number[]).forEach((s) => seen.add(s));
    expectClose(r.metrics.generic, r.metrics.fused);
    expect(r.dispatches).toBe(2);
    expect(r.reads).toBe(0);
  }
  expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]); // every regime, and Base
  // The clarifying token is emitted (treading rows), except after itself.
  expect(out['step clarifying token, no adaptive'].tokens).toContain(7);
});

webgpuTest('at B = 1 and 4, V = 128256, 32 heads × 1024 keys: 2 / 1 / 2 dispatches (1 with per-row tensor parameters), no read, exact argmax', () => {
  const { 'B=1 generic step': genericStep, 'B=1 generic tokens': genericTokens, ...fused } = out.counts;
  // Per-row tensor parameters are cleaned (NaN, out of range) inside the row program: no extra dispatch.
  expect(fused).toEqual({
    'B=1 step': 2, 'B=1 tokens': 1, 'B=1 tokens per-row tensors': 1, 'B=1 metrics': 2, 'B=1 reads': 0,
    'B=4 step': 2, 'B=4 tokens': 1, 'B=4 tokens per-row tensors': 1, 'B=4 metrics': 2, 'B=4 reads': 0,
  });
  // Targets: ≤ 10 per step, ≤ 4 per sampleTokens and computeMetrics; the generic path needs far more.
  console.warn(`dispatches at B=1, V=128256: step ${fused['B=1 step']} (generic ${genericStep}), sampleTokens ${fused['B=1 tokens']} (generic ${genericTokens})`);
  expect(genericStep).toBeGreaterThan(50);
  expect(genericTokens).toBeGreaterThan(20);
  for (const B of [1, 4]) expect(out[`large B=${B} argmax`].fused).toEqual(out[`large B=${B} argmax`].generic);
  expectClose(out['large metrics'].generic, out['large metrics'].fused);
});

webgpuTest('a cap above one workgroup\'s sort is left to the generic path (same tokens); nothing leaks', () => {
  const r = out['cap 600'];
  expect(r.refused).toBe(true);
  expect(r.fused).toEqual(r.generic);
  expect(r.dispatches).toBeGreaterThan(4); // the generic path ran
  expect(r.tensors).toBe(0);
  expect(out['tensors left']).toBe(0);
});

test('useBackend(\'webgpu\') takes a hardware adapter by itself, the software one only when asked; backendInfo() says which', () => {
  const run = (env: Record<string, string>) => {
    const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'helpers', 'webgpu-adapter-child.ts')], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, ENTROPIX_WEBGPU_SOFTWARE: '', ENTROPIX_WEBGPU_FLAGS: undefined, ...env },
    });
    return JSON.parse(child.stdout.trim().split('\n').pop()!);
  };
  const auto = run({});
  if (auto.info) {
    // A machine with a GPU: Vulkan or OpenGL ES, never a software adapter unasked.
    expect(auto.info.adapter.software).toBe(false);
    expect(['vulkan', 'opengles']).toContain(auto.info.dawnBackend);
  } else {
    expect(auto.code).toBe('BACKEND_UNAVAILABLE');
    if (available()) expect(auto.message).toMatch(/only a software adapter .*ENTROPIX_WEBGPU_SOFTWARE=1/);
  }
  if (!available()) return;
  const soft = run({ ENTROPIX_WEBGPU_SOFTWARE: '1' });
  expect(soft.info.backend).toBe('webgpu');
  expect(soft.info.adapter.software || !auto.info).toBe(true);
  expect(soft.line).toMatch(/^backend webgpu: .*Dawn (vulkan|opengles)/);
}, 60_000);
