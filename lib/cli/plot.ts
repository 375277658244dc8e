// --plot: the entropy/varentropy plane as a standalone SVG, with the regime thresholds, the
// regions they cut out, and every generated token as a dot coloured by its regime.
// Browser-safe: builds a string, no DOM and no node: imports.
//
// The regions are those of the entropy/varentropy thresholds alone: attention gates and
// switched-off regimes (which the trace does not record) can put a token in another regime than
// the region its dot sits in.
import { isStateName, regimeAt, STATE_NAMES, stateName, StateName } from '../sampling/states';
import { REGIME_COLORS } from './colors';
import { regimeCounts, Thresholds, Trace, TraceToken } from './trace';

export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
}

const DEFAULT_WIDTH = 900;
const DEFAULT_HEIGHT = 560;
/** Room around the plot area: title and threshold labels above, tick labels below, legend right. */
const MARGIN = { left: 64, right: 190, top: 72, bottom: 52 };
const MIN_PLOT = 120;
/** Fraction of the span added on each side of the data and thresholds. */
const PADDING = 0.05;

/** Characters XML 1.0 cannot hold at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF). */
const INVALID_XML_CHARS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text safe in XML character data and in quoted attributes: invalid characters become U+FFFD. */
export function escapeXml(text: string): string {
  return String(text)
    .replace(INVALID_XML_CHARS, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export interface Axis {
  /** Data range shown, padded; always contains 0. */
  min: number;
  max: number;
  /** Round values in [min, max] that get a tick and a label. */
  ticks: number[];
}

export interface PlotScales {
  x: Axis & { /** Pixel x of an entropy (clamped to the axis range). */ px(entropy: number): number };
  y: Axis & { /** Pixel y of a varentropy (y grows downwards; clamped to the axis range). */ px(varentropy: number): number };
  /** The plot area in pixels. */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** A round step (1, 2, 2.5, 5 × 10^k) giving about `count` intervals over span. */
function tickStep(span: number, count = 7): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-12)) ?? 10 * power;
}

const tidy = (v: number): number => (Object.is(v, -0) ? 0 : Number(v.toPrecision(12)));

/** The axis over 0, the finite values given, padded by PADDING of the span (at least 1 bit) each side. */
function axis(values: readonly number[]): Axis {
  const finite = values.filter((v) => Number.isFinite(v));
  let lo = Math.min(0, ...finite);
  let hi = Math.max(0, ...finite);
  if (hi - lo < 1) hi = lo + 1; // one token, or all values equal: a sane 1-bit range
  const pad = PADDING * (hi - lo);
  lo -= pad;
  hi += pad;
  const step = tickStep(hi - lo);
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + 1e-9 * step; i++) ticks.push(tidy(i * step));
  return { min: lo, max: hi, ticks };
}

function finiteSize(v: number | undefined, fallback: number, min: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.max(min, Math.round(v)) : fallback;
}

const hasMetrics = (t: TraceToken): boolean => Number.isFinite(t.entropy) && Number.isFinite(t.varentropy);
const X_THRESHOLDS = ['lowEntropy', 'mediumEntropy', 'highEntropy'] as const;
const Y_THRESHOLDS = ['lowVarentropy', 'highVarentropy'] as const;

/**
 * The mapping from (entropy, varentropy) in bits to pixels for a plot of `width` × `height`:
 * the axes cover 0, every drawable token and every threshold, with padding.
 */
