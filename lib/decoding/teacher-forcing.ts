// Teacher forcing: a CausalLM fed known token sequences through its KV cache, one position per
// step as in decoding, with the six metrics read at every position that has a next token. Rows
// run as left-padded batches (pad slots masked out).
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../core/tf';
import { EntropixError } from '../core/errors';
import { describe, requireNumber } from '../core/validate';
import { computeMetrics } from '../sampling/metrics';
import type { CausalLM, KVCache } from '../models/causal-lm';
import { attendedKeys } from './attended-keys';

export const METRIC_NAMES = ['entropy', 'varentropy', 'attnEntropy', 'attnVarentropy', 'agreement', 'interactionStrength'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * One value per position, sequence by sequence: position p of sequence s (the model's view after
 * tokens 0..p, predicting token p + 1) is at index offsets[s] + p. Sequence s has length − 1 positions.
 */
export type PositionMetrics = Record<MetricName, Float32Array> & {
  /** Where each sequence's positions start; offsets[sequences] = the number of positions. */
  offsets: Int32Array;
};

export interface TeacherForcingOptions {
  /** Sequences run side by side (default 16). */
  batchSize?: number;
  /** Called after every step with the positions done so far and in all. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting rejects with EntropixError 'ABORTED' and releases every tensor. */
  signal?: AbortSignal;
}

export const DEFAULT_TEACHER_FORCING_BATCH = 16;

function validate(model: unknown, sequences: unknown, options: unknown): { rows: number[][]; batch: number; o: TeacherForcingOptions } {
  if (typeof model !== 'object' || model === null || typeof (model as CausalLM).forward !== 'function') {
    throw new EntropixError('INVALID_ARGUMENT', `model must be a CausalLM, got ${describe(model)}`, 'model');
  }
  if (typeof options !== 'object' || options === null) {
    throw new EntropixError('INVALID_ARGUMENT', `options must be an object, got ${describe(options)}`, 'options');
  }
  const o = options as TeacherForcingOptions;
  const batch = o.batchSize === undefined ? DEFAULT_TEACHER_FORCING_BATCH
    : requireNumber(o.batchSize, 'options.batchSize', { min: 1, integer: true });
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new EntropixError('INVALID_ARGUMENT', 'options.onProgress must be a function', 'options.onProgress');
  }
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && 'aborted' in o.signal)) {
    throw new EntropixError('INVALID_ARGUMENT', 'options.signal must be an AbortSignal', 'options.signal');
  }
  const { vocabSize, maxPositions } = (model as CausalLM).config;
  if (!Array.isArray(sequences) || sequences.length === 0) {
    throw new EntropixError('INVALID_ARGUMENT', 'sequences must be a non-empty array of token id arrays', 'sequences');
  }
  sequences.forEach((row: unknown, i) => {
    const where = `sequences[${i}]`;
    if (!Array.isArray(row) || row.length < 2) {
      throw new EntropixError('INVALID_ARGUMENT', `${where} must hold at least 2 token ids (a position and its next token)`, where);
    }
    if (row.length > maxPositions) {
      throw new EntropixError('INVALID_ARGUMENT', `${where} has ${row.length} tokens, longer than the model's context of ${maxPositions}`, where);
    }
    row.forEach((id: unknown, j) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new EntropixError('INVALID_ARGUMENT',
          `${where}[${j}] = ${describe(id)} is not a token id of this model (integers in [0, ${vocabSize}))`, where);
      }
    });
  });
  return { rows: sequences as number[][], batch, o };
}

const aborted = () => new EntropixError('ABORTED', 'teacher forcing was aborted', 'options.signal');

/**
 * Feeds every sequence through the model, token by token through the KV cache (as decoding
 * does, so the attention metrics are those of each position's last query row), and returns the
 * six metrics at every position but each sequence's last. Batches of unequal lengths are
 * left-padded; a padded row computes what it computes alone up to float rounding.
 */
export async function teacherForcedMetrics(
  model: CausalLM, sequences: number[][], options: TeacherForcingOptions = {},
): Promise<PositionMetrics> {
  const { rows, batch: batchSize, o } = validate(model, sequences, options);
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => { offsets[i + 1] = offsets[i]! + r.length - 1; });
  const total = offsets[rows.length]!;
  const out = Object.fromEntries(METRIC_NAMES.map((k) => [k, new Float32Array(total)])) as Record<MetricName, Float32Array>;
  let done = 0;
  for (let first = 0; first < rows.length; first += batchSize) {
    const group = rows.slice(first, first + batchSize);
    const b = group.length;
    const steps = Math.max(...group.map((r) => r.length)) - 1; // the last token is only predicted
    const pad = group.map((r) => steps - (r.length - 1));
    let cache: KVCache | null = null;
    try {
      for (let t = 0; t < steps; t++) {
        if (o.signal?.aborted) throw aborted();
        const ids = new Int32Array(b);
        const mask = new Float32Array(b * (t + 1));
        group.forEach((r, i) => {
          ids[i] = t >= pad[i]! ? r[t - pad[i]!]! : 0;
          for (let k = pad[i]!; k <= t; k++) mask[i * (t + 1) + k] = 1;
        });
        const idsT = tf.tensor2d(ids, [b, 1], 'int32');
        const maskT = tf.tensor2d(mask, [b, t + 1]);
        let table: Tensor2D;
        try {
          const r = model.forward(idsT, cache, { attentionMask: maskT });
          cache = r.cache;
          try {
            table = tf.tidy(() => {
              const m = computeMetrics(r.logits, r.attentionScores, { keyMask: attendedKeys(maskT, model.config) });
              return tf.stack(METRIC_NAMES.map((k) => m[k]), 1) as Tensor2D;
            });
          } finally {
            tf.dispose([r.logits, r.attentionScores]);
          }
        } finally {
          tf.dispose([idsT, maskT]);
        }
        let values: Float32Array;
        try {
          values = (await table.data()) as Float32Array;
        } finally {
          table.dispose();
        }
        group.forEach((_, i) => {
          if (t < pad[i]!) return;
          const at = offsets[first + i]! + t - pad[i]!;
          METRIC_NAMES.forEach((k, c) => { out[k][at] = values[i * METRIC_NAMES.length + c]!; });
          done++;
        });
        o.onProgress?.(done, total);
      }
    } finally {
      (cache as KVCache | null)?.dispose();
    }
  }
  return { ...out, offsets };
}
