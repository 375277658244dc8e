// The files the CLI writes (--trace, --plot): checked before any work, written atomically.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EntropixError } from '../core/errors';

export interface OutputFile {
  /** The flag that named it, for messages ('trace', 'plot'). */
  flag: string;
  path: string;
}

/** The real path a file would have: its parent's realpath (links resolved) and its name. */
function realTarget(file: string): string {
  const abs = path.resolve(file);
  return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
}

/**
 * Refuses, before any generation, an output that could not be written or must not be: a
 * directory or other non-regular file, a directory that is not writable, two flags naming the
 * same file, or a path inside the model directory (a trace must never replace the model).
 * Returns the resolved targets in the order given.
 */
export function checkOutputs(outputs: readonly OutputFile[], modelDir: string): string[] {
  let model: string;
  try {
    model = fs.realpathSync(modelDir);
  } catch {
    model = path.resolve(modelDir);
  }
  const seen = new Map<string, string>();
  return outputs.map(({ flag, path: file }) => {
    const refuse = (why: string) => new EntropixError('INVALID_ARGUMENT', `cannot write --${flag} ${file}: ${why}`, flag);
    if (file.length === 0) throw refuse('the path is empty');
    let target: string;
    try {
      target = realTarget(file);
    } catch {
      throw refuse(`its directory ${path.dirname(path.resolve(file))} does not exist`);
    }
    const other = seen.get(target);
    if (other !== undefined) throw refuse(`--${other} writes the same file`);
    seen.set(target, flag);
    if (target === model || target.startsWith(model + path.sep)) throw refuse(`it is inside the model directory ${modelDir}`);
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse((e as Error).message);
    }
    if (stat?.isDirectory()) throw refuse('it is a directory');
    if (stat && !stat.isFile()) throw refuse('it is not a regular file');
    try {
      fs.accessSync(path.dirname(target), fs.constants.W_OK);
    } catch {
      throw refuse(`its directory ${path.dirname(target)} is not writable`);
    }
    return target;
  });
}

/**
 * Writes `data` to `file` atomically: a temporary sibling, synced, renamed over the target, so a
 * failure (a full disk) leaves the old file or none, never a truncated one. Failures are typed.
 */
export function writeFileAtomic(file: string, data: string, flag: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const fd = fs.openSync(temp, 'wx');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw new EntropixError('INVALID_ARGUMENT', `cannot write --${flag} ${file}: ${(e as Error).message}`, flag);
  }
}
