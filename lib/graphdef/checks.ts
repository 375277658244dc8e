// Argument checks for the GraphDef builder: node names, dtypes, int32 values, shapes, and the
// conversion of a constant's data into the bytes a weight is stored as.
import { EntropixError } from '../core/errors';
import { BYTES_PER_ELEMENT, GraphDType } from './json';

/** Values for `constant`. Typed arrays give their dtype; plain arrays default to float32. */
export type ConstantData = Float32Array | Int32Array | Uint8Array | readonly number[] | readonly boolean[];

/** A weight as the builder holds it until build. */
export interface Weight {
  dtype: GraphDType;
  shape: number[];
  bytes: Uint8Array; // a view of the caller's data: not copied, so do not change it before build
  /** float16: `bytes` hold float32 values, written to the shards as halves at build. */
  storeAs?: 'float16';
}

// TF's rule for node names. It keeps out ':' (output index) and '^' (control input), which
// would make the converter read a name as something else.
const NODE_NAME = /^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$/;

export function checkName(name: unknown, what: string): void {
  if (typeof name !== 'string' || !NODE_NAME.test(name)) {
    throw new EntropixError(
      'INVALID_ARGUMENT',
      `${what} must be a TF node name (letters, digits, '.', '_', '-', '/'; not starting with '_', '-' or '/'), got ${JSON.stringify(name)}`,
      what,
    );
  }
}

export function checkDType(dtype: unknown, what: string): void {
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new EntropixError('INVALID_DTYPE', `${what} must be float32, int32 or bool, got ${JSON.stringify(dtype)}`, what);
  }
}

export function checkInt(x: unknown, what: string): void {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < -(2 ** 31) || x >= 2 ** 31) {
    throw new EntropixError('INVALID_ARGUMENT', `${what} must be an int32 integer, got ${String(x)}`, what);
  }
}

/** Every dim an integer ≥ min (placeholders allow -1 for unknown). */
export function checkDims(shape: unknown, what: string, min: number): void {
  if (!Array.isArray(shape)) throw new EntropixError('INVALID_SHAPE', `${what} must be an array of sizes`, what);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < min) {
      throw new EntropixError('INVALID_SHAPE', `${what} must hold integers ≥ ${min}, got [${shape}]`, what);
    }
  }
}

export function toWeight(data: ConstantData, shape: readonly number[], dtype?: GraphDType): Weight {
  if (dtype !== undefined) checkDType(dtype, 'dtype');
  let values: Float32Array | Int32Array | Uint8Array;
  if (data instanceof Float32Array || data instanceof Int32Array) {
    const own: GraphDType = data instanceof Float32Array ? 'float32' : 'int32';
    if (dtype !== undefined && dtype !== own) {
      throw new EntropixError('INVALID_DTYPE', `a ${data.constructor.name} holds ${own}, not ${dtype}: convert it first`, 'dtype');
    }
    dtype = own;
    values = data;
  } else if (data instanceof Uint8Array) {
    // Uint8Array is ambiguous (bytes, uint8 weights): accept it only as declared bool.
    if (dtype !== 'bool') throw new EntropixError('INVALID_DTYPE', 'a Uint8Array constant must be declared bool', 'dtype');
    if (data.some((v) => v > 1)) throw new EntropixError('INVALID_ARGUMENT', 'bool values must be 0 or 1', 'data');
    values = data;
  } else if (Array.isArray(data)) {
    if (data.every((v) => typeof v === 'boolean')) {
      if (dtype !== undefined && dtype !== 'bool') throw new EntropixError('INVALID_DTYPE', `boolean values cannot be ${dtype}`, 'dtype');
      dtype = 'bool';
      values = Uint8Array.from(data as readonly boolean[], (v) => (v ? 1 : 0));
    } else {
      dtype ??= 'float32';
      const nums = data as readonly unknown[];
      nums.forEach((v, i) => {
        if (typeof v !== 'number') throw new EntropixError('INVALID_ARGUMENT', `data[${i}] must be a number`, 'data');
        if (dtype === 'int32') checkInt(v, `data[${i}]`);
        if (dtype === 'bool' && v !== 0 && v !== 1) throw new EntropixError('INVALID_ARGUMENT', 'bool values must be 0 or 1', 'data');
      });
      values = dtype === 'float32' ? Float32Array.from(nums as number[])
        : dtype === 'int32' ? Int32Array.from(nums as number[]) : Uint8Array.from(nums as number[]);
    }
  } else {
    throw new EntropixError('INVALID_ARGUMENT', 'data must be a Float32Array, Int32Array, Uint8Array (bool) or an array', 'data');
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) {
    throw new EntropixError('INVALID_SHAPE', `shape [${shape}] needs ${size} values, got ${values.length}`, 'shape');
  }
  const bytes = new Uint8Array(values.buffer, values.byteOffset, size * BYTES_PER_ELEMENT[dtype!]!);
  return { dtype: dtype!, shape: [...shape], bytes };
}

export function sameInts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b || (a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength)) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
