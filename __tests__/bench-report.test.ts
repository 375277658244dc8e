// The bench's report writer (benchmarks/report/write.ts) on a small synthetic results object: the
// Markdown tables show the medians, spreads and ratios computed from the rounds, the machine,
// backends and adapter are recorded, and every chart has its series. No benchmark runs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport } from '../benchmarks/report/write';
import type { BenchJson } from '../benchmarks/report/write';

const timing = (medianMs: number) => ({ medianMs, q1Ms: medianMs * 0.9, q3Ms: medianMs * 1.1, minMs: medianMs * 0.8 });
const samplerRow = (batch: number, vocab: number, step: number, host: number) => ({
  batch, vocab, cases: { step: { ...timing(step), ratio: 12 }, host: { ...timing(host), ratio: 0 }, generic: { ...timing(step * 2), ratio: 0 } },
});
const decode = (target: string, modelName: string, batch: number, greedy: number[], entropix: number[]) => ({
  kind: 'decode', target, label: `decode ${modelName === 'bundled' ? 'bundled' : 'SmolLM2'} B=${batch}`, modelName, batch, seconds: 5,
  result: { tokensPerSecond: {}, runs: { greedy, entropix }, batch, tokens: 8, rounds: greedy.length },
});
const protocolRun = (prefillMs: number, stepMs: number[], tokens: number[]) => ({ prefillMs, stepMs, tokens });
const SOFTWARE = { adapter: { description: 'llvmpipe', software: true }, dawnBackend: 'opengles' };

function bench(peer: boolean): BenchJson {
  return {
    command: 'npm run bench -- --quick', date: '2026-12-02T08:00:00.000Z', quick: true, seconds: 240, estimatedSeconds: 200, tfjs: '4.22.0',
    machine: { cpus: 2, cpu: 'Test Xeon CPU', memoryGiB: 24, loadAverageAtStart: [6.5, 5, 4], loadAverageAtEnd: [1, 1, 1], node: 'v20.20.2', platform: 'linux x64' },
    peer: peer
      ? { onnxruntime: '1.30.0', exportCommand: 'python3 benchmarks/peer/export_onnx.py benchmarks/peer/out/smollm',
        meta: { checkpointSha256: 'abcdef0123456789', exporter: 'dynamo', opset: 18, torch: '2.13.0+cpu' } }
      : { skipped: 'python3 lacks onnx, onnxscript', exportCommand: 'python3 benchmarks/peer/export_onnx.py benchmarks/peer/out/smollm' },
    jobs: [
      { kind: 'sampler', target: 'wasm', label: 'sampler', seconds: 3, sizes: 'B 1; V 32000, 128256; 5 iterations', estimateS: 4,
        result: { path: 'wasm', rows: [samplerRow(1, 32000, 2, 8), samplerRow(1, 128256, 3, 6)] } },
      { kind: 'sampler', target: 'webgpu-software', label: 'sampler', seconds: 3, backendInfo: SOFTWARE,
        result: { path: 'webgpu', rows: [samplerRow(1, 32000, 6, 4), samplerRow(1, 128256, 9, 6)] } },
      { kind: 'sampler', target: 'webgpu', label: 'sampler', seconds: 0, skipped: 'Dawn found no GPU adapter' },
      decode('wasm', 'bundled', 1, [100, 90, 110], [80, 85, 90]),
      decode('wasm', 'smollm', 1, [10, 11, 12], [9, 10, 11]),
      decode('tensorflow', 'smollm', 1, [20, 22, 21], [19, 20, 21]),
      { kind: 'prefill', target: 'wasm', label: 'prefill SmolLM2', seconds: 9, result: { promptLength: 512, tokensPerSecond: [30, 40, 35], medianTokensPerSecond: 35 } },
      { kind: 'prefill', target: 'tensorflow', label: 'prefill SmolLM2', seconds: 2, result: { promptLength: 512, tokensPerSecond: [300, 310, 290], medianTokensPerSecond: 300 } },
      { kind: 'graph', target: 'wasm', label: 'graph SmolLM2 (peer protocol)', seconds: 9,
        result: { promptLength: 64, steps: 4, runs: [protocolRun(1000, [100, 100, 120, 80], [1, 2, 3, 4, 5])] } },
      { kind: 'graph', target: 'tensorflow', label: 'graph SmolLM2 (peer protocol)', seconds: 0, error: 'out of memory' },
      { kind: 'model', target: 'tensorflow', label: 'model (bench:model)', seconds: 0, skipped: 'not started: its estimate (2:30) did not fit the 30-minute limit' },
      peer
        ? { kind: 'peer', target: 'onnxruntime', label: 'onnxruntime-node (peer)', seconds: 20, result: { promptLength: 64, steps: 4, threads: [
          { threads: 1, loadMs: 900, runs: [protocolRun(500, [50, 50, 50, 50], [1, 2, 3, 4, 5])] },
          { threads: 2, loadMs: 900, runs: [protocolRun(400, [40, 40, 40, 40], [1, 2, 3, 4, 6])] }] } }
        : { kind: 'peer', target: 'onnxruntime', label: 'onnxruntime-node (peer)', seconds: 0, skipped: 'python3 lacks onnx, onnxscript' },
    ],
  };
}

