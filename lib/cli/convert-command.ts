// `entropix convert <hf-dir> <out-dir> [--dtype float16]`
import { EntropixError } from '../core/errors';
import { convertHfCheckpoint } from '../models/convert';
import { progressBar } from './progress';

export interface ConvertArgs {
  source: string;
  out: string;
  dtype: 'float32' | 'float16';
}

/**
 * Converts and returns the exit code: 0, or 130 when interrupted (Ctrl-C, SIGTERM). An interrupt
 * stops the conversion at its next tensor or file and removes everything it staged, so nothing
 * is left next to the output.
 */
export async function runConvert(args: ConvertArgs): Promise<number> {
  const started = Date.now();
  const bar = progressBar(process.stderr, `tensors → ${args.out}`);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await convertHfCheckpoint(args.source, args.out, {
      dtype: args.dtype, signal: controller.signal, onProgress: (done, total) => bar.update(done, total),
    });
  } catch (e) {
    if (e instanceof EntropixError && e.code === 'ABORTED' && controller.signal.aborted) {
      bar.finish();
      process.stderr.write(`entropix: conversion interrupted; nothing was written to ${args.out}\n`);
      return 130;
    }
    throw e;
  } finally {
    bar.finish();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  process.stderr.write(`converted ${args.source} → ${args.out} (${args.dtype}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return 0;
}
