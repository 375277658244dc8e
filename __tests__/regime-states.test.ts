// One regime table: the sampler's decision (compileRegimes/decideRegimes), the CLI plot's regions
// and the names, colours and config all derive from lib/sampling/states.ts.
import { tf, useBackend, SamplerState, REGIME_NAMES, RegimeName, resolveSamplerConfig, SamplerConfig } from '../lib';
import { compileRegimes, decideRegimes } from '../lib/sampling/regimes';
import {
  regimeAt,
  regimeConditions,
  regimeState,
  STATE_NAMES,
  stateName,
  RegimeThresholds,
} from '../lib/sampling/states';
import { ANSI_CODES, REGIME_COLORS } from '../lib/cli/colors';
import { plotScales, plotSvg } from '../lib/cli/plot';
import type { Trace } from '../lib/cli/trace';

const THRESHOLD_KEYS = ['lowEntropy', 'lowVarentropy', 'mediumEntropy', 'highEntropy', 'highVarentropy'] as const;
const pick = (c: RegimeThresholds): RegimeThresholds =>
  Object.fromEntries(THRESHOLD_KEYS.map((k) => [k, c[k]])) as unknown as RegimeThresholds;
const fround = (th: RegimeThresholds): RegimeThresholds =>
  Object.fromEntries(THRESHOLD_KEYS.map((k) => [k, Math.fround(th[k])])) as unknown as RegimeThresholds;

/** Each threshold, a little either side, the midpoints between them, and 0 and beyond the largest. */
function axisValues(thresholds: number[]): number[] {
  const sorted = [...new Set(thresholds)].sort((a, b) => a - b);
  const out = [0, -1, sorted[sorted.length - 1]! + 3];
  sorted.forEach((t, i) => {
    out.push(t, t - 0.01, t + 0.01);
    if (i + 1 < sorted.length) out.push((t + sorted[i + 1]!) / 2);
  });
  return out.map(Math.fround);
}

function grid(th: RegimeThresholds): [number, number][] {
  const xs = axisValues([th.lowEntropy, th.mediumEntropy, th.highEntropy]);
  const ys = axisValues([th.lowVarentropy, th.highVarentropy]);
  return xs.flatMap((x) => ys.map((y) => [x, y] as [number, number]));
}

/** The sampler's states for (entropy, varentropy) rows with fixed attention metrics and a usable logit. */
function decide(config: Partial<SamplerConfig>, points: [number, number][]): number[] {
  const table = compileRegimes(resolveSamplerConfig(config));
  return tf.tidy(() => {
    const m = tf.tensor2d(points.map(([e, v]) => [e, v, 1, 0.1, 0.2, 3, 1]));
    return Array.from(decideRegimes(table, m).states.dataSync());
  });
}

const CONFIGS: Partial<SamplerConfig>[] = [
  {}, // Entropix's defaults
  { lowEntropy: 1, lowVarentropy: 1, mediumEntropy: 2, highEntropy: 3, highVarentropy: 4 },
  { lowEntropy: 4, lowVarentropy: 6, mediumEntropy: 1, highEntropy: 0.5, highVarentropy: 2 }, // out of order
  { lowEntropy: 2, lowVarentropy: 2, mediumEntropy: 2, highEntropy: 2, highVarentropy: 2 }, // all equal
];

