// The Llama-family decoder as a TF.js GraphDef, emitted with GraphBuilder: the same maths as
// llamaForward (lib/models/llama.ts), with the inputs whose shapes depend on the call (rotary
// cos/sin, the additive mask) computed outside by stepInputs, so both share one definition.
//
// Inputs:  input_ids int32 [B, T]; rope_cos, rope_sin float32 [B, 1, T, hd];
//          attention_bias float32 [B, 1, T, S] (S = P + T); past_key_{i}, past_value_{i}
//          float32 [B, Hkv, P, hd] per layer (P may be 0).
// Outputs: logits [B, V] (last position); attention_scores [B, Hq, S] (last layer, last query
//          row, q·k/√hd before mask); present_key_{i}, present_value_{i} [B, Hkv, S, hd].
// Weights keep their Hugging Face names; projections (and lm_head) are stored transposed, [in, out],
// so every MatMul is a plain x·W (5–10× faster than x·Wᵀ on wasm). A tied lm_head is stored as
// its own transposed copy of the embedding.
import { EntropixError } from '../core/errors';
import { GraphBuilder, GraphTensor } from '../graphdef/builder';
import type { BuiltGraphModel, BuildOptions } from '../graphdef/json';
import type { ModelConfig } from './hf-config';
import { isProjectionWeight } from './llama';

export type LlamaGraphDType = 'float32' | 'float16';

export interface GraphWeight {
  data: Float32Array;
  shape: number[];
}

/** A tensor the graph needs: its Hugging Face name and the shape the config implies. */
export interface LlamaTensorSpec {
  name: string;
  shape: number[];
}

/** Every tensor a Llama-family checkpoint must hold for `config`, in reading order. */
export function llamaTensorSpecs(c: ModelConfig): LlamaTensorSpec[] {
  const { vocabSize: v, hiddenSize: d, numHeads: hq, numKvHeads: hkv, headDim: hd, intermediateSize: inter } = c;
  const specs: LlamaTensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [v, d] }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    specs.push(
      { name: `${p}input_layernorm.weight`, shape: [d] },
      { name: `${p}self_attn.q_proj.weight`, shape: [hq * hd, d] },
      { name: `${p}self_attn.k_proj.weight`, shape: [hkv * hd, d] },
      { name: `${p}self_attn.v_proj.weight`, shape: [hkv * hd, d] },
      { name: `${p}self_attn.o_proj.weight`, shape: [d, hq * hd] },
    );
    if (c.attentionBias) {
      specs.push(
        { name: `${p}self_attn.q_proj.bias`, shape: [hq * hd] },
        { name: `${p}self_attn.k_proj.bias`, shape: [hkv * hd] },
        { name: `${p}self_attn.v_proj.bias`, shape: [hkv * hd] },
      );
    }
    if (c.attentionOutputBias) specs.push({ name: `${p}self_attn.o_proj.bias`, shape: [d] });
    specs.push(
      { name: `${p}post_attention_layernorm.weight`, shape: [d] },
      { name: `${p}mlp.gate_proj.weight`, shape: [inter, d] },
      { name: `${p}mlp.up_proj.weight`, shape: [inter, d] },
      { name: `${p}mlp.down_proj.weight`, shape: [d, inter] },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [d] });
  if (!c.tieWordEmbeddings) specs.push({ name: 'lm_head.weight', shape: [v, d] });
  return specs;
}

/** A tensor of the graph: its name and graph shape, and where its values come from in the checkpoint. */
export interface GraphWeightSpec {
  name: string;
  shape: number[];
  source: string;
  transpose: boolean;
}

/** The graph's weights for `config`, from the checkpoint's tensors (llamaTensorSpecs). */
export function graphWeightSpecs(c: ModelConfig): GraphWeightSpec[] {
  const specs = llamaTensorSpecs(c).map(({ name, shape }) => {
    const transpose = isProjectionWeight(name);
    return { name, shape: transpose ? [shape[1]!, shape[0]!] : shape, source: name, transpose };
  });
  if (c.tieWordEmbeddings) {
    specs.push({ name: 'lm_head.weight', shape: [c.hiddenSize, c.vocabSize], source: 'model.embed_tokens.weight', transpose: true });
  }
  return specs;
}

