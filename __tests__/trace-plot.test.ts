import { SamplerState } from '../lib/sampling/regimes';
import { ANSI_RESET, colorize, colorLegend, REGIME_COLORS } from '../lib/cli/colors';
import { escapeXml, plotScales, plotSvg } from '../lib/cli/plot';
import { regimeCounts, regimeName, Thresholds, Trace, TraceToken, traceToJson } from '../lib/cli/trace';
import { regimeAt, STATE_NAMES } from '../lib/sampling/states';

function token(step: number, state: SamplerState, entropy: number, varentropy: number, text = 'a'): TraceToken {
  return {
    row: 0, step, tokenId: 97, text, state, regime: regimeName(state), logprob: -1,
    entropy, varentropy, attnEntropy: 1, attnVarentropy: 0.1, agreement: 0.2, interactionStrength: 3,
  };
}

const thresholds: Thresholds = { lowEntropy: 1, lowVarentropy: 1, mediumEntropy: 2, highEntropy: 3, highVarentropy: 4 };
function trace(tokens: TraceToken[], withThresholds = true): Trace {
  return {
    version: 1, model: 'm', backend: 'wasm', sampler: withThresholds ? 'entropix' : 'plain', seed: 1,
    thresholds: withThresholds ? thresholds : null, prompts: ['p'], texts: ['t'], finishReasons: ['length'], tokens,
  };
}

// ---- A tiny XML 1.0 well-formedness checker (no dependencies) ----

const NAME = /^[A-Za-z_:][\w.:-]*$/;
const REFERENCE = /&(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);/g;
const INVALID_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function checkCharData(text: string, where: string): void {
  if (text.replace(REFERENCE, '').includes('&')) throw new Error(`unescaped & in ${where}: ${JSON.stringify(text)}`);
  if (text.includes('<')) throw new Error(`raw < in ${where}`);
}

