// The JSON forms of a TF.js graph model: a TensorFlow GraphDef in protobuf JSON (int64 fields
// are decimal strings, floats are numbers), as tensorflowjs_converter writes it into model.json,
// plus the weights manifest and the one table of bytes per weight dtype.

/** The dtypes a GraphModel tensor can have here. */
export type GraphDType = 'float32' | 'int32' | 'bool';

export type TfDataType = 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL';

export const TF_DTYPE: Record<GraphDType, TfDataType> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL' };

/** Bytes per element of a manifest dtype, as TF.js decodes weights (strings have no fixed size). */
export const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
/** Bytes per element of a quantized weight, by its quantization dtype. */
export const BYTES_PER_QUANTIZED: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };

export interface TensorShapeJson {
  dim?: { size: string }[];
  unknownRank?: boolean;
}

export type AttrValueJson =
  | { type: TfDataType }
  | { i: string }
  | { f: number }
  | { b: boolean }
  | { list: { i: string[] } }
  | { shape: TensorShapeJson }
  | { tensor: { dtype: TfDataType; tensorShape: TensorShapeJson } };

export interface NodeDefJson {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValueJson>;
}

export interface GraphDefJson {
  node: NodeDefJson[];
  // GraphModel reads versions.producer unconditionally, so a graph without it fails to load.
  versions: { producer: number; minConsumer?: number };
}

/**
 * How a weight is stored in the shards when not as its dtype. Only float16 is written: IEEE half
 * values (2 bytes each, platform byte order like every weight) that TF.js widens to the entry's float32 at load
 * (tfjs-core io_utils decodeWeight). original_dtype is what tensorflowjs_converter also writes.
 */
export interface WeightQuantizationJson {
  dtype: 'float16';
  original_dtype: 'float32';
}

export interface WeightEntryJson {
  name: string;
  shape: number[];
  dtype: GraphDType;
  quantization?: WeightQuantizationJson;
}

export interface TensorInfoJson {
  name: string;
  dtype: TfDataType;
  tensorShape?: TensorShapeJson;
}

export interface GraphModelJson {
  format: 'graph-model';
  generatedBy: string;
  convertedBy: string;
  modelTopology: GraphDefJson;
  weightsManifest: { paths: string[]; weights: WeightEntryJson[] }[];
  signature: { inputs: Record<string, TensorInfoJson>; outputs: Record<string, TensorInfoJson> };
  /** Free-form JSON kept with the model (GraphModel.metadata). */
  userDefinedMetadata?: Record<string, unknown>;
}

/** What `GraphBuilder.build` returns: model.json's content and the shard files' bytes, in order. */
export interface BuiltGraphModel {
  modelJson: GraphModelJson;
  /** The bytes of `modelJson.weightsManifest[0].paths[i]`, in order. */
  weightData: Uint8Array[];
}

export interface BuildOptions {
  /** Bytes per weight shard file; the last one may be shorter. Default 4 MiB, as tensorflowjs_converter. */
  shardBytes?: number;
  /** GraphDef versions.producer. */
  producer?: number;
  /** Written as model.json's userDefinedMetadata (e.g. the weight layout's format version). */
  metadata?: Record<string, unknown>;
}


/**
 * Bytes a manifest entry takes in the shards, or undefined for a dtype whose size is not fixed or
 * not known (strings are length-prefixed).
 */
export function weightEntryBytes(w: { shape: readonly number[]; dtype: string; quantization?: { dtype: string } }): number | undefined {
  const per = w.quantization ? BYTES_PER_QUANTIZED[w.quantization.dtype] : BYTES_PER_ELEMENT[w.dtype];
  if (per === undefined || (w.quantization && BYTES_PER_ELEMENT[w.dtype] === undefined)) return undefined;
  return w.shape.reduce((a, b) => a * b, 1) * per;
}

export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

/** Attribute values, built in one place so every op writes them the way the converter reads them. */
export const attr = {
  type: (d: GraphDType): AttrValueJson => ({ type: TF_DTYPE[d] }),
  int: (v: number): AttrValueJson => ({ i: String(v) }),
  float: (v: number): AttrValueJson => ({ f: v }),
  bool: (v: boolean): AttrValueJson => ({ b: v }),
  ints: (v: readonly number[]): AttrValueJson => ({ list: { i: v.map(String) } }),
  shape: (dims: readonly number[] | null): AttrValueJson => ({ shape: tensorShape(dims) }),
  tensor: (d: GraphDType, dims: readonly number[]): AttrValueJson => ({
    tensor: { dtype: TF_DTYPE[d], tensorShape: tensorShape(dims) },
  }),
};

/** null = unknown rank; -1 = unknown size. A scalar is {} (no dims), as protobuf JSON writes it. */
export function tensorShape(dims: readonly number[] | null): TensorShapeJson {
  if (dims === null) return { unknownRank: true };
  return dims.length === 0 ? {} : { dim: dims.map((d) => ({ size: String(d) })) };
}
