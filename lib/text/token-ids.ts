// Token ids handed to a tokenizer by a caller: checked before they reach the decoder, which
// would otherwise fail with a raw TypeError (or quietly skip) on 1.5, NaN or an unknown id.
import { EntropixError } from '../core/errors';
import { describe } from '../core/validate';

/** Refuses anything but an array of integer ids in [0, vocabSize). */
export function requireTokenIds(ids: unknown, name: string, vocabSize: number): number[] {
  if (!Array.isArray(ids)) throw new EntropixError('INVALID_ARGUMENT', `${name} must be an array of token ids, got ${describe(ids)}`, name);
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new EntropixError('INVALID_ARGUMENT',
        `${name}[${i}] = ${describe(id)} is not a token id of this tokenizer (integers in [0, ${vocabSize}))`, name);
    }
  }
  return ids as number[];
}
