// `entropix calibrate` as shipped (dist/cli/main.js, spawned with node, wasm) on the bundled
// model: the 24 held-out windows its thresholds came from (__tests__/fixtures/calibrate) give
// them back; --write keeps entropix.json's other fields; bad corpora and flags are refused.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EntropixError, tf } from '../lib';
import { parseQuantiles, readCorpus } from '../lib/cli/calibrate-command';
import { resolveSamplerConfig } from '../lib/sampling/config';
import { DIST_CLI, ROOT, requireFreshDist } from './helpers/dist';
import { writeCheckpoint } from './helpers/hf-writer';
import { randomModel, SHAPE } from './helpers/llama-reference';

const MODEL = path.join(ROOT, 'models', 'kjv-tiny');
const FIXTURE = path.join(__dirname, 'fixtures', 'calibrate', 'kjv-heldout-windows.txt');
const SHIPPED = JSON.parse(fs.readFileSync(path.join(MODEL, 'entropix.json'), 'utf8'));
const THRESHOLDS = ['lowEntropy', 'lowVarentropy', 'mediumEntropy', 'highEntropy', 'highVarentropy'] as const;
/**
 * Batched, left-padded runs are not bitwise equal to the one-row runs that made the shipped
 * thresholds; measured: metrics within 3e-5, unrounded thresholds within 1e-6 (so the same after
 * rounding to 0.001). Allowed: one unit of the written rounding.
 */
const TOLERANCE = 0.001;

