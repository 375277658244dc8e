// The converted graph's side of the peer comparison, with ort-run.ts's protocol: the same prompt
// ids, a prefill, then greedy decode with the cache fed back, the logits read after every step.
import { tf } from '../../lib/node';
import type { CausalLM, KVCache } from '../../lib/node';

export interface ProtocolRun { prefillMs: number; stepMs: number[]; tokens: number[] }

/** The benchmarks' fixed prompt: token ids spread over the vocabulary (as ort-run.ts and model.ts). */
export const promptIds = (n: number, vocab: number): number[] => Array.from({ length: n }, (_, i) => (i * 7919 + 17) % vocab);

function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/** One warm-up run (kernels, shapes), then `rounds` timed runs of a prefill and `steps` steps. */
export async function graphRun(model: CausalLM, prompt: number, steps: number, rounds: number): Promise<ProtocolRun[]> {
  const once = async (n: number): Promise<ProtocolRun> => {
    let cache: KVCache | null = null;
    try {
      let ids = tf.tensor2d([promptIds(prompt, model.config.vocabSize)], [1, prompt], 'int32');
      let t0 = performance.now();
      let out = model.forward(ids, null);
      let logits = await out.logits.data();
      const prefillMs = performance.now() - t0;
      cache = out.cache;
      tf.dispose([ids, out.logits, out.attentionScores]);
      const tokens = [argmax(logits)];
      const stepMs: number[] = [];
      for (let s = 0; s < n; s++) {
        ids = tf.tensor2d([[tokens[tokens.length - 1]!]], [1, 1], 'int32');
        t0 = performance.now();
        out = model.forward(ids, cache); // takes the old cache over
        cache = out.cache;
        logits = await out.logits.data();
        stepMs.push(performance.now() - t0);
        tf.dispose([ids, out.logits, out.attentionScores]);
        tokens.push(argmax(logits));
      }
      return { prefillMs, stepMs, tokens };
    } finally {
      cache?.dispose();
    }
  };
  await once(2);
  const runs: ProtocolRun[] = [];
  for (let r = 0; r < rounds; r++) runs.push(await once(steps));
  return runs;
}
