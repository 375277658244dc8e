// The report of one `npm run bench`: a Markdown file and SVG charts beside its JSON.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, Bar, COLORS } from './svg';

interface Timing { medianMs: number; q1Ms?: number; q3Ms?: number; minMs: number }
interface SamplerRow { batch: number; vocab: number; cases: Record<string, Timing & { ratio: number }> }
interface DecodeResult { tokensPerSecond: Record<string, number>; runs: Record<string, number[]>; batch: number; tokens: number; rounds: number }
interface PrefillResult { promptLength: number; tokensPerSecond: number[]; medianTokensPerSecond: number }
interface ProtocolRun { prefillMs: number; stepMs: number[]; tokens: number[] }
/** The converted graph under the peer's protocol (bench's graph job). */
interface GraphResult { promptLength: number; steps: number; runs: ProtocolRun[] }
/** onnxruntime-node under the same protocol, one entry per intra-op thread count. */
interface PeerResult { promptLength: number; steps: number; threads: { threads: number; loadMs: number; runs: ProtocolRun[] }[] }
interface JobResult {
  kind: string; target: string; label: string; modelName?: string; batch?: number; seconds: number;
  sizes?: string; estimateS?: number;
  skipped?: string; error?: string; backendInfo?: { adapter?: { description?: string; device?: string; vendor?: string; software?: boolean }; dawnBackend?: string };
  result?: unknown;
}
export interface BenchJson {
  command: string; date: string; quick: boolean; seconds: number; tfjs: string; estimatedSeconds?: number;
  machine: {
    hostname?: string; cpus: number; cpu: string; memoryGiB: number; loadAverageAtStart?: number[]; loadAverageAtEnd: number[];
    node: string; platform: string;
  };
  smollm?: { shape: object; checkpoint: string };
  /** How the peer was set up (benchmarks/peer/prepare.ts), or why it was skipped. */
  peer?: {
    skipped?: string; onnxruntime?: string; exportCommand: string; exportSeconds?: number;
    meta?: { checkpointSha256: string; exporter: string; opset: number; torch: string };
  };
  jobs: JobResult[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** The q-quantile (linear between order statistics), for the quartiles of per-step times. */
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
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
      + `${(json.seconds / 60).toFixed(1)} min${json.estimatedSeconds ? ` (estimated ${(json.estimatedSeconds / 60).toFixed(1)})` : ''}; load average `
      + `${m.loadAverageAtStart ? `at the start ${m.loadAverageAtStart.map((x) => x.toFixed(1)).join(' ')}, ` : ''}at the end ${m.loadAverageAtEnd.map((x) => x.toFixed(1)).join(' ')} `
      + `(${Math.max(m.loadAverageAtEnd[0]!, m.loadAverageAtStart?.[0] ?? 0) > m.cpus ? 'a loaded machine: other jobs shared the cores, so absolute times are inflated and ratios are what to read' : 'quiet'}).`, '',
    'Each job ran in its own child process; figures are medians after warm-up, spreads in brackets '
      + '(sampler: quartiles of the iterations; decode and prefill: min–max over rounds).', '',
  ];

