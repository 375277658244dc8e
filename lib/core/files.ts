// Reading and writing model files (Node only): the one JSON reader, the one check that a path
// named inside a model stays inside its directory, and the one stage-then-rename that makes a
// written directory appear whole or not at all. A model directory is untrusted input.
import * as fs from 'fs';
import * as nodePath from 'path';
import { EntropixError } from './errors';

function refused(argument: string, message: string): EntropixError {
  return new EntropixError('INVALID_ARGUMENT', message, argument);
}

/**
 * Reads and parses a JSON file. A missing or unreadable file, or bad JSON, is INVALID_ARGUMENT
 * with a message naming the file; `argument` defaults to the path.
 */
export async function readJsonFile(path: string, argument: string = path): Promise<unknown> {
  return readJson(path, argument, true);
}

/** As readJsonFile, but a file that does not exist gives undefined. */
export async function readJsonFileIfExists(path: string, argument: string = path): Promise<unknown> {
  return readJson(path, argument, false);
}

async function readJson(path: string, argument: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refused(argument, `${path}: cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw refused(argument, `${path}: is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * `root/p` for a relative path `p` named in a model file, so that a model cannot make us read or
 * write outside its directory. An empty, NUL-holding or absolute path, a '..' segment, or one
 * that resolves to `root` itself is refused with `refuse(why)`, where `why` reads after the path
 * ("is an absolute path", "escapes the model directory ('..')", …) and `noun` names the
 * directory. Symbolic links inside it are followed, as in a Hugging Face cache.
 */
export function resolveInside(root: string, p: string, refuse: (why: string) => Error,
  noun = 'the model directory'): string {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) throw refuse('is not a file name');
  if (nodePath.posix.isAbsolute(p) || nodePath.win32.isAbsolute(p)) throw refuse('is an absolute path');
  if (p.split(/[\\/]/).includes('..')) throw refuse(`escapes ${noun} ('..')`);
  const base = nodePath.resolve(root);
  const file = nodePath.resolve(base, p);
  const rel = nodePath.relative(base, file);
  if (rel.length === 0 || rel.startsWith('..') || nodePath.isAbsolute(rel)) throw refuse(`is not inside ${noun}`);
  return file;
}

export interface StageOptions {
  /** Replace an existing `target` (moved aside, and removed once the new one is in place). */
  overwrite?: boolean;
  /** The argument named by the error when `target` is taken. */
  argument: string;
  /** Appended to that error's message, e.g. how to replace the target. */
  hint?: string;
}

/**
 * Makes the directory `target` appear whole or not at all: `fill` writes into a fresh temporary
 * sibling directory, which is then renamed to `target`. Without `overwrite`, a `target` that
 * exists and is not an empty directory is refused (INVALID_ARGUMENT, `options.argument`). A
 * failure removes the stage and puts a moved-aside old target back.
 */
export async function stageThenRename(target: string, fill: (stage: string) => Promise<void>,
  options: StageOptions): Promise<void> {
  const fsp = fs.promises;
  const full = nodePath.resolve(target);
  const parent = nodePath.dirname(full);
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const stage = nodePath.join(parent, `.${nodePath.basename(full)}.tmp-${tag}`);
  const old = nodePath.join(parent, `.${nodePath.basename(full)}.old-${tag}`);
  const taken = (why: string): EntropixError => refused(options.argument,
    `cannot write the model to ${full}: it exists and is ${why}${options.hint ?? ''}`);

  await fsp.mkdir(parent, { recursive: true });
  await fsp.mkdir(stage);
  let movedOld = false;
  try {
    await fill(stage);
    if (options.overwrite) {
      try {
        await fsp.rename(full, old);
        movedOld = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    try {
      await fsp.rename(stage, full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw taken('not a directory');
      if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EISDIR') throw taken('not an empty directory');
      throw e;
    }
  } catch (e) {
    await fsp.rm(stage, { recursive: true, force: true }).catch(() => undefined);
    if (movedOld) await fsp.rename(old, full).catch(() => undefined);
    throw e;
  }
  if (movedOld) await fsp.rm(old, { recursive: true, force: true });
}

/** Writes a file that must not exist yet, synced to disk before it counts as written. */
export async function writeFileSynced(file: string, data: Uint8Array | string): Promise<void> {
  const fh = await fs.promises.open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