/** Throws unless `xml` is one well-formed element, optionally after an XML declaration. */
function checkXml(xml: string): void {
  if (INVALID_CHAR.test(xml)) throw new Error('character not allowed in XML 1.0');
  let rest = xml.replace(/^<\?xml[^?]*\?>/, '');
  const stack: string[] = [];
  let roots = 0;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const text = lt < 0 ? rest : rest.slice(0, lt);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${JSON.stringify(text)}`);
    checkCharData(text, 'text');
    if (lt < 0) break;
    rest = rest.slice(lt);
    const m = /^<(\/?)([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(rest);
    if (!m) throw new Error(`malformed tag at ${JSON.stringify(rest.slice(0, 40))}`);
    const [all, closing, name, attrs, selfClosing] = m;
    if (!NAME.test(name!)) throw new Error(`bad name ${name}`);
    if (closing) {
      if (attrs || selfClosing) throw new Error(`bad end tag ${all}`);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0 && ++roots > 1) throw new Error('more than one root element');
      const seen = new Set<string>();
      for (const a of attrs!.matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        if (!NAME.test(a[1]!) || seen.has(a[1]!)) throw new Error(`bad or repeated attribute ${a[1]}`);
        seen.add(a[1]!);
        checkCharData(a[2] ?? a[3]!, `attribute ${a[1]}`);
      }
      if (!selfClosing) stack.push(name!);
    }
    rest = rest.slice(all.length);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error('no root element');
}

/** Attributes of every element with the given tag whose attributes match `filter`. */
function elements(svg: string, tag: string, filter: RegExp = /./): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))]
    .filter((m) => filter.test(m[1]!))
    .map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

describe('the XML checker used below', () => {
  test('accepts a small document and rejects each kind of error', () => {
    expect(() => checkXml('<?xml version="1.0"?>\n<a x="1 &amp; 2"><b/><c>t &lt; u</c></a>\n')).not.toThrow();
    for (const bad of ['<a><b></a></b>', '<a>', '<a/><b/>', '<a x="1" x="2"/>', '<a>&</a>', '<a x="&foo"/>', '<a>\u0001</a>', 'x<a/>', '<a x=1/>']) {
      expect(() => checkXml(bad)).toThrow();
    }
  });
});

describe('trace', () => {
  test('regime names follow SamplerState; anything else is base', () => {
    expect([0, 1, 2, 3, 4, 5].map((s) => regimeName(s))).toEqual(['flowing', 'treading', 'exploring', 'resampling', 'adaptive', 'base']);
    expect(regimeName(SamplerState.Resampling)).toBe('resampling');
    expect(regimeName(17 as SamplerState)).toBe('base');
    expect(STATE_NAMES).toEqual(['flowing', 'treading', 'exploring', 'resampling', 'adaptive', 'base']);
  });

  test('regimeCounts counts every label, zeros included, and ignores unknown labels', () => {
    const odd = { ...token(3, SamplerState.Base, 1, 1), regime: 'nonsense' } as unknown as TraceToken;
    const counts = regimeCounts([
      token(0, SamplerState.Flowing, 0, 0), token(1, SamplerState.Flowing, 0, 0), token(2, SamplerState.Adaptive, 2, 2),
      token(3, SamplerState.Base, NaN, NaN), odd,
    ]);
    expect(counts).toEqual({ flowing: 2, treading: 0, exploring: 0, resampling: 0, adaptive: 1, base: 1 });
    expect(regimeCounts([])).toEqual({ flowing: 0, treading: 0, exploring: 0, resampling: 0, adaptive: 0, base: 0 });
  });

  test('traceToJson writes NaN and infinite numbers as null and keeps the token and everything else', () => {
    const t = trace([{ ...token(0, SamplerState.Base, NaN, Infinity), logprob: -Infinity, tokenId: -1 }, token(1, SamplerState.Flowing, 0.5, 0.25)]);
    const out = traceToJson(t);
    expect(out.endsWith('}\n')).toBe(true);
    expect(out).not.toMatch(/NaN|Infinity/);
    const json = JSON.parse(out);
    expect(json.tokens).toHaveLength(2);
    expect(json.tokens[0]).toMatchObject({ entropy: null, varentropy: null, logprob: null, tokenId: -1, attnEntropy: 1, regime: 'base' });
    expect(json.tokens[1]).toEqual(t.tokens[1]);
    expect(json.thresholds).toEqual(thresholds);
    expect(json.seed).toBe(1);
    expect(JSON.parse(traceToJson(trace([], false))).thresholds).toBeNull();
  });
});

describe('plotSvg', () => {
  const tokens = [
    token(0, SamplerState.Flowing, 0.5, 0.5), token(1, SamplerState.Treading, 2.5, 0.5),
    token(2, SamplerState.Exploring, 1, 5), token(3, SamplerState.Resampling, 6, 8), token(4, SamplerState.Adaptive, 1.5, 2),
  ];

  test('is a well-formed standalone SVG with labelled axes', () => {
    const svg = plotSvg(trace(tokens));
    expect(() => checkXml(svg)).not.toThrow();
    expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" /);
    expect(svg).toContain('>entropy (bits)</text>');
    expect(svg).toContain('>varentropy (bits²)</text>');
    expect(elements(svg, 'line', /class="tick x"/).length).toBeGreaterThanOrEqual(3);
    expect(elements(svg, 'line', /class="tick y"/).length).toBeGreaterThanOrEqual(3);
  });

  test('one dot per token, in order, in its regime colour at its mapped position; legend counts', () => {
    const t = trace(tokens);
    const svg = plotSvg(t);
    const s = plotScales(t);
    const dots = elements(svg, 'circle', /class="token /);
    expect(dots).toHaveLength(tokens.length);
    dots.forEach((d, i) => {
      const tok = tokens[i]!;
      expect(d.class).toBe(`token ${tok.regime}`);
      expect(d.fill).toBe(REGIME_COLORS[tok.regime]);
      expect(Number(d.cx)).toBeCloseTo(s.x.px(tok.entropy), 1);
      expect(Number(d.cy)).toBeCloseTo(s.y.px(tok.varentropy), 1);
    });
    expect(new Set(Object.values(REGIME_COLORS)).size).toBe(6);
    for (const r of ['flowing', 'treading', 'exploring', 'resampling', 'adaptive']) expect(svg).toContain(`>${r} (1)</text>`);
    expect(svg).not.toContain('base (');
    const withBase = plotSvg(trace([...tokens, token(5, SamplerState.Base, 1, 1)]));
    expect(withBase).toContain('>base (1)</text>');
    expect(elements(withBase, 'circle', /class="token base"/)[0]!.fill).toBe(REGIME_COLORS.base);
  });

  test('the axis mapping covers data and thresholds with padding, increasing right and up', () => {
    const t = trace(tokens);
    const s = plotScales(t, 900, 560);
    // entropy: data 0.5..6, thresholds 1..3, and 0 → [0, 6] padded by 5% of the span each side.
    expect(s.x.min).toBeCloseTo(-0.3);
    expect(s.x.max).toBeCloseTo(6.3);
    expect(s.y.min).toBeCloseTo(-0.4);
    expect(s.y.max).toBeCloseTo(8.4);
    expect(s.x.px(s.x.min)).toBeCloseTo(s.left);
    expect(s.x.px(s.x.max)).toBeCloseTo(s.right);
    expect(s.y.px(s.y.min)).toBeCloseTo(s.bottom);
    expect(s.y.px(s.y.max)).toBeCloseTo(s.top);
    expect(s.x.px(3) - s.x.px(1)).toBeCloseTo(2 * (s.x.px(2) - s.x.px(1))); // linear
    expect(s.x.px(2)).toBeGreaterThan(s.x.px(1));
    expect(s.y.px(2)).toBeLessThan(s.y.px(1)); // larger varentropy is higher up
    expect(0 < s.left && s.left < s.right && s.right < 900 && 0 < s.top && s.top < s.bottom && s.bottom < 560).toBe(true);
    expect(s.x.ticks).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(s.y.ticks).toEqual([0, 2, 4, 6, 8]);
    // Ticks are drawn where the mapping puts them.
    const xTicks = elements(plotSvg(t, { width: 900, height: 560 }), 'line', /class="tick x"/).map((l) => Number(l.x1));
    expect(xTicks).toEqual(s.x.ticks.map((v) => Number(s.x.px(v).toFixed(1))));
  });

  test('threshold lines are dashed, labelled and sit at the mapped pixel positions', () => {
    const t = trace(tokens);
    const svg = plotSvg(t, { width: 800, height: 500 });
    const s = plotScales(t, 800, 500);
    expect(svg).toMatch(/\.threshold \{[^}]*stroke-dasharray/);
    const lines = elements(svg, 'line', /class="threshold"/);
    expect(lines.map((l) => l['data-threshold']).sort()).toEqual(['highEntropy', 'highVarentropy', 'lowEntropy', 'lowVarentropy', 'mediumEntropy']);
    for (const l of lines) {
      const k = l['data-threshold'] as keyof Thresholds;
      if (k.endsWith('Varentropy')) {
        expect(Number(l.y1)).toBeCloseTo(s.y.px(thresholds[k]), 1);
        expect(l.y2).toBe(l.y1);
        expect([Number(l.x1), Number(l.x2)]).toEqual([s.left, s.right]);
      } else {
        expect(Number(l.x1)).toBeCloseTo(s.x.px(thresholds[k]), 1);
        expect(l.x2).toBe(l.x1);
        expect([Number(l.y2), Number(l.y1)]).toEqual([s.bottom, s.top]);
      }
      expect(svg).toContain(`>${k} ${thresholds[k]}</text>`);
    }
  });

  test('regions: shaded cells classified like the sampler, each regime labelled once', () => {
    expect(regimeAt(0.5, 0.5, thresholds)).toBe('flowing');
    expect(regimeAt(2.5, 0.5, thresholds)).toBe('treading');
    expect(regimeAt(1.5, 0.5, thresholds)).toBe('adaptive');
    expect(regimeAt(2, 5, thresholds)).toBe('exploring');
    expect(regimeAt(4, 5, thresholds)).toBe('resampling');
    expect(regimeAt(4, 2, thresholds)).toBe('adaptive');
    expect(regimeAt(1, 0.5, thresholds)).toBe('adaptive'); // bounds are strict
    const t = trace(tokens);
    const s = plotScales(t);
    const svg = plotSvg(t);
    const rects = elements(svg, 'rect', /class="region /);
    expect(rects.length).toBeGreaterThanOrEqual(5);
    let area = 0;
    for (const r of rects) {
      const [x, y, w, h] = [Number(r.x), Number(r.y), Number(r.width), Number(r.height)];
      area += w * h;
      // The centre of every cell, mapped back to bits, is in the cell's regime.
      const ent = s.x.min + ((x + w / 2 - s.left) / (s.right - s.left)) * (s.x.max - s.x.min);
      const vent = s.y.min + ((s.bottom - (y + h / 2)) / (s.bottom - s.top)) * (s.y.max - s.y.min);
      expect(r.class).toBe(`region ${regimeAt(ent, vent, thresholds)}`);
      expect(r.fill).toBe(REGIME_COLORS[r.class!.slice(7) as keyof typeof REGIME_COLORS]);
    }
    expect(area).toBeCloseTo((s.right - s.left) * (s.bottom - s.top), -2); // the cells tile the plot area
    const labels = [...svg.matchAll(/class="region-label"[^>]*>(\w+)</g)].map((m) => m[1]).sort();
    expect(labels).toEqual(['adaptive', 'exploring', 'flowing', 'resampling', 'treading']);
    // Thresholds out of their usual order still give consistent regions.
    const odd = { ...trace(tokens), thresholds: { lowEntropy: 4, lowVarentropy: 6, mediumEntropy: 1, highEntropy: 0.5, highVarentropy: 2 } };
    const oddSvg = plotSvg(odd);
    expect(() => checkXml(oddSvg)).not.toThrow();
    expect(elements(oddSvg, 'line', /class="threshold"/)).toHaveLength(5);
  });

  test('token text and title are escaped, control characters and lone surrogates included', () => {
    const nasty = `<&>"'\u0000\u0001\u001b[31m\n\uFFFE\uD800</svg>`;
    const svg = plotSvg(trace([token(0, SamplerState.Flowing, 0.2, 0.2, nasty)]), { title: `a < b & "c" 'd' \u0007` });
    expect(() => checkXml(svg)).not.toThrow();
    expect(svg).toContain('<title>a &lt; b &amp; &quot;c&quot; &apos;d&apos; \uFFFD</title>');
    expect(svg).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    const tip = /<circle class="token flowing"[^>]*><title>([^<]*)<\/title>/.exec(svg)![1]!;
    // The tooltip shows the text as a JSON string literal: control characters visible, quotes escaped.
    expect(unescape(tip)).toContain('"<&>\\"\'\\u0000\\u0001\\u001b[31m\\n');
    expect(unescape(tip)).toMatch(/^step 0, row 0: /);
    expect(unescape(tip)).toContain('flowing: entropy 0.200, varentropy 0.200');
    expect(escapeXml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&apos;');
    expect(escapeXml('x\u0001y\uFFFEz\uD800\t\n\r\u{1F600}')).toBe('x\uFFFDy\uFFFDz\uFFFD\t\n\r\u{1F600}');
  });

  test('tokens without metrics are counted in a note, not drawn; null thresholds: no lines or regions', () => {
    const svg = plotSvg(trace([token(0, SamplerState.Base, NaN, NaN), token(1, SamplerState.Base, 1, Infinity), token(2, SamplerState.Base, 1, 1)], false));
    expect(() => checkXml(svg)).not.toThrow();
    expect(elements(svg, 'circle', /class="token /)).toHaveLength(1);
    expect(svg).toContain('>2 not drawn:</text>');
    expect(svg).toContain('>base (3)</text>');
    expect(svg).not.toContain('flowing (');
    expect(svg).not.toContain('class="threshold"');
    expect(svg).not.toContain('class="region');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    expect(plotSvg(trace(tokens))).not.toContain('not drawn');
  });

  test('one token, equal values, no drawable token, odd sizes: finite, sane axes', () => {
    const cases: Trace[] = [
      trace([token(0, SamplerState.Base, 0, 0)], false),
      trace([token(0, SamplerState.Base, 7, 7), token(1, SamplerState.Base, 7, 7)], false),
      trace([token(0, SamplerState.Base, NaN, NaN)], false),
      trace([], false),
      trace([token(0, SamplerState.Flowing, 0, 0)]),
      trace([token(0, SamplerState.Base, -1e-7, 0)], false),
    ];
    for (const t of cases) {
      for (const size of [{}, { width: 300, height: 200 }, { width: NaN, height: -5 }]) {
        const svg = plotSvg(t, size);
        expect(() => checkXml(svg)).not.toThrow();
        expect(svg).not.toMatch(/NaN|Infinity|undefined/);
        const s = plotScales(t, size.width, size.height);
        for (const a of [s.x, s.y]) {
          expect(a.max - a.min).toBeGreaterThanOrEqual(1);
          expect(a.min).toBeLessThan(0); // padded below 0: dots at 0 sit off the axis line
          expect(a.ticks).toContain(0);
          expect(a.ticks.every((v) => v >= a.min && v <= a.max)).toBe(true);
        }
        expect(s.right - s.left).toBeGreaterThan(50);
        expect(s.bottom - s.top).toBeGreaterThan(50);
      }
    }
    const s = plotScales(cases[1]!);
    expect(s.x.max).toBeGreaterThan(7); // the data is inside, with room
    expect(s.x.px(7)).toBeLessThan(s.right);
    expect(plotSvg(cases[3]!)).toContain('plain sampling: 0 tokens');
    expect(plotSvg(cases[0]!)).toContain('plain sampling: 1 token<');
  });
});

