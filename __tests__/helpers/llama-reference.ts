// A seeded random Llama model and a float64 reference forward, written from the Hugging Face
// modeling code's definitions, shared by the model tests.
import { tf } from '../../lib';
import type { LlamaShape, LlamaWeights } from '../../lib/models/llama';
import { assembleWeights, fuseWeight, llamaWeightSpecs } from '../../lib/models/llama-tensors';
import { hfTensors } from './hf-writer';

export const SHAPE: LlamaShape = {
  vocabSize: 37, hiddenSize: 24, numLayers: 2, numHeads: 6, numKvHeads: 2, headDim: 8,
  intermediateSize: 40, maxPositions: 64, ropeTheta: 10000, rmsNormEps: 1e-5,
};

/** A seeded random model: float32 arrays, and the same as tensors. */
export function randomModel(shape: LlamaShape, seed: number, withBias = false): { arrays: ModelArrays; weights: LlamaWeights } {
  let s = seed >>> 0;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  const mat = (rows: number, cols: number, scale: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.fround(rand() * scale)));
  const vec = (n: number, base = 1) => Array.from({ length: n }, () => Math.fround(base + rand() * 0.2));
  const { hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter, vocabSize: v } = shape;
  const arrays: ModelArrays = {
    embed: mat(v, d, 1),
    layers: Array.from({ length: shape.numLayers }, () => ({
      inputNorm: vec(d), q: mat(hq * hd, d, 0.5), k: mat(hkv * hd, d, 0.5), v: mat(hkv * hd, d, 0.5),
      o: mat(d, hq * hd, 0.5), postNorm: vec(d), gate: mat(inter, d, 0.5), up: mat(inter, d, 0.5), down: mat(d, inter, 0.5),
      qBias: withBias ? vec(hq * hd, 0) : undefined, kBias: withBias ? vec(hkv * hd, 0) : undefined,
      vBias: withBias ? vec(hkv * hd, 0) : undefined,
    })),
    finalNorm: vec(d),
    lmHead: mat(v, d, 1),
  };
  // The forward's layout (fused, projections [in, out]: lib/models/llama-tensors.ts), from the HF tensors.
  const hf = hfTensors(arrays, 'F32', false);
  const specs = llamaWeightSpecs({ ...shape, tieWordEmbeddings: false, attentionBias: withBias, attentionOutputBias: false });
  const weights: LlamaWeights = assembleWeights(specs, shape.numLayers,
    (spec) => tf.tensor(fuseWeight(spec, (p) => hf[p.source]!.data), spec.shape));
  return { arrays, weights };
}

export interface LayerArrays {
  inputNorm: number[]; q: number[][]; k: number[][]; v: number[][]; o: number[][]; postNorm: number[];
  gate: number[][]; up: number[][]; down: number[][]; qBias?: number[]; kBias?: number[]; vBias?: number[];
}
export interface ModelArrays { embed: number[][]; layers: LayerArrays[]; finalNorm: number[]; lmHead: number[][] }

// ---- A float64 reference written from the Hugging Face modeling code's definitions ----
const dot = (a: number[], b: number[]) => a.reduce((acc, x, i) => acc + x * b[i]!, 0);
const linearRef = (x: number[], w: number[][], b?: number[]) => w.map((row, i) => dot(row, x) + (b?.[i] ?? 0));
const rmsRef = (x: number[], w: number[], eps: number) => {
  const r = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * w[i]!);
};
/** Rotates pairs (i, i + hd/2) by position · theta^(−2i/hd). */
const ropeRef = (x: number[], pos: number, theta: number) => {
  const h = x.length / 2;
  const out = x.slice();
  for (let i = 0; i < h; i++) {
    const a = pos / theta ** ((2 * i) / x.length);
    out[i] = x[i]! * Math.cos(a) - x[i + h]! * Math.sin(a);
    out[i + h] = x[i + h]! * Math.cos(a) + x[i]! * Math.sin(a);
  }
  return out;
};

/** Logits of the last token and the last layer's last-row scores, for one sequence. */
export function referenceForward(shape: LlamaShape, m: ModelArrays, ids: number[]): { logits: number[]; scores: number[][] } {
  const { numHeads: hq, numKvHeads: hkv, headDim: hd, rmsNormEps: eps, ropeTheta: theta } = shape;
  let h = ids.map((id) => m.embed[id]!.slice());
  let scoresLast: number[][] = [];
  m.layers.forEach((l, li) => {
    const x = h.map((row) => rmsRef(row, l.inputNorm, eps));
    const split = (vec: number[], n: number) => Array.from({ length: n }, (_, j) => vec.slice(j * hd, (j + 1) * hd));
    const q = x.map((row, t) => split(linearRef(row, l.q, l.qBias), hq).map((head) => ropeRef(head, t, theta)));
    const k = x.map((row, t) => split(linearRef(row, l.k, l.kBias), hkv).map((head) => ropeRef(head, t, theta)));
    const v = x.map((row) => split(linearRef(row, l.v, l.vBias), hkv));
    const attnOut = x.map((_, t) => {
      const out: number[] = [];
      for (let j = 0; j < hq; j++) {
        const kv = Math.floor(j / (hq / hkv));
        const sc = k.map((kt) => dot(q[t]![j]!, kt[kv]!) / Math.sqrt(hd));
        if (li === m.layers.length - 1 && t === ids.length - 1) scoresLast.push(sc.slice());
        const visible = sc.slice(0, t + 1);
        const mx = Math.max(...visible);
        const e = visible.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let dd = 0; dd < hd; dd++) out.push(e.reduce((acc, p, u) => acc + (p / z) * v[u]![kv]![dd]!, 0));
      }
      return out;
    });
    h = h.map((row, t) => row.map((val, i) => val + linearRef(attnOut[t]!, l.o)[i]!));
    h = h.map((row) => {
      const y = rmsRef(row, l.postNorm, eps);
      const g = linearRef(y, l.gate);
      const u = linearRef(y, l.up);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const down = linearRef(act, l.down);
      return row.map((val, i) => val + down[i]!);
    });
  });
  if (scoresLast.length === 0) scoresLast = [];
  const last = rmsRef(h[h.length - 1]!, m.finalNorm, eps);
  return { logits: linearRef(last, m.lmHead), scores: scoresLast };
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4): void {
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(actual.length).toBe(expected.length);
  expect(worst).toBeLessThanOrEqual(rel * scale);
}

