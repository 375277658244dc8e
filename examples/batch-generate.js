// Batched generation on the bundled model: several prompts of different lengths run as one
// left-padded batch, each row with its own seed and its own regime at every step.
// Run after `npm ci`: `node examples/batch-generate.js [--backend cpu]`.
const path = require('node:path');
const { generateText, loadModel, loadTokenizer, useBackend, REGIME_NAMES, SamplerState } = require('../dist/node');

const MODEL = path.join(__dirname, '..', 'models', 'kjv-tiny');
const PROMPTS = ['In the beginning', 'And the LORD spake unto Moses, saying,', 'Blessed are the'];

async function main() {
  const backend = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : 'wasm';
  await useBackend(backend);
  const model = await loadModel(MODEL);
  const tokenizer = await loadTokenizer(MODEL);
  const counts = PROMPTS.map(() => ({}));
  let last;
  const started = Date.now();
  // One seed per row: row i's text depends only on seeds[i], alone or in any batch.
  for await (const { text, step } of generateText(model, tokenizer, PROMPTS, { maxNewTokens: 160, seed: [1, 2, 3], contextOverflow: 'slide' })) {
    step.states.forEach((s, row) => {
      if (step.tokenIds[row] < 0) return;
      const name = s === SamplerState.Base ? 'base' : REGIME_NAMES[s];
      counts[row][name] = (counts[row][name] || 0) + 1;
    });
    last = { text, step };
  }
  console.log(`${backend}: ${((Date.now() - started) / 1000).toFixed(1)} s for ${PROMPTS.length} rows\n`);
  PROMPTS.forEach((prompt, row) => {
    console.log(`[${row}] ${prompt}${last.text[row]}`);
    console.log(`    finished: ${last.step.finishReason[row]}; regimes: ${JSON.stringify(counts[row])}\n`);
  });
  model.dispose();
}

main().catch((e) => { console.error(e.message); process.exit(1); });