function write(json: BenchJson): { md: string; svg: (name: string) => string; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'entropix-report-'));
  try {
    const files = writeReport(json, dir, 'run');
    const svgs = Object.fromEntries(files.filter((f) => f.endsWith('.svg')).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    return { md: readFileSync(join(dir, 'run.md'), 'utf8'), svg: (name) => svgs[`run-${name}.svg`] ?? '', files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const row = (md: string, ...start: string[]) => md.split('\n').find((l) => l.startsWith(`| ${start.join(' | ')} |`));

describe('the bench report (benchmarks/report/write.ts)', () => {
  const { md, svg, files } = write(bench(true));

  it('records the command, the machine, its load, the backends and the adapter', () => {
    expect(md).toContain('`npm run bench -- --quick` — 2 × Test Xeon CPU, 24 GiB, linux x64, Node v20.20.2, tfjs 4.22.0');
    expect(md).toContain('4.0 min (estimated 3.3)');
    expect(md).toContain('at the start 6.5 5.0 4.0'); // loaded at the start, quiet at the end: still "loaded"
    expect(md).toContain('a loaded machine');
    expect(row(md, 'webgpu-software', 'ran')).toContain('llvmpipe (software), Dawn opengles');
    expect(row(md, 'webgpu')).toContain('skipped: Dawn found no GPU adapter');
    expect(row(md, 'tensorflow')).toContain('failed: graph SmolLM2 (peer protocol); over the time limit: model (bench:model)');
    expect(row(md, 'onnxruntime')).toContain('onnxruntime-node 1.30.0, CPU execution provider');
  });

  it('shows the sampler medians with quartiles and the device/host ratio per backend and shape', () => {
    expect(row(md, 'wasm', 'wasm', '1', '32000')).toBe('| wasm | wasm | 1 | 32000 | 2.00 [1.80–2.20] | 8.00 [7.20–8.80] | **0.25** | 4.00 | 12.0× |');
    expect(row(md, 'webgpu-software', 'webgpu', '1', '128256')).toContain('| **1.50** |');
    expect(row(md, 'wasm', '0.25', '0.50')).toContain('device wins everywhere (2.0–4.0× faster)');
    expect(row(md, 'webgpu-software', '1.50', '1.50')).toContain('host-side wins everywhere');
  });

  it('shows decode medians with min–max, entropix/greedy and the sampler share per round', () => {
    // shares per round: 1 − 80/100, 1 − 85/90, 1 − 90/110 = 20%, 6%, 18%
    expect(row(md, 'wasm', 'bundled', '1')).toBe('| wasm | bundled | 1 | 8 × 3 | 100 [90.0–110] | 85.0 [80.0–90.0] | 0.85 | 18% [6% to 20%] |');
    expect(row(md, 'wasm', '18% [6% to 20%]')).toBeDefined();
  });

  it('picks the backend for each job from the numbers', () => {
    expect(md).toContain('Single-row decode (SmolLM2-shaped, Entropix): **tensorflow** (20.0 tok/s; 2.00× wasm)');
    expect(md).toContain('Long prefill (SmolLM2-shaped, 512 tokens): **tensorflow** (300 tok/s; 8.57× wasm)');
    expect(md).toContain('Batched decode (SmolLM2-shaped, B=4, Entropix): not measured');
  });

  it('compares the converted graph with onnxruntime-node at 1 and 2 threads and says how the export was made', () => {
    expect(md).toContain('`python3 benchmarks/peer/export_onnx.py benchmarks/peer/out/smollm`');
    expect(md).toContain('dynamo exporter, opset 18, torch 2.13.0+cpu');
    expect(md).toContain('sha256 abcdef012345…');
    // wasm: 100 ms/step, 64 tok/s prefill; ort 1 thread 50 ms, 128 tok/s; 2 threads 40 ms, 160 tok/s
    expect(row(md, 'converted graph, wasm')).toBe('| converted graph, wasm | 100 [95.0–105] | 64.0 [64.0–64.0] | 2.00× | 2.50× | 2.00× | reference |');
    expect(row(md, 'onnxruntime-node, 1 thread')).toContain('| identical |');
    expect(row(md, 'onnxruntime-node, 2 threads')).toContain('| 0.80× | 1.00× | 0.80× | differ |');
    expect(md).toContain('the converted graph, wasm takes 2.00× its decode time per token and 2.00× its prefill time');
  });

  it('lists the plan: sizes, estimated and measured seconds', () => {
    expect(row(md, 'wasm', 'sampler', 'B 1; V 32000, 128256; 5 iterations')).toBe('| wasm | sampler | B 1; V 32000, 128256; 5 iterations | 4 s | 3 s |');
  });

  it('draws every chart with its series and one bar per measured value', () => {
    expect(files).toEqual(['run.md', 'run-sampler.svg', 'run-decode.svg', 'run-share.svg', 'run-peer.svg']);
    const bars = (s: string) => (s.match(/<title>/g) ?? []).length;
    const sampler = svg('sampler');
    for (const name of ['wasm', 'wasm host-side', 'webgpu-software', 'webgpu-software host-side']) expect(sampler).toContain(`>${name}</text>`);
    expect(bars(sampler)).toBe(8); // 2 backends × (step, host) × 2 shapes
    expect(sampler).toContain('<title>wasm, B=1 V=32000: 2.00 (1.80–2.20)</title>');
    const decodeSvg = svg('decode');
    for (const name of ['bundled B=1 greedy', 'SmolLM2 B=1 entropix']) expect(decodeSvg).toContain(`>${name}</text>`);
    expect(decodeSvg).toContain('<title>SmolLM2 B=1 entropix, tensorflow: 20.0 (19.0–21.0)</title>');
    expect(svg('share')).toContain('<title>bundled B=1, wasm: 18.2 (5.56–20.0)</title>');
    const peerSvg = svg('peer');
    for (const name of ['converted graph, wasm', 'onnxruntime-node, 1 thread', 'onnxruntime-node, 2 threads']) expect(peerSvg).toContain(`>${name}</text>`);
    expect(bars(peerSvg)).toBe(6);
  });

  it('says why the peer was skipped and keeps the rest of the report', () => {
    const skipped = write(bench(false));
    expect(skipped.md).toContain('onnxruntime-node: **skipped** — python3 lacks onnx, onnxscript');
    expect(row(skipped.md, 'converted graph, wasm')).toContain('| – | – | – | reference |');
    expect(skipped.md).toContain('## Decode');
  });
});