/**
 * Refuses a weight dtype the graph writer cannot store (INVALID_ARGUMENT, argument
 * 'options.dtype'): 'float32', or 'float16' (IEEE halves TF.js widens to float32 at load).
 */
export function checkGraphDType(dtype: unknown): asserts dtype is LlamaGraphDType {
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new EntropixError('INVALID_ARGUMENT', `dtype must be 'float32' or 'float16', got ${JSON.stringify(dtype)}`, 'options.dtype');
  }
}

/**
 * Emits the decoder for `config`. `weight(name)` returns a tensor's float32 values and shape
 * (the caller has checked them); the arrays are not copied until `build`. With dtype 'float16'
 * the checkpoint's tensors are stored as IEEE halves (rounded to nearest even); the graph's own
 * scalars (eps, 1/√hd) and int32 shapes stay float32/int32.
 */
export function buildLlamaGraph(
  config: ModelConfig, weight: (name: string) => GraphWeight, dtype: LlamaGraphDType = 'float32',
  buildOptions: BuildOptions = {},
): BuiltGraphModel {
  checkGraphDType(dtype);
  const g = new GraphBuilder();
  const { numHeads: hq, numKvHeads: hkv, headDim: hd, hiddenSize: d, rmsNormEps: eps } = config;
  const groups = hq / hkv;
  const w = (name: string): GraphTensor => {
    const t = weight(name);
    return g.constant(name, t.data, t.shape, 'float32', { storeAs: dtype });
  };

  const ids = g.placeholder('input_ids', 'int32', [-1, -1]);
  const cos = g.placeholder('rope_cos', 'float32', [-1, 1, -1, hd]);
  const sin = g.placeholder('rope_sin', 'float32', [-1, 1, -1, hd]);
  const bias = g.placeholder('attention_bias', 'float32', [-1, 1, -1, -1]);
  const pastKeys: GraphTensor[] = [];
  const pastValues: GraphTensor[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    pastKeys.push(g.placeholder(`past_key_${i}`, 'float32', [-1, hkv, -1, hd]));
    pastValues.push(g.placeholder(`past_value_${i}`, 'float32', [-1, hkv, -1, hd]));
  }

  // B, T and S as int32 scalars, from attention_bias's shape [B, 1, T, S].
  const { B, T, S } = g.scope('dims', () => {
    const shape = g.shape(bias);
    const dim = (i: number) => g.stridedSlice(shape, [i], [i + 1], [1], { shrinkAxisMask: 1 });
    return { B: dim(0), T: dim(2), S: dim(3) };
  });
  // Each distinct shape is packed once and shared: the graph executor pays per node.
  const packed = new Map<string, GraphTensor>();
  const tensorIds = new Map<GraphTensor, number>();
  const dims = (...xs: (number | GraphTensor)[]) => {
    const idOf = (t: GraphTensor) => tensorIds.get(t) ?? tensorIds.set(t, tensorIds.size).get(t)!;
    const key = xs.map((x) => (typeof x === 'number' ? `${x}` : `t${idOf(x)}`)).join(',');
    let shape = packed.get(key);
    if (!shape) {
      shape = g.pack(xs.map((x) => (typeof x === 'number' ? g.ints(x) : x)));
      packed.set(key, shape);
    }
    return shape;
  };

  const rmsNorm = (x: GraphTensor, name: string) =>
    g.mul(g.mul(x, g.rsqrt(g.add(g.mean(g.square(x), [-1], { keepDims: true }), g.floats(eps)))), w(name));
  // The residual stream is kept flat, [B·T, D], so projections need no reshapes (the executor
  // pays per node); only attention views it as heads.
  /** x [B·T, in] · W (+ bias) → [B·T, out], W stored [in, out]. */
  const linear = (x: GraphTensor, name: string, biasName?: string) => {
    const y = g.matMul(x, w(name));
    return biasName ? g.add(y, w(biasName)) : y;
  };
  const heads = (x: GraphTensor, n: number) => g.transpose(g.reshape(x, dims(B, T, n, hd)), [0, 2, 1, 3]);
  const half = hd / 2;
  const rotary = (x: GraphTensor) => {
    const x1 = g.stridedSlice(x, [0, 0, 0, 0], [0, 0, 0, half], [1, 1, 1, 1], { beginMask: 7, endMask: 7 });
    const x2 = g.stridedSlice(x, [0, 0, 0, half], [0, 0, 0, hd], [1, 1, 1, 1], { beginMask: 7, endMask: 7 });
    return g.add(g.mul(x, cos), g.mul(g.concat([g.neg(x2), x1], 3), sin));
  };
  /** [B, Hkv, S, hd] → [B, Hkv·g, S, hd], each kv head repeated g times in a row (llama.ts repeatHeads: concat, not tile). */
  const repeatHeads = (x: GraphTensor) => {
    const one = g.expandDims(x, 2);
    return g.reshape(g.concat(new Array<GraphTensor>(groups).fill(one), 2), dims(B, hq, S, hd));
  };

  let h = g.reshape(g.gather(w('model.embed_tokens.weight'), ids), [-1, d]); // [B·T, D]
  let lastScores: GraphTensor | null = null;
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    g.scope(`layer_${i}`, () => {
      const x = rmsNorm(h, `${p}input_layernorm.weight`);
      const qb = config.attentionBias ? `${p}self_attn.q_proj.bias` : undefined;
      const kb = config.attentionBias ? `${p}self_attn.k_proj.bias` : undefined;
      const vb = config.attentionBias ? `${p}self_attn.v_proj.bias` : undefined;
      const q = rotary(heads(linear(x, `${p}self_attn.q_proj.weight`, qb), hq));
      const kNew = rotary(heads(linear(x, `${p}self_attn.k_proj.weight`, kb), hkv));
      const vNew = heads(linear(x, `${p}self_attn.v_proj.weight`, vb), hkv);
      const k = g.concat([pastKeys[i]!, kNew], 2);
      const v = g.concat([pastValues[i]!, vNew], 2);
      g.output(`present_key_${i}`, k);
      g.output(`present_value_${i}`, v);
      const kAll = groups > 1 ? repeatHeads(k) : k;
      const vAll = groups > 1 ? repeatHeads(v) : v;
      const scores = g.mul(g.batchMatMul(q, kAll, { adjY: true }), g.floats(1 / Math.sqrt(hd))); // [B, Hq, T, S]
      if (i === config.numLayers - 1) {
        // The last query row: [B, Hq, S].
        lastScores = g.stridedSlice(scores, [0, 0, -1, 0], [0, 0, 0, 0], [1, 1, 1, 1],
          { beginMask: 0b1011, endMask: 0b1011, shrinkAxisMask: 0b0100 });
      }
      const attn = g.batchMatMul(g.softmax(g.add(scores, bias)), vAll); // [B, Hq, T, hd]
      const merged = g.reshape(g.transpose(attn, [0, 2, 1, 3]), [-1, hq * hd]);
      h = g.add(h, linear(merged, `${p}self_attn.o_proj.weight`, config.attentionOutputBias ? `${p}self_attn.o_proj.bias` : undefined));
      const y = rmsNorm(h, `${p}post_attention_layernorm.weight`);
      const gate = linear(y, `${p}mlp.gate_proj.weight`);
      const up = linear(y, `${p}mlp.up_proj.weight`);
      h = g.add(h, linear(g.mul(g.mul(gate, g.sigmoid(gate)), up), `${p}mlp.down_proj.weight`));
    });
  }
  const last = g.stridedSlice(g.reshape(h, dims(B, T, d)), [0, -1, 0], [0, 0, 0], [1, 1, 1], { beginMask: 0b101, endMask: 0b101, shrinkAxisMask: 0b010 });
  const logits = g.matMul(rmsNorm(last, 'model.norm.weight'), w('lm_head.weight'));
  g.output('logits', logits);
  g.output('attention_scores', lastScores!);
  return g.build(buildOptions);
}
