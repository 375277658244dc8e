// Entropix in a plain TF.js pipeline: a tf.LayersModel you already have makes the logits, the
// sampler picks each row's regime and token on the device, from the logits alone (a Layers model
// exposes no attention scores). Here the model is a small character model built and trained in
// the example in a few seconds (@tensorflow/tfjs-layers, on the same tfjs-core as this package).
// Run: `node examples/layers-model.js` (after `npm ci`).
const { tf, useBackend, EntropixSampler, STATE_NAMES } = require('..');
const layers = require('@tensorflow/tfjs-layers');

const TEXT = `in the beginning was the word, and the word was with the sea. the sea was wide and the wind
was on the water, and the light was on the land. and the land was good, and the night was long,
and the stars were many in the wide dark over the water and the land. and the wind was on the sea,
and the sea was on the land, and the word was good.`.replace(/\s+/g, ' ');
const CHARS = [...new Set(TEXT)].sort();
const V = CHARS.length;
const WINDOW = 6;
const encode = (s) => [...s].map((c) => CHARS.indexOf(c));
const decode = (ids) => ids.map((i) => CHARS[i] ?? '').join('');

/**
 * The last WINDOW characters, one-hot → dense → dense logits over the next character. (One-hot
 * rather than an embedding layer: the embedding's gradient, UnsortedSegmentSum, has no wasm kernel.)
 */
function buildModel() {
  const model = layers.sequential();
  model.add(layers.layers.dense({ inputShape: [WINDOW * V], units: 96, activation: 'relu' }));
  model.add(layers.layers.dense({ units: V })); // logits: no softmax, the sampler takes raw logits
  model.compile({ optimizer: tf.train.adam(0.01), loss: (y, logits) => tf.losses.softmaxCrossEntropy(y, logits) });
  return model;
}

/** ids int32 [B, WINDOW] → the model's input [B, WINDOW·V]. */
const features = (ids) => tf.reshape(tf.oneHot(ids, V), [ids.shape[0], WINDOW * V]);

async function train(model) {
  const ids = encode(TEXT);
  const xs = [];
  const ys = [];
  for (let i = WINDOW; i < ids.length; i++) {
    xs.push(ids.slice(i - WINDOW, i));
    ys.push(ids[i]);
  }
  const x = tf.tidy(() => features(tf.tensor2d(xs, [xs.length, WINDOW], 'int32')));
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(ys, 'int32'), V));
  const history = await model.fit(x, y, { epochs: 40, batchSize: 64, shuffle: true, verbose: 0 });
  tf.dispose([x, y]);
  return history.history.loss;
}

async function main() {
  await useBackend('wasm');
  tf.util.assert(layers.sequential().constructor.name === 'Sequential', () => 'tfjs-layers did not load');
  const model = buildModel();
  const started = Date.now();
  const loss = await train(model);
  console.log(`trained ${model.countParams()} weights in ${((Date.now() - started) / 1000).toFixed(1)} s: loss ${loss[0].toFixed(2)} → ${loss[loss.length - 1].toFixed(2)} nats`);

  // Thresholds for a vocabulary of about 30 characters (log2 30 ≈ 5 bits at most).
  const sampler = new EntropixSampler({ lowEntropy: 0.3, lowVarentropy: 0.3, mediumEntropy: 1.5, highEntropy: 2.5, highVarentropy: 2.5 });
  const prompts = ['the wi', 'and th', 'in the'];
  const B = prompts.length;
  const before = tf.memory().numTensors;
  let window = tf.tensor2d(prompts.map(encode), [B, WINDOW], 'int32');
  const tokens = [];
  const states = [];
  for (let step = 0; step < 60; step++) {
    // The pipeline step: the model's logits → the sampler → the next window, all on the device.
    const s = tf.tidy(() => {
      const logits = model.predict(features(window));
      return sampler.sample(logits, null, { seed: [step, 100 + step, 200 + step] });
    });
    const next = tf.tidy(() => tf.concat([tf.slice(window, [0, 1], [-1, -1]), tf.reshape(s.tokens, [B, 1])], 1));
    tokens.push(s.tokens);
    states.push(s.states);
    tf.dispose([window, s.metrics]);
    window = next;
  }
  // One read at the end.
  const [ids, regimeIds] = await Promise.all([tf.stack(tokens, 1), tf.stack(states, 1)].map(async (t) => {
    const values = await t.array();
    t.dispose();
    return values;
  }));
  const regimes = regimeIds.flat().map((s) => STATE_NAMES[s]);
  tf.dispose([tokens, states, window]);
  prompts.forEach((p, row) => console.log(JSON.stringify(p + decode(ids[row]))));
  const shares = {};
  for (const r of regimes) shares[r] = (shares[r] ?? 0) + 1;
  console.log('regimes:', Object.entries(shares).map(([k, n]) => `${k} ${n}`).join(', '));
  console.log(`tensors left by the loop: ${tf.memory().numTensors - before}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
