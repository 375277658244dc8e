// --plot: the entropy/varentropy plane as a standalone SVG, with the regime thresholds, the
// regions they cut out, and every generated token as a dot coloured by its regime.
import { REGIME_LABELS, RegimeLabel, regimeCounts, Thresholds, Trace } from './trace';

export const REGIME_COLORS: Record<RegimeLabel, string> = {
  flowing: '#2e7d32', treading: '#f9a825', exploring: '#00838f', resampling: '#c62828', adaptive: '#6a1b9a', base: '#546e7a',
};

const MARGIN = { left: 64, right: 170, top: 60, bottom: 52 };

/** XML-escaped text; characters XML 1.0 cannot hold become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export interface PlotScales {
  xMax: number;
  yMax: number;
  /** Pixel x of an entropy, pixel y of a varentropy (y grows downwards). */
  x(entropy: number): number;
  y(varentropy: number): number;
}

/** A round step giving about `count` ticks up to max. */
function tickStep(max: number, count = 5): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
}

/** Axes from 0 to 10% above the largest finite value or threshold (at least 1 bit). */
export function plotScales(trace: Trace, width: number, height: number): PlotScales {
  const finite = trace.tokens.filter((t) => Number.isFinite(t.entropy) && Number.isFinite(t.varentropy));
  const th = trace.thresholds;
  const xMax = 1.1 * Math.max(1, ...finite.map((t) => t.entropy), ...(th ? [th.highEntropy, th.mediumEntropy, th.lowEntropy] : []));
  const yMax = 1.1 * Math.max(1, ...finite.map((t) => t.varentropy), ...(th ? [th.highVarentropy, th.lowVarentropy] : []));
  const w = width - MARGIN.left - MARGIN.right;
  const h = height - MARGIN.top - MARGIN.bottom;
  return {
    xMax, yMax,
    x: (v) => MARGIN.left + (Math.min(Math.max(v, 0), xMax) / xMax) * w,
    y: (v) => MARGIN.top + h - (Math.min(Math.max(v, 0), yMax) / yMax) * h,
  };
}

const f = (v: number) => v.toFixed(1);

function regions(th: Thresholds, s: PlotScales): string[] {
  const rect = (regime: RegimeLabel, x0: number, x1: number, y0: number, y1: number) => {
    const [left, right, top, bottom] = [s.x(x0), s.x(x1), s.y(y1), s.y(y0)];
    if (right <= left || bottom <= top) return '';
    return `<rect x="${f(left)}" y="${f(top)}" width="${f(right - left)}" height="${f(bottom - top)}" fill="${REGIME_COLORS[regime]}" fill-opacity="0.08"/>`
      + `<text x="${f(left + 4)}" y="${f(top + 14)}" font-size="11" fill="${REGIME_COLORS[regime]}">${regime}</text>`;
  };
  return [
    rect('flowing', 0, th.lowEntropy, 0, th.lowVarentropy),
    rect('treading', th.mediumEntropy, s.xMax, 0, th.lowVarentropy),
    rect('exploring', 0, th.highEntropy, th.highVarentropy, s.yMax),
    rect('resampling', th.highEntropy, s.xMax, th.highVarentropy, s.yMax),
  ];
}

function thresholdLines(th: Thresholds, s: PlotScales, top: number, bottom: number, left: number, right: number): string[] {
  // Entropy labels above the plot on alternating rows (close thresholds would overlap);
  // varentropy labels inside the plot's right edge.
  const v = (value: number, label: string, row: number) => `<line x1="${f(s.x(value))}" y1="${top}" x2="${f(s.x(value))}" y2="${bottom}" class="threshold"/>`
    + `<text x="${f(s.x(value))}" y="${top - 4 - 12 * row}" font-size="10" fill="#555" text-anchor="middle">${label}</text>`;
  const h = (value: number, label: string) => `<line x1="${left}" y1="${f(s.y(value))}" x2="${right}" y2="${f(s.y(value))}" class="threshold"/>`
    + `<text x="${right - 4}" y="${f(s.y(value) - 4)}" font-size="10" fill="#555" text-anchor="end">${label}</text>`;
  return [
    v(th.lowEntropy, `low ${th.lowEntropy}`, 0), v(th.mediumEntropy, `medium ${th.mediumEntropy}`, 1), v(th.highEntropy, `high ${th.highEntropy}`, 0),
    h(th.lowVarentropy, `low ${th.lowVarentropy}`), h(th.highVarentropy, `high ${th.highVarentropy}`),
  ];
}