describe('one regime table', () => {
  beforeAll(() => useBackend('cpu'));

  test.each(CONFIGS.map((c, i) => [i, c] as const))(
    'plot condition == sampler decision on a grid of (entropy, varentropy), thresholds %i',
    (_i, config) => {
      const th = fround(pick(resolveSamplerConfig(config)));
      const points = grid(th);
      const states = decide(config, points);
      const seen = new Set<string>();
      points.forEach(([e, v], i) => {
        const name = regimeAt(e, v, th);
        seen.add(name);
        expect([e, v, name]).toEqual([e, v, stateName(states[i]!)]);
      });
      expect(seen.size).toBe(5); // the grid meets every regime
    },
  );

  test('switched-off regimes: the conditions fall through as in the sampler', () => {
    const subsets: RegimeName[][] = [
      [],
      ['adaptive'],
      ['flowing', 'resampling'],
      ['treading', 'exploring'],
      [...REGIME_NAMES],
    ];
    for (const enabledRegimes of subsets) {
      const config = { enabledRegimes };
      const th = fround(pick(resolveSamplerConfig(config)));
      const points = grid(th);
      const states = decide(config, points);
      points.forEach(([e, v], i) =>
        expect([e, v, regimeAt(e, v, th, enabledRegimes)]).toEqual([e, v, stateName(states[i]!)]),
      );
    }
  });

  test("the plot's shaded region under a grid of points is the sampler's decision there", () => {
    for (const config of CONFIGS.slice(0, 3)) {
      const th = pick(resolveSamplerConfig(config));
      const trace: Trace = {
        version: 1,
        model: 'm',
        backend: 'cpu',
        sampler: 'entropix',
        seed: 1,
        thresholds: th,
        prompts: [],
        texts: [],
        finishReasons: [],
        tokens: [],
      };
      const svg = plotSvg(trace);
      const s = plotScales(trace);
      const rects = [
        ...svg.matchAll(/<rect class="region (\w+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g),
      ].map((m) => ({ regime: m[1]!, x: Number(m[2]), y: Number(m[3]), w: Number(m[4]), h: Number(m[5]) }));
      expect(rects.length).toBeGreaterThanOrEqual(5);
      // Points strictly inside the plot and at least 2 px from any cell edge (edges are rounded to 0.1 px).
      const points: [number, number][] = [];
      for (let i = 1; i < 40; i++) {
        for (let j = 1; j < 40; j++) {
          points.push([s.x.min + (i / 40) * (s.x.max - s.x.min), s.y.min + (j / 40) * (s.y.max - s.y.min)]);
        }
      }
      const inner = points.filter(([e, v]) => {
        const [px, py] = [s.x.px(e), s.y.px(v)];
        return rects.some((r) => px > r.x + 2 && px < r.x + r.w - 2 && py > r.y + 2 && py < r.y + r.h - 2);
      });
      expect(inner.length).toBeGreaterThan(points.length / 2);
      const states = decide(config, inner);
      inner.forEach(([e, v], i) => {
        const [px, py] = [s.x.px(e), s.y.px(v)];
        const cell = rects.find((r) => px > r.x && px < r.x + r.w && py > r.y && py < r.y + r.h)!;
        expect([e, v, cell.regime]).toEqual([e, v, stateName(states[i]!)]);
      });
    }
  });

  test('names, states, config and colours come from the one list', () => {
    expect(REGIME_NAMES).toEqual(['flowing', 'treading', 'exploring', 'resampling', 'adaptive']);
    expect(STATE_NAMES).toEqual([...REGIME_NAMES, 'base']);
    expect([
      SamplerState.Flowing,
      SamplerState.Treading,
      SamplerState.Exploring,
      SamplerState.Resampling,
      SamplerState.Adaptive,
      SamplerState.Base,
    ]).toEqual([0, 1, 2, 3, 4, 5]);
    REGIME_NAMES.forEach((name, i) => expect(regimeState(name)).toBe(i));
    expect([stateName(5), stateName(-1), stateName(1.5), stateName(NaN)]).toEqual(['base', 'base', 'base', 'base']);
    expect(resolveSamplerConfig({}).enabledRegimes).toEqual(REGIME_NAMES);
    expect(Object.keys(regimeConditions(resolveSamplerConfig({})))).toEqual(REGIME_NAMES);
    expect(Object.keys(REGIME_COLORS)).toEqual(STATE_NAMES);
    expect(Object.keys(ANSI_CODES).map(Number)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ANSI_CODES[SamplerState.Base]).toBe('');
  });

  test('a NaN metric meets no condition (the sampler gives such a row Base)', () => {
    const th = pick(resolveSamplerConfig({}));
    expect(regimeAt(NaN, 0, th)).toBe('base');
    expect(regimeAt(0, NaN, th)).toBe('base');
  });
});