export function plotScales(trace: Trace, width = DEFAULT_WIDTH, height = DEFAULT_HEIGHT): PlotScales {
  width = finiteSize(width, DEFAULT_WIDTH, MARGIN.left + MARGIN.right + MIN_PLOT);
  height = finiteSize(height, DEFAULT_HEIGHT, MARGIN.top + MARGIN.bottom + MIN_PLOT);
  const drawn = trace.tokens.filter(hasMetrics);
  const th = trace.thresholds;
  const xa = axis([...drawn.map((t) => t.entropy), ...(th ? X_THRESHOLDS.map((k) => th[k]) : [])]);
  const ya = axis([...drawn.map((t) => t.varentropy), ...(th ? Y_THRESHOLDS.map((k) => th[k]) : [])]);
  const [left, right, top, bottom] = [MARGIN.left, width - MARGIN.right, MARGIN.top, height - MARGIN.bottom];
  const clamp = (v: number, a: Axis) => Math.min(Math.max(v, a.min), a.max);
  return {
    x: { ...xa, px: (v) => left + ((clamp(v, xa) - xa.min) / (xa.max - xa.min)) * (right - left) },
    y: { ...ya, px: (v) => bottom - ((clamp(v, ya) - ya.min) / (ya.max - ya.min)) * (bottom - top) },
    left, right, top, bottom,
  };
}

const f = (v: number): string => String(tidy(Number(v.toFixed(1))));
/** Rough width of a label in pixels (sans-serif, ~0.6 em per character). */
const textWidth = (text: string, size: number): number => text.length * size * 0.6;

/**
 * Shaded regions. The thresholds cut the plane into a grid of cells, each in one regime (every
 * condition is a strict bound on one threshold), so whatever the thresholds' order the cells are
 * classified by their centres, with the sampler's own conditions (regimeAt, states.ts). Each
 * regime is labelled once, in its largest cell.
 */
function regions(th: Thresholds, s: PlotScales): { cells: string[]; labels: string[] } {
  const cuts = (a: Axis, values: number[]) =>
    [...new Set([a.min, a.max, ...values.map((v) => Math.min(Math.max(v, a.min), a.max))])].sort((p, q) => p - q);
  const xs = cuts(s.x, X_THRESHOLDS.map((k) => th[k]));
  const ys = cuts(s.y, Y_THRESHOLDS.map((k) => th[k]));
  const out: string[] = [];
  const labels: string[] = [];
  const largest = new Map<StateName, { left: number; top: number; w: number; h: number }>();
  for (let i = 0; i + 1 < xs.length; i++) {
    for (let j = 0; j + 1 < ys.length; j++) {
      const [x0, x1, y0, y1] = [xs[i]!, xs[i + 1]!, ys[j]!, ys[j + 1]!];
      const regime = regimeAt((x0 + x1) / 2, (y0 + y1) / 2, th);
      const cell = { left: s.x.px(x0), top: s.y.px(y1), w: s.x.px(x1) - s.x.px(x0), h: s.y.px(y0) - s.y.px(y1) };
      if (cell.w <= 0 || cell.h <= 0) continue;
      out.push(`<rect class="region ${regime}" x="${f(cell.left)}" y="${f(cell.top)}" width="${f(cell.w)}" height="${f(cell.h)}" `
        + `fill="${REGIME_COLORS[regime]}" fill-opacity="0.08"/>`);
      const best = largest.get(regime);
      if (!best || cell.w * cell.h > best.w * best.h) largest.set(regime, cell);
    }
  }
  for (const [regime, cell] of largest) {
    const w = textWidth(regime, 11);
    // Inside the cell when it fits, else just above it (thin cells along the entropy axis).
    const fits = cell.w >= w + 8 && cell.h >= 18;
    const x = fits ? cell.left + 4 : Math.min(cell.left + 2, s.right - w - 2);
    const y = fits ? cell.top + 14 : Math.max(cell.top - 4, s.top + 12);
    labels.push(`<text class="region-label" x="${f(x)}" y="${f(y)}" font-size="11" fill="${REGIME_COLORS[regime]}" `
      + `stroke="#fff" stroke-width="3" stroke-opacity="0.8" paint-order="stroke">${regime}</text>`);
  }
  return { cells: out, labels };
}

