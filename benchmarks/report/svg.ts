// Hand-written SVG charts: grouped bars with whiskers (the spread), on a linear or log axis.
export const COLORS = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface Bar { value: number; low: number; high: number; hatched?: boolean }
export interface BarChart {
  title: string; yLabel: string; log?: boolean;
  groups: string[]; // x-axis categories
  series: { name: string; color?: string; bars: (Bar | null)[] }[]; // one bar per group, or null
  note?: string;
}

const nice = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));

export function barChart(c: BarChart): string {
  const W = 760, H = 380, left = 70, right = 170, top = 40, bottom = 70;
  const plotW = W - left - right, plotH = H - top - bottom;
  const values = c.series.flatMap((s) => s.bars.filter((b): b is Bar => !!b).flatMap((b) => [b.value, b.high, b.low]))
    .filter((v) => Number.isFinite(v) && (!c.log || v > 0));
  const max = Math.max(...values, c.log ? 1 : 0);
  const min = c.log ? Math.min(...values) : 0;
  const lo = c.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = c.log ? 10 ** Math.ceil(Math.log10(max)) : max * 1.1 || 1;
  const y = (v: number) => top + plotH - (c.log
    ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
    : v / hi) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`,
  ];
  const ticks: number[] = [];
  if (c.log) for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  else for (let i = 0; i <= 5; i++) ticks.push((hi / 5) * i);
  for (const t of ticks) {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${nice(t)}</text>`);
  }
  const gw = plotW / Math.max(1, c.groups.length);
  const bw = (gw * 0.8) / Math.max(1, c.series.length);
  c.groups.forEach((g, gi) => {
    out.push(`<text x="${left + gw * (gi + 0.5)}" y="${top + plotH + 18}" text-anchor="middle">${esc(g)}</text>`);
    c.series.forEach((s, si) => {
      const b = s.bars[gi];
      if (!b || !Number.isFinite(b.value)) return;
      const x = left + gw * gi + gw * 0.1 + bw * si;
      const color = s.color ?? COLORS[si % COLORS.length];
      const yv = y(b.value);
      out.push(`<rect x="${x.toFixed(1)}" y="${yv.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(top + plotH - yv).toFixed(1)}" fill="${color}"`
        + `${b.hatched ? ' fill-opacity="0.45" stroke="' + color + '"' : ''}><title>${esc(`${s.name}, ${g}: ${nice(b.value)} (${nice(b.low)}–${nice(b.high)})`)}</title></rect>`);
      const cx = x + (bw - 2) / 2;
      out.push(`<path d="M${cx} ${y(b.low)}V${y(b.high)}M${cx - 3} ${y(b.low)}h6M${cx - 3} ${y(b.high)}h6" stroke="#222"/>`);
    });
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#222"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#222"/>`);
  c.series.forEach((s, si) => {
    const ly = top + 10 + si * 18;
    out.push(`<rect x="${left + plotW + 14}" y="${ly - 9}" width="12" height="12" fill="${s.color ?? COLORS[si % COLORS.length]}"${s.bars.some((b) => b?.hatched) ? ' fill-opacity="0.45"' : ''}/>`,
      `<text x="${left + plotW + 32}" y="${ly + 1}">${esc(s.name)}</text>`);
  });
  if (c.note) out.push(`<text x="${left}" y="${H - 14}" fill="#555">${esc(c.note)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