function entropix(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [DIST_CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function printedThresholds(stdout: string): Record<string, number> {
  const line = /^thresholds \(quantiles [^)]*\): (.*)$/m.exec(stdout);
  if (!line) throw new Error(`no thresholds line in:\n${stdout}`);
  return Object.fromEntries(line[1]!.split(', ').map((kv) => kv.split(' ')).map(([k, v]) => [k, Number(v)]));
}

let tmp: string;
let model: string;
beforeAll(() => {
  requireFreshDist();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entropix-calibrate-'));
  // A copy to write into, whose entropix.json carries fields of its own that --write must keep.
  model = path.join(tmp, 'kjv-tiny');
  fs.cpSync(MODEL, model, { recursive: true });
  const json = { ...SHIPPED, sampler: { ...SHIPPED.sampler, temperature: 0.7, topK: 31 }, note: 'kept' };
  fs.writeFileSync(path.join(model, 'entropix.json'), JSON.stringify(json, null, 2));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the 24 held-out windows give back the shipped thresholds; --write keeps the other fields; --plot draws every position', () => {
  const plot = path.join(tmp, 'plane.svg');
  const before = fs.readdirSync(model).sort();
  const r = entropix(['calibrate', model, '--corpus', FIXTURE, '--window', '120', '--batch', '24', '--write', '--plot', plot]);
  expect(r.stderr).toMatch(/\[#{30}\] 100% 2856\/2856 positions of kjv-heldout-windows\.txt\n/); // the progress bar
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^2856 positions: 24 windows of up to 120 tokens, 2880 of the corpus' 2880 tokens/);
  const printed = printedThresholds(r.stdout);
  for (const k of THRESHOLDS) expect(Math.abs(printed[k]! - SHIPPED.sampler[k])).toBeLessThanOrEqual(TOLERANCE);

  // Shares of the teacher-forced decisions: one per regime, adding up to 100 %.
  const shares = /^regimes on this text \(teacher-forced, no attention gates\): (.*)$/m.exec(r.stdout)![1]!;
  const percent = Object.fromEntries(shares.split(', ').map((s) => /^(\w+) ([\d.]+) %$/.exec(s)!.slice(1)).map(([k, v]) => [k, Number(v)]));
  expect(Object.keys(percent)).toEqual(['flowing', 'treading', 'exploring', 'resampling', 'adaptive']);
  expect(Object.values(percent).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
  expect(percent.flowing).toBeGreaterThan(20); // below both medians: about a third of the bytes

  const written = JSON.parse(fs.readFileSync(path.join(model, 'entropix.json'), 'utf8'));
  for (const k of THRESHOLDS) expect(written.sampler[k]).toBe(printed[k]);
  expect(written.sampler).toMatchObject({ temperature: 0.7, topK: 31 });
  expect(written.note).toBe('kept');
  expect(resolveSamplerConfig(written.sampler)).toMatchObject(printed); // the model still loads with it
  expect(written.eosTokenIds).toEqual(SHIPPED.eosTokenIds);
  expect(written.calibration).toMatchObject({ positions: 2856, windows: 24, window: 120, corpus: 'kjv-heldout-windows.txt' });
  for (let i = 0; i < 6; i++) {
    expect(Math.abs(written.calibration.entropyQuantiles[i] - SHIPPED.calibration.entropyQuantiles[i])).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(written.calibration.varentropyQuantiles[i] - SHIPPED.calibration.varentropyQuantiles[i])).toBeLessThanOrEqual(TOLERANCE);
  }
  expect(fs.readdirSync(model).sort()).toEqual(before); // no temporary file left, nothing else written

  const svg = fs.readFileSync(plot, 'utf8');
  expect([...svg.matchAll(/<circle class="token /g)]).toHaveLength(2856);
  for (const k of THRESHOLDS) expect(svg).toContain(`data-threshold="${k}"`);
  expect(svg).toContain(`lowEntropy ${printed.lowEntropy}`);
}, 60_000);

test('without --write nothing is written; --max-tokens spreads fewer windows over the text', () => {
  const json = fs.readFileSync(path.join(model, 'entropix.json'), 'utf8');
  const r = entropix(['calibrate', model, '--corpus', FIXTURE, '--window', '40', '--max-tokens', '80', '--quantiles', '25,50,75']);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^78 positions: 2 windows of up to 40 tokens, 80 of the corpus' 2880 tokens/);
  expect(r.stdout).toMatch(/^thresholds \(quantiles 25 \/ 50 \/ 75 %\)/m);
  expect(r.stdout).toMatch(/not written: --write puts them into/);
  expect(fs.readFileSync(path.join(model, 'entropix.json'), 'utf8')).toBe(json);
}, 30_000);

test('a Hugging Face checkpoint without entropix.json: --write creates one from its derived defaults', async () => {
  const { arrays, weights } = randomModel(SHAPE, 3);
  tf.dispose(weights as unknown as tf.TensorContainer);
  const hf = path.join(tmp, 'hf');
  await writeCheckpoint(hf, arrays); // vocabulary 37, context 64, eos ids [2, 3]
  const vocab = Object.fromEntries([...Array.from({ length: 36 }, (_, i) => [`w${i}`, i]), ['[UNK]', 36]]);
  const writeTokenizer = (model: object) => fs.writeFileSync(path.join(hf, 'tokenizer.json'), JSON.stringify({
    version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '[UNK]', ...model },
  }));
  writeTokenizer({});
  const corpus = path.join(tmp, 'words.txt');
  fs.writeFileSync(corpus, Array.from({ length: 90 }, (_, i) => `w${(i * 7) % 36}`).join(' '));
  const r = entropix(['calibrate', hf, '--corpus', corpus, '--window', '30', '--write']);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^87 positions: 3 windows of up to 30 tokens, 90 of the corpus' 90 tokens/);
  const written = JSON.parse(fs.readFileSync(path.join(hf, 'entropix.json'), 'utf8'));
  const printed = printedThresholds(r.stdout);
  expect(written.sampler).toEqual(printed);
  expect(written.eosTokenIds).toEqual([2, 3]);
  // A random model is unsure everywhere: entropies near log2(37) = 5.2 bits.
  expect(printed.lowEntropy).toBeGreaterThan(3);
  // A word the vocabulary lacks is [UNK]; when the unk token is missing from the vocabulary too
  // (tokenizers refuses the word), or the tokenizer gives an id past the model's, calibrate refuses in one line.
  fs.writeFileSync(corpus, 'w1 w2 unknown w3');
  writeTokenizer({ unk_token: '[NOPE]' });
  const unknown = entropix(['calibrate', hf, '--corpus', corpus]);
  expect([unknown.status, unknown.stdout]).toEqual([1, '']);
  expect(unknown.stderr).toMatch(/^entropix: error: --corpus \S+words\.txt: text: "unknown" is not in the tokenizer's vocabulary, and its unk_token "\[NOPE\]" is not either\n$/);
  writeTokenizer({ vocab: { ...vocab, unknown: 40 } });
  const past = entropix(['calibrate', hf, '--corpus', corpus]);
  expect(past.status).toBe(1);
  expect(past.stderr).toMatch(/^entropix: error: --corpus \S+words\.txt: the tokenizer gives 40 for token 2, not an id of the model's 37-token vocabulary\n$/);
}, 30_000);

describe('refusals: one line on stderr, nothing on stdout, nothing written', () => {
  const corpora: Record<string, string | Buffer> = {
    'empty.txt': '',
    'blank.txt': ' \n\t\n',
    'binary.bin': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    'latin1.txt': Buffer.from('caf\xe9 au lait', 'latin1'),
    'short.txt': 'A',
  };
  beforeAll(() => {
    for (const [name, data] of Object.entries(corpora)) fs.writeFileSync(path.join(tmp, name), data);
  });

  test('readCorpus refuses what is not a text file, naming why', () => {
    const why = (file: string) => {
      try {
        readCorpus(file);
      } catch (e) {
        expect(e).toBeInstanceOf(EntropixError);
        return (e as Error).message;
      }
      throw new Error(`${file} was read`);
    };
    expect(why('/nonexistent/corpus.txt')).toBe('cannot read --corpus /nonexistent/corpus.txt: no such file');
    expect(why(path.join(tmp, 'empty.txt'))).toMatch(/empty\.txt is empty$/);
    expect(why(path.join(tmp, 'blank.txt'))).toMatch(/blank\.txt is empty \(only whitespace\)$/);
    expect(why(path.join(tmp, 'binary.bin'))).toMatch(/binary\.bin is not text: it holds NUL bytes/);
    expect(why(path.join(tmp, 'latin1.txt'))).toMatch(/latin1\.txt is not text: it is not valid UTF-8/);
    expect(why(tmp)).toMatch(/: it is not a regular file$/);
    expect(readCorpus(FIXTURE)).toHaveLength(2940);
  });

  test('parseQuantiles takes three ordered percentages', () => {
    expect(parseQuantiles('50,80,90')).toEqual({ low: 0.5, medium: 0.8, high: 0.9 });
    expect(parseQuantiles(' 0, 12.5 ,100')).toEqual({ low: 0, medium: 0.125, high: 1 });
    for (const bad of ['50,80', '50,80,90,95', '90,80,50', '50,80,101', '-5,80,90', '50,eighty,90', '', '5e1,80,90']) {
      expect(parseQuantiles(bad)).toMatch(/^--quantiles must be three percentages low,medium,high/);
    }
  });

  // TMP and MODEL stand for the temporary directory and the model copy (made in beforeAll).
  test.each([
    ['a missing corpus', 'MODEL', ['--corpus', '/nonexistent/corpus.txt'], /cannot read --corpus \/nonexistent\/corpus\.txt: no such file/],
    ['a binary corpus', 'MODEL', ['--corpus', 'TMP/binary.bin'], /binary\.bin is not text: it holds NUL bytes/],
    ['an empty corpus', 'MODEL', ['--corpus', 'TMP/empty.txt'], /--corpus \S+empty\.txt is empty$/m],
    ['a one-token corpus', 'MODEL', ['--corpus', 'TMP/short.txt'], /short\.txt has 1 token; calibration needs at least 2/],
    ['a window longer than the context', 'MODEL', ['--corpus', FIXTURE, '--window', '129'], /--window 129 is longer than the model's context of 128/],
    ['--batch 0.5', 'MODEL', ['--corpus', FIXTURE, '--batch', '0.5'], /--batch must be an integer of at least 1, got 0.5/],
    ['a plot inside the model', 'MODEL', ['--corpus', FIXTURE, '--plot', 'MODEL/plane.svg'], /cannot write --plot \S+: it is inside the model directory/],
    ['a directory without a model', 'TMP', ['--corpus', FIXTURE], /has neither model\.json \(a converted model\) nor config\.json/],
  ])('%s (exit 1)', (_, dir, extra, message) => {
    const json = fs.readFileSync(path.join(model, 'entropix.json'), 'utf8');
    const place = (a: string) => a.replace(/^TMP/, tmp).replace(/^MODEL/, model);
    const r = entropix(['calibrate', place(dir), ...extra.map(place), '--write']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^entropix: error: [^\n]*\n$/); // one line, no stack trace
    expect(r.status).toBe(1);
    expect(fs.readFileSync(path.join(model, 'entropix.json'), 'utf8')).toBe(json);
  });

  test.each([
    ['two quantiles', ['--quantiles', '50,80']],
    ['quantiles out of order', ['--quantiles', '90,80,50']],
    ['--quantiles twice', ['--quantiles', '50,80,90', '--quantiles', '40,80,90']],
    ['no --corpus', []],
  ])('%s is a usage error (exit 2) before any output', (_, extra) => {
    const withCorpus = extra.length === 0 ? [] : ['--corpus', FIXTURE];
    const r = entropix(['calibrate', model, ...withCorpus, ...extra]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^entropix: .*\n\(see entropix --help\)\n$/);
    if (extra.length === 2) expect(r.stderr).toMatch(/--quantiles must be three percentages low,medium,high/);
  });
});
