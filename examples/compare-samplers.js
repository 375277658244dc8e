// Entropix against plain sampling on the same prompts and seeds: how often each regime fired,
// the mean log-probability of the chosen tokens under the model, and a sample of the text.
// Run after `npm ci`: `node examples/compare-samplers.js [--backend cpu] [--tokens 120]`.
const path = require('node:path');
const { generateText, loadModel, loadTokenizer, useBackend, EntropixSampler, REGIME_NAMES, SamplerState } = require('../dist/node');

const MODEL = path.join(__dirname, '..', 'models', 'kjv-tiny');
const PROMPTS = [
  'And it came to pass, when', 'The LORD is my', 'Then said Jesus unto them,', 'And God said, Let',
  'Hear, O Israel:', 'For the wages of sin', 'And the king said', 'Blessed is the man',
];
const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);

async function run(model, tokenizer, sampler, tokens) {
  const counts = Object.fromEntries([...REGIME_NAMES, 'base'].map((r) => [r, 0]));
  let logprob = 0, n = 0, texts = [];
  const seeds = PROMPTS.map((_, i) => 100 + i);
  for await (const { text, step } of generateText(model, tokenizer, PROMPTS, { maxNewTokens: tokens, sampler, seed: seeds, contextOverflow: 'slide' })) {
    step.tokenIds.forEach((id, row) => {
      if (id < 0) return;
      const s = step.states[row];
      counts[s === SamplerState.Base ? 'base' : REGIME_NAMES[s]]++;
      logprob += step.logprobs[row];
      n++;
    });
    texts = text;
  }
  return { counts, meanLogprob: logprob / n, tokens: n, texts };
}

async function main() {
  await useBackend(arg('--backend', 'wasm'));
  const tokens = Number(arg('--tokens', '120'));
  const model = await loadModel(MODEL);
  const tokenizer = await loadTokenizer(MODEL);
  const entropix = new EntropixSampler(model.generationDefaults.sampler);
  const { temperature, topK, topP, minP } = entropix.config;
  const samplers = { entropix, plain: { temperature, topK, topP, minP } };
  for (const [name, sampler] of Object.entries(samplers)) {
    const r = await run(model, tokenizer, sampler, tokens);
    const shares = Object.entries(r.counts).filter(([, c]) => c > 0)
      .map(([regime, c]) => `${regime} ${((100 * c) / r.tokens).toFixed(1)}%`).join(', ');
    console.log(`${name.padEnd(9)} ${r.tokens} tokens, mean log p(token) ${r.meanLogprob.toFixed(3)} nats; ${shares}`);
    console.log(`          "${PROMPTS[0]}${r.texts[0].split('\n')[0]}"\n`);
  }
  model.dispose();
}

main().catch((e) => { console.error(e.message); process.exit(1); });