describe('colorize', () => {
  const expected: [SamplerState, string][] = [
    [SamplerState.Flowing, '\x1b[32m'], [SamplerState.Treading, '\x1b[33m'], [SamplerState.Exploring, '\x1b[36m'],
    [SamplerState.Resampling, '\x1b[31m'], [SamplerState.Adaptive, '\x1b[35m'],
  ];

  test('each regime has its own colour, reset right after the token', () => {
    for (const [state, code] of expected) expect(colorize('tok en\n', state)).toBe(`${code}tok en\n\x1b[0m`);
    expect(ANSI_RESET).toBe('\x1b[0m');
    expect(new Set(expected.map(([, c]) => c)).size).toBe(5);
    // A stream of coloured tokens: every colour is closed before the next token starts.
    const stream = expected.map(([s]) => colorize('x', s)).join('');
    expect(stream.split('x').slice(1, -1).every((between) => between.startsWith('\x1b[0m'))).toBe(true);
    expect(stream.endsWith('\x1b[0m')).toBe(true);
  });

  test('base, unknown states and empty text stay plain; the legend names each regime in its colour', () => {
    expect(colorize('x', SamplerState.Base)).toBe('x');
    expect(colorize('x', 42 as SamplerState)).toBe('x');
    expect(colorize('', SamplerState.Flowing)).toBe('');
    const legend = colorLegend();
    for (const [state, code] of expected) expect(legend).toContain(`${code}${regimeName(state)}\x1b[0m`);
    expect(legend).not.toContain('base');
  });
});
