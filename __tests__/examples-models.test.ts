// The "any model" examples run as a user runs them (node examples/…, against dist/): a hand-written
// LanguageModel through generate, and a trained tf.LayersModel driving the sampler from logits alone.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

function run(example: string): string[] {
  const child = spawnSync(process.execPath, [path.join(__dirname, '..', 'examples', example)], { encoding: 'utf8', timeout: 40_000 });
  if (child.status !== 0) throw new Error(`${example} failed (${child.status}): ${child.stderr.slice(-2000)}`);
  return child.stdout.trim().split('\n');
}

test('own-model.js: a bigram model with no cache and no attention scores generates through generate', () => {
  const lines = run('own-model.js');
  const texts = lines.slice(0, 3).map((l) => JSON.parse(l) as string);
  ['the ', 'and the w', 'in '].forEach((prompt, i) => {
    expect(texts[i]!.startsWith(prompt)).toBe(true);
    expect(texts[i]!.length).toBeGreaterThan(prompt.length + 10);
  });
  const regimes = lines.find((l) => l.startsWith('regimes:'))!;
  expect(regimes.split(',').length).toBeGreaterThanOrEqual(2); // more than one regime was taken
  expect(lines).toContain('attention metrics NaN: true; tensors left by generate: 0');
}, 45_000);

test('layers-model.js: a tf.LayersModel trained in the example, sampled from its logits alone', () => {
  const lines = run('layers-model.js');
  const m = /loss ([\d.]+) → ([\d.]+) nats/.exec(lines[0]!);
  expect(m).not.toBeNull();
  expect(Number(m![2])).toBeLessThan(0.5 * Number(m![1])); // it learned
  const texts = lines.slice(1, 4).map((l) => JSON.parse(l) as string);
  ['the wi', 'and th', 'in the'].forEach((prompt, i) => expect(texts[i]).toMatch(new RegExp(`^${prompt}.{60}$`)));
  // Words of the training text come out, not noise.
  expect(texts.join(' ')).toMatch(/\b(the|and|was)\b/);
  expect(lines.find((l) => l.startsWith('regimes:'))).toBeDefined();
  expect(lines).toContain('tensors left by the loop: 0');
}, 45_000);
