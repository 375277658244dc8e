// The report of one `npm run bench`: a Markdown file and SVG charts beside its JSON.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, Bar, COLORS } from './svg';

interface Timing { medianMs: number; q1Ms?: number; q3Ms?: number; minMs: number }
interface SamplerRow { batch: number; vocab: number; cases: Record<string, Timing & { ratio: number }> }
interface DecodeResult { tokensPerSecond: Record<string, number>; runs: Record<string, number[]>; batch: number; tokens: number; rounds: number }
interface PrefillResult { promptLength: number; tokensPerSecond: number[]; medianTokensPerSecond: number }
interface JobResult {
  kind: string; target: string; label: string; modelName?: string; batch?: number; seconds: number;
  skipped?: string; error?: string; backendInfo?: { adapter?: { description?: string; device?: string; vendor?: string; software?: boolean }; dawnBackend?: string };
  result?: unknown;
}
export interface BenchJson {
  command: string; date: string; quick: boolean; seconds: number; tfjs: string;
  machine: { cpus: number; cpu: string; memoryGiB: number; loadAverageAtEnd: number[]; node: string; platform: string };
  jobs: JobResult[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f = (x: number): string => (!Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (x: number): string => `${Math.round(x * 100) || 0}%`; // no "-0%"
const table = (head: string[], rows: string[][]): string =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** The share of an Entropix decode step spent in the sampler, per round (1 − entropix/greedy tokens/s). */
function shares(d: DecodeResult): number[] {
  const g = d.runs.greedy ?? [];
  const e = d.runs.entropix ?? [];
  return g.map((gr, i) => 1 - e[i]! / gr);
}

const adapterOf = (j: JobResult): string => {
  const a = j.backendInfo?.adapter;
  return a ? `${a.description || a.device || a.vendor}${a.software ? ' (software)' : ''}, Dawn ${j.backendInfo?.dawnBackend ?? '?'}` : '';
};

/** Writes <stem>.md and the charts; returns their file names. */
export function writeReport(json: BenchJson, dir: string, stem: string): string[] {
  const ok = (kind: string) => json.jobs.filter((j) => j.kind === kind && j.result !== undefined && !j.skipped && !j.error);
  const targets = [...new Set(json.jobs.map((j) => j.target))];
  const ran = targets.filter((t) => json.jobs.some((j) => j.target === t && j.result !== undefined));
  const m = json.machine;
  const md: string[] = [
    `# Benchmarks: ${json.date.slice(0, 10)}${json.quick ? ' (quick)' : ''}`, '',
    `\`${json.command}\` — ${m.cpus} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, tfjs ${json.tfjs}; `
      + `${(json.seconds / 60).toFixed(1)} min; load average at the end ${m.loadAverageAtEnd.map((x) => x.toFixed(1)).join(' ')} `
      + `(${m.loadAverageAtEnd[0]! > m.cpus ? 'a loaded machine: other jobs shared the cores, so absolute times are inflated and ratios are what to read' : 'quiet'}).`, '',
    'Each job ran in its own child process; figures are medians after warm-up, spreads in brackets '
      + '(sampler: quartiles of the iterations; decode and prefill: min–max over rounds).', '',
  ];

  md.push('## Backends', '', table(['backend', 'status', 'adapter'], targets.map((t) => {
    const jobs = json.jobs.filter((j) => j.target === t);
    const skip = jobs.find((j) => j.skipped)?.skipped;
    const errors = jobs.filter((j) => j.error).map((j) => j.label);
    return [t, skip ? `skipped: ${skip.slice(0, 140)}` : errors.length ? `ran; failed: ${errors.join(', ')}` : 'ran', adapterOf(jobs.find((j) => j.backendInfo) ?? jobs[0]!)];
  })), '');

  // ---- sampler ----
  const sampler = ok('sampler');
  const shapes = [...new Set(sampler.flatMap((j) => ((j.result as { rows?: SamplerRow[] }).rows ?? []).map((r) => `${r.batch}:${r.vocab}`)))];
  const rowOf = (j: JobResult, shape: string) => ((j.result as { rows?: SamplerRow[] }).rows ?? []).find((r) => `${r.batch}:${r.vocab}` === shape);
  md.push('## Sampler step: on the device vs on the host', '',
    'One Entropix step (`EntropixSampler.sample`, the backend\'s own path) against the host-side baseline (read logits and '
    + 'attention scores back with `data()`, then the same step in plain JS: `lib/sampling/backends/host/step.ts`); '
    + 'attention [B, 32, 4096]. device/host < 1: staying on the device wins.', '',
    table(['backend', 'path', 'B', 'V', 'step ms', 'host-side ms', 'device / host', 'generic tf ops ms', 'step / softmax'],
      sampler.flatMap((j) => shapes.map((s) => rowOf(j, s)).filter((r): r is SamplerRow => !!r).map((r) => {
        const c = r.cases;
        return [j.target, (j.result as { path?: string }).path ?? '', String(r.batch), String(r.vocab),
          `${f(c.step!.medianMs)} [${f(c.step!.q1Ms ?? NaN)}–${f(c.step!.q3Ms ?? NaN)}]`,
          `${f(c.host!.medianMs)} [${f(c.host!.q1Ms ?? NaN)}–${f(c.host!.q3Ms ?? NaN)}]`,
          `**${(c.step!.medianMs / c.host!.medianMs).toFixed(2)}**`, f(c.generic!.medianMs), `${c.step!.ratio.toFixed(1)}×`];
      }))), '');
  const files: string[] = [];
  const chart = (name: string, svg: string, alt: string) => {
    const file = `${stem}-${name}.svg`;
    writeFileSync(join(dir, file), svg);
    files.push(file);
    md.push(`![${alt}](${file})`, '');
  };
  const bar = (v: number, lo: number, hi: number, hatched = false): Bar => ({ value: v, low: lo, high: hi, hatched });
  if (sampler.length) {
    chart('sampler', barChart({
      title: 'Entropix sampling step: on the device (solid) and host-side (pale)', yLabel: 'ms per step (log)', log: true,
      groups: shapes.map((s) => { const [b, v] = s.split(':'); return `B=${b} V=${v}`; }),
      series: sampler.flatMap((j, ji) => ['step', 'host'].map((c) => ({
        name: `${j.target}${c === 'host' ? ' host-side' : ''}`, color: COLORS[ji % COLORS.length],
        bars: shapes.map((s) => {
          const t = rowOf(j, s)?.cases[c];
          return t ? bar(t.medianMs, t.q1Ms ?? t.medianMs, t.q3Ms ?? t.medianMs, c === 'host') : null;
        }),
      }))),
      note: 'whiskers: quartiles over the timed iterations',
    }), 'sampler step by vocabulary and backend');
  }

  // ---- decode ----
  const decode = ok('decode');
  const decodeCases = [...new Set(decode.map((j) => j.label.replace(/^decode /, '')))];
  md.push('## Decode', '',
    'Tokens/s (all rows) of `generate` with greedy argmax and with Entropix, alternating in the same process; every run '
    + 'decodes the same number of tokens. The sampler\'s share of an Entropix decode step = 1 − entropix/greedy tokens/s, per round; '
    + 'a negative share is noise (the sampler costs less than the rounds vary).', '',
    table(['backend', 'model', 'B', 'tokens × rounds', 'greedy tok/s', 'entropix tok/s', 'entropix / greedy', 'sampler share'],
      decode.map((j) => {
        const d = j.result as DecodeResult;
        const g = d.runs.greedy!, e = d.runs.entropix!, sh = shares(d);
        return [j.target, j.modelName === 'smollm' ? 'SmolLM2-135M-shaped' : 'bundled', String(d.batch), `${d.tokens} × ${d.rounds}`,
          `${f(median(g))} [${f(Math.min(...g))}–${f(Math.max(...g))}]`, `${f(median(e))} [${f(Math.min(...e))}–${f(Math.max(...e))}]`,
          (median(e) / median(g)).toFixed(2), `${pct(median(sh))} [${pct(Math.min(...sh))} to ${pct(Math.max(...sh))}]`];
      })), '');
  const decodeOf = (t: string, c: string) => decode.find((j) => j.target === t && j.label === `decode ${c}`)?.result as DecodeResult | undefined;
  if (decode.length) {
    const spread = (xs: number[]) => bar(median(xs), Math.min(...xs), Math.max(...xs));
    chart('decode', barChart({
      title: 'Decode tokens/s per backend', yLabel: 'tokens/s, all rows (log)', log: true, groups: ran,
      series: decodeCases.flatMap((c) => ['greedy', 'entropix'].map((mode) => ({
        name: `${c} ${mode}`, bars: ran.map((t) => { const d = decodeOf(t, c); return d?.runs[mode] ? spread(d.runs[mode]!) : null; }),
      }))),
      note: 'whiskers: min–max over rounds',
    }), 'decode tokens/s per backend');
    chart('share', barChart({
      title: 'Share of an Entropix decode step spent in the sampler', yLabel: '% (1 − entropix/greedy)', groups: ran,
      series: decodeCases.map((c) => ({
        name: c, bars: ran.map((t) => {
          const d = decodeOf(t, c);
          if (!d) return null;
          const sh = shares(d).map((x) => x * 100);
          return bar(Math.max(0, median(sh)), Math.max(0, Math.min(...sh)), Math.max(0, Math.max(...sh)));
        }),
      })),
      note: 'whiskers: min–max over rounds (negative shares, noise, shown as 0)',
    }), 'sampler share of a decode step');
  }

  // ---- prefill ----
  const prefill = ok('prefill');
  if (prefill.length) {
    md.push('## Prefill', '', table(['backend', 'model', 'prompt', 'tokens/s'], prefill.map((j) => {
      const p = j.result as PrefillResult;
      return [j.target, 'SmolLM2-135M-shaped', String(p.promptLength),
        `${f(p.medianTokensPerSecond)} [${f(Math.min(...p.tokensPerSecond))}–${f(Math.max(...p.tokensPerSecond))}]`];
    })), '');
  }

  // ---- bench:model (and its peers) ----
  const model = ok('model');
  if (model.length) {
    const rows: string[][] = [];
    for (const j of model) {
      type Peer = { peer?: { threads: number; prefillTokensPerS: number; medianStepMs: number }[]; skipped?: string };
      const r = j.result as { results?: { shape: string; results: Record<string, unknown>[]; peer?: Peer }[]; bundledModel?: { results: Record<string, unknown>[] } };
      // The onnxruntime-node peer (bench:model runs it beside wasm where its ONNX export exists).
      for (const e of r.results ?? []) {
        for (const p of e.peer?.peer ?? []) {
          rows.push([j.target, e.shape, `onnxruntime-node, ${p.threads} thread(s)`, f(p.medianStepMs), f(p.prefillTokensPerS), '']);
        }
        if (e.peer?.skipped) rows.push([j.target, e.shape, 'onnxruntime-node', `skipped: ${e.peer.skipped.slice(0, 120)}`, '', '']);
      }
      const all = [...(r.results ?? []).flatMap((e) => e.results.map((x) => ({ ...x, label: e.shape }))), ...(r.bundledModel?.results ?? []).map((x) => ({ ...x, label: 'bundled' }))];
      for (const x of all as { label: string; models?: Record<string, { medianStepMs: number; prefillTokensPerS: number }>; ratio?: { decode: number } }[]) {
        for (const [name, mm] of Object.entries(x.models ?? {})) {
          rows.push([j.target, x.label, name, f(mm.medianStepMs), f(mm.prefillTokensPerS), name === 'converted' && x.ratio ? `${x.ratio.decode.toFixed(2)}× native` : '']);
        }
      }
    }
    md.push('## bench:model (converted graph, native model, peers where installed)', '',
      table(['backend', 'model', 'implementation', 'decode ms/token', 'prefill tok/s (64)', 'ratio'], rows), '');
  }

  // ---- which backend for which job ----
  const best = (items: { target: string; v: number }[], unit: string): string => {
    const s = items.filter((x) => Number.isFinite(x.v)).sort((a, b) => b.v - a.v);
    if (!s.length) return 'not measured';
    const [a, b] = s;
    return `**${a!.target}** (${f(a!.v)} ${unit}${b ? `; ${(a!.v / b.v).toFixed(2)}× ${b.target}` : ''})`;
  };
  const ent = (c: string) => ran.map((t) => ({ target: t, v: decodeOf(t, c) ? median(decodeOf(t, c)!.runs.entropix!) : NaN }));
  md.push('## Which backend for which job (from this run)', '',
    `- Single-row decode (SmolLM2-shaped, Entropix): ${best(ent('SmolLM2 B=1'), 'tok/s')}.`,
    `- Batched decode (SmolLM2-shaped, B=4, Entropix): ${best(ent('SmolLM2 B=4'), 'tok/s')}.`,
    `- Long prefill (SmolLM2-shaped, ${(prefill[0]?.result as PrefillResult | undefined)?.promptLength ?? '?'} tokens): `
      + `${best(prefill.map((j) => ({ target: j.target, v: (j.result as PrefillResult).medianTokensPerSecond })), 'tok/s')}.`, '');
  const file = `${stem}.md`;
  writeFileSync(join(dir, file), `${md.join('\n')}\n`);
  return [file, ...files];
}
