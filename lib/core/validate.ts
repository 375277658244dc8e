// Argument checks shared by every public function. They run before any tensor is made, so a
// refused call allocates nothing.
import type { Tensor } from '@tensorflow/tfjs-core';
import { EntropixError } from './errors';
import { tf } from './tf';

/**
 * Whether the TF.js engine holds data for `x`. Every copy of tfjs-core shares one engine (a
 * global), so a second copy's tensors pass; an object that only looks like a tensor does not.
 */
function engineKnows(x: Tensor): boolean {
  const info = (tf.engine().state as { tensorInfo?: WeakMap<object, unknown> }).tensorInfo;
  const id = (x as { dataId?: unknown }).dataId;
  return info === undefined || (typeof id === 'object' && id !== null && info.has(id));
}

/**
 * A tensor from any copy of tfjs-core. `instanceof` fails across copies (a user's bundle and
 * ours), so recognise the shape of one instead.
 */
export function isTensor(x: unknown): x is Tensor {
  if (typeof x !== 'object' || x === null) return false;
  const t = x as { shape?: unknown; dtype?: unknown; dataId?: unknown; isDisposed?: unknown };
  return Array.isArray(t.shape) && typeof t.dtype === 'string' && t.dataId !== undefined
    && typeof t.isDisposed === 'boolean';
}

type DType = 'float32' | 'int32' | 'bool';

/** Checks that `x` is a live tensor of one of `ranks` and `dtypes`; returns it typed. */
export function requireTensor(
  x: unknown,
  name: string,
  ranks: readonly number[],
  dtypes: readonly DType[],
): Tensor {
  if (!isTensor(x)) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be a tf.Tensor, got ${describe(x)}`, name);
  }
  if (x.isDisposed) throw new EntropixError('INVALID_ARGUMENT', `${name} is disposed`, name);
  if (!engineKnows(x)) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} looks like a tensor but the TF.js engine holds no data for it`, name);
  }
  if (!ranks.includes(x.rank)) {
    const want = ranks.map((r) => `rank ${r}`).join(' or ');
    throw new EntropixError('INVALID_SHAPE', `${name} must have ${want}, got shape [${x.shape}]`, name);
  }
  if (!dtypes.includes(x.dtype as DType)) {
    throw new EntropixError('INVALID_DTYPE', `${name} must be ${dtypes.join(' or ')}, got ${x.dtype}`, name);
  }
  for (const size of x.shape) {
    if (size === 0) throw new EntropixError('INVALID_SHAPE', `${name} has an empty dimension: [${x.shape}]`, name);
  }
  return x;
}

/** Checks that dimension `axis` of `x` equals `size` (named after where `size` came from). */
export function requireDim(x: Tensor, name: string, axis: number, size: number, what: string): void {
  if (x.shape[axis] !== size) {
    throw new EntropixError(
      'INVALID_SHAPE',
      `${name} has shape [${x.shape}], but its dimension ${axis} must equal ${what} (${size})`,
      name,
    );
  }
}

export interface NumberRule {
  min?: number; // inclusive unless minExclusive
  max?: number; // inclusive
  minExclusive?: boolean;
  integer?: boolean;
}

/** Checks a plain-number argument: finite, in range, integral when asked. */
export function requireNumber(x: unknown, name: string, rule: NumberRule = {}): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be a finite number, got ${describe(x)}`, name);
  }
  if (rule.integer && !Number.isInteger(x)) {
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be an integer, got ${x}`, name);
  }
  const { min, max } = rule;
  const belowMin = min !== undefined && (rule.minExclusive ? x <= min : x < min);
  if (belowMin || (max !== undefined && x > max)) {
    const lo = min === undefined ? '(-inf' : `${rule.minExclusive ? '(' : '['}${min}`;
    const hi = max === undefined ? 'inf)' : `${max}]`;
    throw new EntropixError('INVALID_ARGUMENT', `${name} must be in ${lo}, ${hi}, got ${x}`, name);
  }
  return x;
}

/** A JSON object: not null, not an array. */
export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'number') return String(x);
  if (typeof x === 'string') return JSON.stringify(x);
  return typeof x;
}
