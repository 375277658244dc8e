// Entropix on your own model: anything with a vocabulary size, a context length and a forward
// from token ids to next-token logits is a LanguageModel that `generate` drives. This one is
// written by hand in a few lines: a character bigram model counted from one paragraph. It has no
// KV cache (generate then gives it the whole sequence at every step) and no attention scores (the
// sampler then works from the logits alone: entropy and varentropy pick each row's regime, the
// attention metrics read NaN). Run: `node examples/own-model.js` (after `npm ci`).
const { tf, useBackend, generate, EntropixSampler, STATE_NAMES } = require('..');

const TEXT = `in the beginning was the word, and the word was with the sea. the sea was wide and the
wind was on the water, and the light was on the land. and the land was good, and the night was
long, and the stars were many in the wide dark over the water and the land.`.replace(/\s+/g, ' ');
const CHARS = [...new Set(TEXT)].sort();
const encode = (s) => [...s].map((c) => CHARS.indexOf(c));
const decode = (ids) => ids.map((i) => CHARS[i] ?? '').join('');

/** A bigram LanguageModel: logits[v] = log(count(last → v) + 0.01). */
function bigramModel() {
  const V = CHARS.length;
  const counts = new Float32Array(V * V).fill(0.01);
  const ids = encode(TEXT);
  for (let i = 1; i < ids.length; i++) counts[ids[i - 1] * V + ids[i]] += 1;
  const table = tf.log(tf.tensor2d(counts, [V, V]));
  return {
    config: { vocabSize: V, maxPositions: 256 },
    // No cache in, none out; and no attentionScores.
    forward(inputIds) {
      return tf.tidy(() => {
        const [, t] = inputIds.shape;
        const last = tf.reshape(tf.slice(inputIds, [0, t - 1], [-1, 1]), [-1]);
        return { logits: tf.gather(table, last) };
      });
    },
    dispose() { table.dispose(); },
  };
}

async function main() {
  await useBackend('wasm');
  const model = bigramModel();
  // Thresholds set by hand from this model's own entropy (≈ 1–3 bits) and varentropy (≈ 2–3 bits²).
  const sampler = new EntropixSampler({ lowEntropy: 1.8, lowVarentropy: 2, mediumEntropy: 2.5, highEntropy: 3, highVarentropy: 2.2 });
  const prompts = ['the ', 'and the w', 'in '];
  const out = prompts.map(() => []);
  const regimes = {};
  let attnNaN = true;
  const before = tf.memory().numTensors;
  for await (const step of generate(model, prompts.map(encode), { maxNewTokens: 40, sampler, seed: [1, 2, 3] })) {
    step.tokenIds.forEach((id, row) => {
      if (id < 0) return;
      out[row].push(id);
      const name = STATE_NAMES[step.states[row]];
      regimes[name] = (regimes[name] ?? 0) + 1;
      attnNaN &&= Number.isNaN(step.metrics.attnEntropy[row]);
    });
  }
  prompts.forEach((p, row) => console.log(JSON.stringify(p + decode(out[row]))));
  console.log('regimes:', Object.entries(regimes).map(([k, n]) => `${k} ${n}`).join(', '));
  console.log(`attention metrics NaN: ${attnNaN}; tensors left by generate: ${tf.memory().numTensors - before}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
