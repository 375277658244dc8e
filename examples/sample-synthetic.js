// Entropix on synthetic logits and attention: one batch whose rows land in different regimes.
// Run after `npm ci`: `npm run example` (optionally `-- --backend cpu`).
const { tf, useBackend, EntropixSampler, SamplerState, sampleTokens } = require('..');

const backend = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : 'wasm';
const VOCAB = 2001;

/** Logits whose softmax is `head` followed by `tail` tokens sharing `tailMass`. */
function row(head, tail = 0, tailMass = 0) {
  const x = new Array(VOCAB).fill(-Infinity);
  head.forEach((p, i) => { x[i] = Math.log(p); });
  for (let i = 0; i < tail; i++) x[head.length + i] = Math.log(tailMass / tail) + 0.3 * Math.sin(i);
  return x;
}

async function main() {
  await useBackend(backend);
  const rows = {
    'one obvious token': row([0.999999, 1e-6]),
    '16 equally likely tokens': row(new Array(16).fill(1 / 16)),
    'one likely token, long tail': row([0.9], 2000, 0.1),
    'spread out, long tail': row([0.3], 2000, 0.7),
    'a few plausible tokens': row([0.5, 0.3, 0.2]),
  };
  const logits = tf.tensor2d(Object.values(rows));
  // Attention: 8 heads over 32 keys of which the first 4 are padding (keyMask 0).
  const attention = tf.randomNormal([5, 8, 32], 0, 2, 'float32', 7);
  const keyMask = tf.tidy(() => tf.concat([tf.zeros([5, 4]), tf.ones([5, 28])], 1));

  const sampler = new EntropixSampler({ clarifyingTokenId: 1999 });
  const result = sampler.sample(logits, attention, { keyMask, seed: 42 });
  const [tokens, states] = await Promise.all([result.tokens.data(), result.states.data()]);
  const m = {};
  for (const [k, t] of Object.entries(result.metrics)) m[k] = await t.data();

  console.log(`backend: ${tf.getBackend()}   (token 1999 plays the clarifying token)\n`);
  console.log('row                           regime      token  entropy  varent  attnEnt attnVar  agree  inter');
  Object.keys(rows).forEach((name, i) => {
    const f = (v, w = 7) => v.toFixed(2).padStart(w);
    console.log(`${name.padEnd(30)}${SamplerState[states[i]].padEnd(11)}${String(tokens[i]).padStart(6)} ${f(m.entropy[i], 8)}${f(m.varentropy[i])} ` +
      `${f(m.attnEntropy[i])} ${f(m.attnVarentropy[i])}${f(m.agreement[i])}${f(m.interactionStrength[i])}`);
  });

  // The plain kernel, with one temperature per row.
  const temperature = tf.tensor1d([0, 0.7, 1, 1.5, 2]);
  const plain = sampleTokens(logits, { temperature, topP: 0.9, minP: 0.01 }, 7);
  console.log(`\nplain sampling, T = [0, 0.7, 1, 1.5, 2], top-p 0.9, min-p 0.01: tokens ${Array.from(await plain.data()).join(', ')}`);

  tf.dispose([logits, attention, keyMask, result, temperature, plain]);
  console.log(`tensors left allocated: ${tf.memory().numTensors}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
