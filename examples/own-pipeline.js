// Entropix inside your own tfjs pipeline: your model makes the logits and the attention scores,
// the sampler turns them into tokens. Here "your model" is a toy one-layer attention model with
// random weights (the point is the wiring, not the text): each step it returns next-token logits
// [B, V] and its attention scores [B, H, T] over the keys so far, and the sampler picks each
// row's regime and token without reading anything back. Run: `node examples/own-pipeline.js`.
const { tf, useBackend, EntropixSampler, SamplerState } = require('..');

const VOCAB = 500, DIM = 64, HEADS = 4, STEPS = 12, BATCH = 3;

/** A toy causal model: embeddings, one multi-head attention read-out, tied output. */
function toyModel(seed) {
  const embed = tf.randomNormal([VOCAB, DIM], 0, 1, 'float32', seed);
  const query = tf.randomNormal([DIM, DIM], 0, 0.3, 'float32', seed + 1);
  const output = tf.randomNormal([DIM, VOCAB], 0, 0.4, 'float32', seed + 2);
  return {
    /** ids int32 [B, T] → { logits [B, V], scores [B, H, T] } for the last position. */
    step(ids) {
      return tf.tidy(() => {
        const [b, t] = ids.shape;
        const x = tf.gather(embed, ids); // [B, T, D]
        const last = tf.reshape(tf.slice(x, [0, t - 1, 0], [-1, 1, -1]), [b, DIM]);
        const q = tf.reshape(tf.matMul(last, query), [b, HEADS, 1, DIM / HEADS]);
        const k = tf.transpose(tf.reshape(x, [b, t, HEADS, DIM / HEADS]), [0, 2, 1, 3]);
        const scores = tf.reshape(tf.div(tf.matMul(q, k, false, true), Math.sqrt(DIM / HEADS)), [b, HEADS, t]);
        const context = tf.reshape(tf.matMul(tf.softmax(tf.reshape(scores, [b, HEADS, 1, t])), k), [b, DIM]);
        const logits = tf.matMul(tf.add(context, last), output);
        return { logits, scores };
      });
    },
    dispose() { tf.dispose([embed, query, output]); },
  };
}

async function main() {
  await useBackend(process.argv.includes('--cpu') ? 'cpu' : 'wasm');
  const model = toyModel(1);
  // Thresholds scaled to this toy vocabulary (log2 500 ≈ 9 bits at most).
  const sampler = new EntropixSampler({ lowEntropy: 1.5, lowVarentropy: 6, mediumEntropy: 3.5, highEntropy: 4, highVarentropy: 8 });
  let ids = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [BATCH, 3], 'int32');
  const regimes = [];
  const entropies = [];
  for (let step = 0; step < STEPS; step++) {
    const { logits, scores } = model.step(ids);
    const lastTokens = tf.tidy(() => tf.reshape(tf.slice(ids, [0, ids.shape[1] - 1], [-1, 1]), [BATCH]));
    const { tokens, states, metrics } = sampler.sample(logits, scores, { lastTokens, seed: [10 + step, 20 + step, 30 + step] });
    const next = tf.tidy(() => tf.concat([ids, tf.reshape(tokens, [BATCH, 1])], 1)); // tokens stay on the device
    regimes.push(states); // read later, all at once
    entropies.push(metrics.entropy);
    tf.dispose([logits, scores, lastTokens, tokens, metrics.varentropy, metrics.attnEntropy, metrics.attnVarentropy,
      metrics.agreement, metrics.interactionStrength, ids]);
    ids = next;
  }
  const rows = await ids.array();
  const stateRows = await Promise.all(regimes.map((s) => s.array()));
  const entropyRows = await Promise.all(entropies.map((e) => e.array()));
  rows.forEach((row, r) => {
    console.log(`row ${r}: ${row.join(' ')}`);
    console.log(`  regimes: ${stateRows.map((s) => SamplerState[s[r]]).join(' ')}`);
    console.log(`  entropy: ${entropyRows.map((e) => e[r].toFixed(1)).join(' ')} bits`);
  });
  tf.dispose([ids, ...regimes, ...entropies]);
  model.dispose();
  console.log(`tensors left: ${tf.memory().numTensors}`);
}

main().catch((e) => { console.error(e.message); process.exit(1); });