export function plotSvg(trace: Trace, options: { width?: number; height?: number; title?: string } = {}): string {
  const width = options.width ?? 900;
  const height = options.height ?? 560;
  const s = plotScales(trace, width, height);
  const [left, right, top, bottom] = [MARGIN.left, width - MARGIN.right, MARGIN.top, height - MARGIN.bottom];
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  if (trace.thresholds) parts.push(...regions(trace.thresholds, s));
  // Axes and ticks.
  parts.push(`<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#000"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#000"/>`);
  const xs = tickStep(s.xMax);
  for (let v = 0; v <= s.xMax + 1e-9; v += xs) {
    parts.push(`<line x1="${f(s.x(v))}" y1="${bottom}" x2="${f(s.x(v))}" y2="${bottom + 5}" stroke="#000"/>`
      + `<text x="${f(s.x(v))}" y="${bottom + 18}" font-size="11" text-anchor="middle">${+v.toFixed(2)}</text>`);
  }
  const ys = tickStep(s.yMax);
  for (let v = 0; v <= s.yMax + 1e-9; v += ys) {
    parts.push(`<line x1="${left - 5}" y1="${f(s.y(v))}" x2="${left}" y2="${f(s.y(v))}" stroke="#000"/>`
      + `<text x="${left - 8}" y="${f(s.y(v) + 4)}" font-size="11" text-anchor="end">${+v.toFixed(2)}</text>`);
  }
  parts.push(`<text x="${(left + right) / 2}" y="${height - 12}" font-size="13" text-anchor="middle">entropy (bits)</text>`,
    `<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" font-size="13" text-anchor="middle">varentropy (bits²)</text>`);
  if (trace.thresholds) parts.push(...thresholdLines(trace.thresholds, s, top, bottom, left, right));
  // Tokens.
  let skipped = 0;
  for (const t of trace.tokens) {
    if (!Number.isFinite(t.entropy) || !Number.isFinite(t.varentropy)) {
      skipped++;
      continue;
    }
    const tip = `step ${t.step}, row ${t.row}: ${JSON.stringify(t.text)} (id ${t.tokenId}) ${t.regime}, `
      + `entropy ${t.entropy.toFixed(3)}, varentropy ${t.varentropy.toFixed(3)}`;
    parts.push(`<circle cx="${f(s.x(t.entropy))}" cy="${f(s.y(t.varentropy))}" r="3.5" fill="${REGIME_COLORS[t.regime]}" `
      + `fill-opacity="0.75" class="token ${t.regime}"><title>${escapeXml(tip)}</title></circle>`);
  }
  // Legend with counts.
  const counts = regimeCounts(trace.tokens);
  REGIME_LABELS.filter((r) => r !== 'base' || counts.base > 0).forEach((r, i) => {
    const y = top + 40 + i * 20;
    parts.push(`<circle cx="${right + 20}" cy="${y}" r="5" fill="${REGIME_COLORS[r]}"/>`
      + `<text x="${right + 30}" y="${y + 4}" font-size="12">${r} (${counts[r]})</text>`);
  });
  if (skipped > 0) parts.push(`<text x="${right + 14}" y="${top + 180}" font-size="11" fill="#555">${skipped} without metrics</text>`);
  const title = options.title ?? `Entropix regimes: ${trace.tokens.length} tokens`;
  parts.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" `
    + `viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<style>.threshold { stroke: #555; stroke-dasharray: 5 4; }</style>\n`
    + `${parts.join('\n')}\n</svg>\n`;
}