/** Dashed threshold lines across the plot, each labelled with its name and value. */
function thresholdLines(th: Thresholds, s: PlotScales): { lines: string[]; labels: string[] } {
  const lines: string[] = [];
  const labels: string[] = [];
  const halo = 'stroke="#fff" stroke-width="3" stroke-opacity="0.8" paint-order="stroke"';
  // Entropy thresholds: vertical lines, labels above the plot, one row each (close values would overlap).
  const vertical = X_THRESHOLDS.filter((k) => Number.isFinite(th[k])).sort((a, b) => th[a] - th[b]);
  vertical.forEach((k, row) => {
    const x = f(s.x.px(th[k]));
    lines.push(`<line x1="${x}" y1="${f(s.top)}" x2="${x}" y2="${f(s.bottom)}" class="threshold" data-threshold="${k}"/>`);
    labels.push(`<text x="${x}" y="${f(s.top - 6 - 13 * row)}" font-size="10" fill="#444" text-anchor="middle">${k} ${escapeXml(String(th[k]))}</text>`);
  });
  // Varentropy thresholds: horizontal lines, labels inside the right edge (the lower one below its line if they crowd).
  const horizontal = Y_THRESHOLDS.filter((k) => Number.isFinite(th[k])).sort((a, b) => th[a] - th[b]);
  const crowded = horizontal.length === 2 && Math.abs(s.y.px(th[horizontal[0]!]) - s.y.px(th[horizontal[1]!])) < 14;
  horizontal.forEach((k, i) => {
    const y = s.y.px(th[k]);
    const labelY = crowded && i === 0 ? y + 12 : y - 4;
    lines.push(`<line x1="${f(s.left)}" y1="${f(y)}" x2="${f(s.right)}" y2="${f(y)}" class="threshold" data-threshold="${k}"/>`);
    labels.push(`<text x="${f(s.right - 4)}" y="${f(labelY)}" font-size="10" fill="#444" text-anchor="end" ${halo}>${k} ${escapeXml(String(th[k]))}</text>`);
  });
  return { lines, labels };
}

function axes(s: PlotScales, height: number): string[] {
  const out = [
    `<line x1="${f(s.left)}" y1="${f(s.bottom)}" x2="${f(s.right)}" y2="${f(s.bottom)}" stroke="#000"/>`,
    `<line x1="${f(s.left)}" y1="${f(s.top)}" x2="${f(s.left)}" y2="${f(s.bottom)}" stroke="#000"/>`,
  ];
  for (const v of s.x.ticks) {
    const x = f(s.x.px(v));
    out.push(`<line class="tick x" x1="${x}" y1="${f(s.bottom)}" x2="${x}" y2="${f(s.bottom + 5)}" stroke="#000"/>`
      + `<text x="${x}" y="${f(s.bottom + 18)}" font-size="11" text-anchor="middle">${v}</text>`);
  }
  for (const v of s.y.ticks) {
    const y = f(s.y.px(v));
    out.push(`<line class="tick y" x1="${f(s.left - 5)}" y1="${y}" x2="${f(s.left)}" y2="${y}" stroke="#000"/>`
      + `<text x="${f(s.left - 8)}" y="${f(s.y.px(v) + 4)}" font-size="11" text-anchor="end">${v}</text>`);
  }
  out.push(`<text x="${f((s.left + s.right) / 2)}" y="${f(height - 12)}" font-size="13" text-anchor="middle">entropy (bits)</text>`,
    `<text transform="translate(16 ${f((s.top + s.bottom) / 2)}) rotate(-90)" font-size="13" text-anchor="middle">varentropy (bits²)</text>`);
  return out;
}