  md.push('## Backends', '', table(['backend', 'status', 'adapter'], targets.map((t) => {
    const jobs = json.jobs.filter((j) => j.target === t);
    const skip = jobs.find((j) => j.skipped)?.skipped;
    const errors = jobs.filter((j) => j.error).map((j) => j.label);
    const cut = jobs.filter((j) => j.skipped?.startsWith('not started')).map((j) => j.label);
    const status = skip && !cut.length ? `skipped: ${skip.slice(0, 140)}`
      : `ran${errors.length ? `; failed: ${errors.join(', ')}` : ''}${cut.length ? `; over the time limit: ${cut.join(', ')}` : ''}`;
    const what = t === 'onnxruntime' && json.peer?.onnxruntime ? `onnxruntime-node ${json.peer.onnxruntime}, CPU execution provider` : adapterOf(jobs.find((j) => j.backendInfo) ?? jobs[0]!);
    return [t, status, what];
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

  // ---- the peer: onnxruntime-node on the same weights ----
  const graphs = ok('graph');
  const peerJob = json.jobs.find((j) => j.kind === 'peer');
  const peer = peerJob && !peerJob.skipped && !peerJob.error ? peerJob.result as PeerResult : undefined;
  type Impl = { name: string; stepMs: number[]; prefill: number[]; tokens: string };
  const impls: Impl[] = [];
  const protocol = (runs: ProtocolRun[], prompt: number) => ({
    stepMs: runs.flatMap((r) => r.stepMs), prefill: runs.map((r) => prompt / (r.prefillMs / 1000)), tokens: runs[0]?.tokens.join(',') ?? '',
  });
  for (const j of graphs) {
    const g = j.result as GraphResult;
    impls.push({ name: `converted graph, ${j.target}`, ...protocol(g.runs, g.promptLength) });
  }
  for (const t of peer?.threads ?? []) impls.push({ name: `onnxruntime-node, ${t.threads} thread${t.threads > 1 ? 's' : ''}`, ...protocol(t.runs, peer!.promptLength) });
  const ortOf = (threads: number) => impls.find((x) => x.name === `onnxruntime-node, ${threads} thread${threads > 1 ? 's' : ''}`);
  if (peerJob || graphs.length) {
    const setup = json.peer;
    const g0 = (graphs[0]?.result ?? peer) as { promptLength: number; steps: number } | undefined;
    md.push('## The peer: onnxruntime-node on the same weights', '');
    if (setup?.meta) {
      md.push(`onnxruntime-node ${setup.onnxruntime} (what transformers.js runs on, CPU execution provider) on an ONNX export of the `
        + `same float32 SmolLM2-135M-shaped checkpoint the converted graph was made from (sha256 ${setup.meta.checkpointSha256.slice(0, 12)}…). `
        + `The export: \`${setup.exportCommand}\` (benchmarks/peer/export_onnx.py: a small hand-written torch Llama over the checkpoint's `
        + `tensors, checked against transformers' LlamaForCausalLM on a prompt and a cached step, then \`torch.onnx.export\` — `
        + `${setup.meta.exporter} exporter, opset ${setup.meta.opset}, torch ${setup.meta.torch} — with the past key values as inputs `
        + `and the present ones as outputs)${setup.exportSeconds ? `, made in this run in ${setup.exportSeconds.toFixed(0)} s` : ''}.`, '');
    } else {
      md.push(`onnxruntime-node: **skipped** — ${peerJob?.skipped ?? setup?.skipped ?? 'not run'}${peerJob?.error ? ` (failed: ${peerJob.error})` : ''}. `
        + `The export is made by \`${setup?.exportCommand ?? 'python benchmarks/peer/export_onnx.py benchmarks/peer/out/smollm'}\` `
        + '(torch, transformers, onnx and onnxscript from pip); the bench makes it itself when that Python has them.', '');
    }
    if (g0) {
      md.push(`The same protocol for each, each in its own process: a prompt of ${g0.promptLength} token ids, then ${g0.steps} greedy steps `
        + 'with the cache fed back and the logits read after each step (no sampler: the model alone); one warm-up, then the rounds. '
        + 'onnxruntime runs with 1 and with 2 intra-op threads; tfjs-wasm in Node has one thread; libtensorflow uses its own pool. '
        + 'Ratios are time over onnxruntime\'s time: above 1, onnxruntime is faster.', '');
    }
    if (impls.length) {
      const o1 = ortOf(1), o2 = ortOf(2);
      const ratio = (a: Impl, b: Impl | undefined, of: 'step' | 'prefill') => !b ? '–' : of === 'step'
        ? `${(median(a.stepMs) / median(b.stepMs)).toFixed(2)}×` : `${(median(b.prefill) / median(a.prefill)).toFixed(2)}×`;
      const ref = impls[0]!.tokens;
      md.push(table(['implementation', 'decode ms/token', 'prefill tok/s', 'decode ÷ ort 1 thread', 'decode ÷ ort 2 threads',
        'prefill time ÷ ort 1 thread', 'greedy tokens'], impls.map((x) => [x.name,
        `${f(median(x.stepMs))} [${f(quantile(x.stepMs, 0.25))}–${f(quantile(x.stepMs, 0.75))}]`,
        `${f(median(x.prefill))} [${f(Math.min(...x.prefill))}–${f(Math.max(...x.prefill))}]`,
        ratio(x, o1, 'step'), ratio(x, o2, 'step'), ratio(x, o1, 'prefill'),
        x === impls[0] ? 'reference' : x.tokens === ref ? 'identical' : 'differ'])), '',
      'Spreads: decode, quartiles over all timed steps; prefill, min–max over rounds.', '');
      const ms = (v: number[]) => bar(median(v), quantile(v, 0.25), quantile(v, 0.75));
      const pre = (v: number[]) => { const t = v.map((x) => 1000 / x); return bar(median(t), Math.min(...t), Math.max(...t)); };
      chart('peer', barChart({
        title: 'SmolLM2-135M-shaped: converted graph vs onnxruntime-node', yLabel: 'ms per token (log)', log: true,
        groups: ['decode step', `prefill (${g0?.promptLength ?? '?'} tokens)`],
        series: impls.map((x) => ({ name: x.name, bars: [ms(x.stepMs), pre(x.prefill)] })),
        note: 'whiskers: decode, quartiles over steps; prefill, min–max over rounds',
      }), 'converted graph vs onnxruntime-node');
    }
  }

  // ---- which backend for which job ----
  const best = (items: { target: string; v: number }[], unit: string): string => {
    const s = items.filter((x) => Number.isFinite(x.v)).sort((a, b) => b.v - a.v);
    if (!s.length) return 'not measured';
    const [a, b] = s;
    return `**${a!.target}** (${f(a!.v)} ${unit}${b ? `; ${(a!.v / b.v).toFixed(2)}× ${b.target}` : ''})`;
  };
  const ent = (c: string) => ran.map((t) => ({ target: t, v: decodeOf(t, c) ? median(decodeOf(t, c)!.runs.entropix!) : NaN }));
  const longest = Math.max(...prefill.map((j) => (j.result as PrefillResult).promptLength));
  md.push('## Which backend for which job (from this run)', '',
    `- Single-row decode (SmolLM2-shaped, Entropix): ${best(ent('SmolLM2 B=1'), 'tok/s')}.`,
    `- Batched decode (SmolLM2-shaped, B=4, Entropix): ${best(ent('SmolLM2 B=4'), 'tok/s')}.`,
    `- Long prefill (SmolLM2-shaped, ${Number.isFinite(longest) ? longest : '?'} tokens): `
      + `${best(prefill.filter((j) => (j.result as PrefillResult).promptLength === longest)
        .map((j) => ({ target: j.target, v: (j.result as PrefillResult).medianTokensPerSecond })), 'tok/s')}`
      + `${prefill.some((j) => (j.result as PrefillResult).promptLength !== longest) ? ' (backends with a shorter prompt in the plan left out)' : ''}; `
      + 'libtensorflow uses every core; tfjs-wasm runs one thread in Node (its threads are off there), '
      + 'and wasm\'s packed matrix products a second one for prompts where there are two cores (ENTROPIX_WASM_THREADS).');
  const o1 = ortOf(1);
  if (o1) {
    md.push(...impls.filter((x) => x.name.startsWith('converted')).map((x) => `- Against onnxruntime-node (1 thread) on the same weights: the ${x.name} `
      + `takes ${(median(x.stepMs) / median(o1.stepMs)).toFixed(2)}× its decode time per token and `
      + `${(median(o1.prefill) / median(x.prefill)).toFixed(2)}× its prefill time.`));
  }
  md.push('');

  // The value of staying on the device: the fused step over the host-side step, per backend and shape.
  if (sampler.length) {
    const cell = (j: JobResult, sh: string) => { const r = rowOf(j, sh); return r ? r.cases.step!.medianMs / r.cases.host!.medianMs : NaN; };
    md.push('### The value of staying on the device', '',
      'On-device / host-side time of one Entropix step (below 1: the device wins, by that factor\'s inverse; above 1: copying '
      + 'the logits to the host and stepping in JS is faster):', '',
      table(['backend', ...shapes.map((sh) => { const [b, v] = sh.split(':'); return `B=${b} V=${v}`; }), 'verdict'], sampler.map((j) => {
        const xs = shapes.map((sh) => cell(j, sh));
        const fin = xs.filter(Number.isFinite);
        const wins = fin.filter((x) => x < 1).length;
        return [j.target, ...xs.map((x) => (Number.isFinite(x) ? `${x.toFixed(2)}` : '–')),
          wins === fin.length ? `device wins everywhere (${(1 / Math.max(...fin)).toFixed(1)}–${(1 / Math.min(...fin)).toFixed(1)}× faster)`
            : wins === 0 ? `host-side wins everywhere (device ${Math.min(...fin).toFixed(2)}–${Math.max(...fin).toFixed(2)}×)`
              : `device wins at ${wins} of ${fin.length} shapes`];
      })), '');
  }
  // The sampler's share of a decode step: greedy argmax vs Entropix in the same run.
  if (decode.length) {
    md.push('### The sampler\'s share of a decode step', '',
      '1 − Entropix/greedy tokens/s, the two alternating in the same process; median over rounds [min to max]:', '',
      table(['backend', ...decodeCases], ran.filter((t) => decodeCases.some((c) => decodeOf(t, c))).map((t) => [t, ...decodeCases.map((c) => {
        const d = decodeOf(t, c);
        if (!d) return '–';
        const sh = shares(d);
        return `${pct(median(sh))} [${pct(Math.min(...sh))} to ${pct(Math.max(...sh))}]`;
      })])), '');
  }

  // ---- the plan: sizes, estimated and measured time ----
  if (json.jobs.some((j) => j.sizes)) {
    md.push('## The plan', '', table(['backend', 'job', 'sizes', 'estimated', 'took'], json.jobs.map((j) => [j.target, j.label, j.sizes ?? '',
      j.estimateS ? `${Math.round(j.estimateS)} s` : '', j.skipped ? 'skipped' : `${Math.round(j.seconds)} s${j.error ? ' (failed)' : ''}`])), '');
  }
  const file = `${stem}.md`;
  writeFileSync(join(dir, file), `${md.join('\n')}\n`);
  return [file, ...files];
}
