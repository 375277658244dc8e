import { SamplerState } from '../lib';
import { colorize, colorLegend } from '../lib/cli/colors';
import { escapeXml, plotScales, plotSvg, REGIME_COLORS } from '../lib/cli/plot';
import { regimeCounts, regimeName, Trace, TraceToken, traceToJson } from '../lib/cli/trace';

function token(step: number, state: SamplerState, entropy: number, varentropy: number, text = 'a'): TraceToken {
  return {
    row: 0, step, tokenId: 97, text, state, regime: regimeName(state), logprob: -1,
    entropy, varentropy, attnEntropy: 1, attnVarentropy: 0.1, agreement: 0.2, interactionStrength: 3,
  };
}

const thresholds = { lowEntropy: 1, lowVarentropy: 1, mediumEntropy: 2, highEntropy: 3, highVarentropy: 4 };
function trace(tokens: TraceToken[], withThresholds = true): Trace {
  return {
    version: 1, model: 'm', backend: 'wasm', sampler: withThresholds ? 'entropix' : 'plain', seed: 1,
    thresholds: withThresholds ? thresholds : null, prompts: ['p'], texts: ['t'], finishReasons: ['length'], tokens,
  };
}

/** Tag balance of an XML document (no external parser): every open tag closed in order. */
function expectWellFormed(svg: string): void {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    const [, closing, name, attrs, selfClosing] = m;
    expect(attrs).not.toMatch(/[<&](?!amp;|lt;|gt;|quot;|apos;)/);
    if (selfClosing) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
  // Text between tags holds no raw '<' or unescaped '&'.
  for (const m of body.matchAll(/>([^<]*)</g)) expect(m[1]).not.toMatch(/&(?!amp;|lt;|gt;|quot;|apos;)/);
}

describe('trace', () => {
  test('regime names and counts', () => {
    expect(regimeName(SamplerState.Flowing)).toBe('flowing');
    expect(regimeName(SamplerState.Base)).toBe('base');
    const counts = regimeCounts([token(0, SamplerState.Flowing, 0, 0), token(1, SamplerState.Flowing, 0, 0), token(2, SamplerState.Adaptive, 2, 2)]);
    expect(counts).toEqual({ flowing: 2, treading: 0, exploring: 0, resampling: 0, adaptive: 1, base: 0 });
  });

  test('traceToJson writes NaN and Inf metrics as null and keeps everything else', () => {
    const json = JSON.parse(traceToJson(trace([token(0, SamplerState.Base, NaN, Infinity)])));
    expect(json.tokens[0].entropy).toBeNull();
    expect(json.tokens[0].varentropy).toBeNull();
    expect(json.tokens[0].attnEntropy).toBe(1);
    expect(json.thresholds).toEqual(thresholds);
  });
});

describe('plotSvg', () => {
  const tokens = [
    token(0, SamplerState.Flowing, 0.5, 0.5), token(1, SamplerState.Treading, 2.5, 0.5),
    token(2, SamplerState.Exploring, 1, 5), token(3, SamplerState.Resampling, 6, 8), token(4, SamplerState.Adaptive, 1.5, 2),
  ];

  test('well-formed, one dot per token in its regime colour, legend counts', () => {
    const svg = plotSvg(trace(tokens));
    expectWellFormed(svg);
    const dots = [...svg.matchAll(/<circle [^>]*class="token (\w+)"/g)];
    expect(dots).toHaveLength(tokens.length);
    for (const [i, d] of dots.entries()) {
      expect(d[1]).toBe(tokens[i]!.regime);
      expect(d[0]).toContain(`fill="${REGIME_COLORS[tokens[i]!.regime]}"`);
    }
    expect(svg).toContain('resampling (1)');
    expect(svg).toContain('entropy (bits)');
  });

  test('threshold lines sit where the axis mapping puts the thresholds; dots where their metrics are', () => {
    const t = trace(tokens);
    const svg = plotSvg(t, { width: 900, height: 560 });
    const s = plotScales(t, 900, 560);
    expect(s.xMax).toBeCloseTo(6.6); // 10% above the largest entropy
    expect(s.yMax).toBeCloseTo(8.8);
    const lines = [...svg.matchAll(/<line x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)" class="threshold"/g)];
    expect(lines).toHaveLength(5);
    const verticalX = lines.filter((l) => l[1] === l[3]).map((l) => Number(l[1]));
    expect(verticalX).toEqual([1, 2, 3].map((v) => Number(s.x(v).toFixed(1))));
    const horizontalY = lines.filter((l) => l[2] === l[4]).map((l) => Number(l[2]));
    expect(horizontalY).toEqual([1, 4].map((v) => Number(s.y(v).toFixed(1))));
    const first = /<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*class="token flowing"/.exec(svg)!;
    expect(Number(first[1])).toBeCloseTo(s.x(0.5), 1);
    expect(Number(first[2])).toBeCloseTo(s.y(0.5), 1);
    // Larger entropy is further right; larger varentropy higher up (smaller y).
    expect(s.x(2)).toBeGreaterThan(s.x(1));
    expect(s.y(2)).toBeLessThan(s.y(1));
  });

  test('token text is escaped, control characters included', () => {
    const svg = plotSvg(trace([token(0, SamplerState.Flowing, 0.2, 0.2, `<&>"'\u0001\n`)]), { title: 'a < b & c' });
    expectWellFormed(svg);
    expect(svg).toContain('a &lt; b &amp; c');
    expect(svg).toContain('&lt;&amp;&gt;\\&quot;&apos;');
    expect(svg).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    expect(escapeXml('x\u0001y\uFFFE')).toBe('x\uFFFDy\uFFFD');
  });

  test('tokens without metrics are counted, not drawn; no thresholds: no lines or regions; one token is fine', () => {
    const svg = plotSvg(trace([token(0, SamplerState.Base, NaN, NaN), token(1, SamplerState.Base, 1, 1)], false));
    expectWellFormed(svg);
    expect([...svg.matchAll(/class="token /g)]).toHaveLength(1);
    expect(svg).toContain('1 without metrics');
    expect(svg).not.toContain('class="threshold"');
    expect(svg).not.toContain('fill-opacity="0.08"');
    const single = plotSvg(trace([token(0, SamplerState.Flowing, 0, 0)], false));
    expect(single).not.toContain('NaN');
    expect(plotScales(trace([token(0, SamplerState.Flowing, 0, 0)], false), 900, 560).xMax).toBeCloseTo(1.1);
  });
});

describe('colorize', () => {
  test('each regime has its own colour and a reset; base and empty text stay plain', () => {
    const codes = [SamplerState.Flowing, SamplerState.Treading, SamplerState.Exploring, SamplerState.Resampling, SamplerState.Adaptive]
      .map((s) => colorize('x', s));
    expect(new Set(codes).size).toBe(5);
    for (const c of codes) expect(c).toMatch(/^\x1b\[\d+mx\x1b\[0m$/);
    expect(colorize('x', SamplerState.Base)).toBe('x');
    expect(colorize('', SamplerState.Flowing)).toBe('');
    expect(colorLegend()).toContain('flowing');
  });
});