function dot(t: TraceToken, s: PlotScales): string {
  const regime = isStateName(t.regime) ? t.regime : stateName(t.state);
  // JSON.stringify shows quotes, newlines and control characters visibly (as \n, \u0001, ...).
  const tip = `step ${t.step}, row ${t.row}: ${JSON.stringify(String(t.text))} (id ${t.tokenId})\n`
    + `${regime}: entropy ${t.entropy.toFixed(3)}, varentropy ${t.varentropy.toFixed(3)}`;
  return `<circle class="token ${regime}" cx="${f(s.x.px(t.entropy))}" cy="${f(s.y.px(t.varentropy))}" r="3.5" `
    + `fill="${REGIME_COLORS[regime]}" fill-opacity="0.75" stroke="#fff" stroke-width="0.5"><title>${escapeXml(tip)}</title></circle>`;
}

function legend(trace: Trace, s: PlotScales, skipped: number): string[] {
  const counts = regimeCounts(trace.tokens);
  // With regimes: the five, and base if any token had none; plain/greedy: only what occurred.
  const shown = STATE_NAMES.filter((r) => counts[r] > 0 || (trace.thresholds !== null && r !== 'base'));
  if (shown.length === 0) shown.push('base');
  const x = s.right + 24;
  const out = [`<text x="${x - 8}" y="${f(s.top + 4)}" font-size="12" font-weight="bold">regime (tokens)</text>`];
  shown.forEach((r, i) => {
    const y = s.top + 26 + i * 20;
    out.push(`<circle class="legend ${r}" cx="${x}" cy="${y}" r="5" fill="${REGIME_COLORS[r]}"/>`
      + `<text class="legend-label" x="${x + 10}" y="${y + 4}" font-size="12">${r} (${counts[r]})</text>`);
  });
  if (skipped > 0) {
    const y = s.top + 26 + shown.length * 20 + 10;
    out.push(`<text class="note" x="${x - 8}" y="${y}" font-size="11" fill="#555">${skipped} not drawn:</text>`,
      `<text class="note" x="${x - 8}" y="${y + 14}" font-size="11" fill="#555">no finite entropy/varentropy</text>`);
  }
  return out;
}

/**
 * The trace's tokens on the entropy/varentropy plane, as a standalone SVG document: axes with
 * ticks, the thresholds (dashed, labelled) and the regions they cut out (shaded, labelled) when
 * trace.thresholds is set, one dot per token with finite entropy and varentropy (coloured by
 * regime, with a tooltip), and a legend with the count per regime. Tokens without finite metrics
 * are counted in a note, not drawn. All text is XML-escaped.
 */
export function plotSvg(trace: Trace, options: PlotOptions = {}): string {
  const width = finiteSize(options.width, DEFAULT_WIDTH, MARGIN.left + MARGIN.right + MIN_PLOT);
  const height = finiteSize(options.height, DEFAULT_HEIGHT, MARGIN.top + MARGIN.bottom + MIN_PLOT);
  const s = plotScales(trace, width, height);
  const th = trace.thresholds;
  const drawn = trace.tokens.filter(hasMetrics);
  const n = trace.tokens.length;
  const title = options.title
    ?? `${trace.sampler === 'entropix' ? 'Entropix regimes' : `${trace.sampler} sampling`}: ${n} token${n === 1 ? '' : 's'}`;
  // Regions need every threshold (a trace read back from JSON may hold null for one).
  const shaded = th && [...X_THRESHOLDS, ...Y_THRESHOLDS].every((k) => Number.isFinite(th[k])) ? regions(th, s) : { cells: [], labels: [] };
  const thresholds = th ? thresholdLines(th, s) : { lines: [], labels: [] };
  const parts: string[] = [
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
    ...shaded.cells,
    ...axes(s, height),
    ...thresholds.lines,
    ...drawn.map((t) => dot(t, s)),
    // Labels over the dots, with a halo, so they stay readable.
    ...shaded.labels,
    ...thresholds.labels,
    ...legend(trace, s, trace.tokens.length - drawn.length),
    `<text x="${s.left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n`
    + '<style>.threshold { stroke: #444; stroke-width: 1; stroke-dasharray: 5 4; } .region { shape-rendering: crispEdges; }</style>\n'
    + `${parts.join('\n')}\n</svg>\n`;
}
