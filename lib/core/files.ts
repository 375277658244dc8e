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

/**
 * Bytes a JSON file of a model may have, by file name: room for every real one (a 33 MB
 * tokenizer.json exists) and nothing like /dev/zero or a 200 MB model.json.
 */
export const JSON_SIZE_LIMITS: Readonly<Record<string, number>> = {
  'tokenizer.json': 128 << 20,
  'tokenizer_config.json': 32 << 20,
  'model.json': 64 << 20,
  'model.safetensors.index.json': 16 << 20,
};
/** For any other JSON file (config.json, generation_config.json, entropix.json). */
export const DEFAULT_JSON_SIZE_LIMIT = 4 << 20;

/** Why an fs call failed, in words ("permission denied", …). */
function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'ELOOP') return 'is a loop of symbolic links';
  return (e as Error).message;
}

/**
 * The folder a model directory's symbolic links may point into: the directory itself, or, for a
 * Hugging Face cache snapshot (`…/models--org--name/snapshots/<revision>`, all links into the
 * repo's `blobs/`), that cache repo folder.
 */
export function linkRoot(dir: string): string {
  const real = fs.realpathSync(dir);
  const parent = nodePath.dirname(real);
  if (nodePath.basename(parent) === 'snapshots' && /^(models|datasets|spaces)--/.test(nodePath.basename(nodePath.dirname(parent)))) {
    return nodePath.dirname(parent);
  }
  return real;
}

/**
 * Opens a file of a model directory for reading under the policy for untrusted files: a
 * symbolic link must stay inside linkRoot(its directory) (never followed out); only a regular
 * file is opened for real (a FIFO or device is refused without blocking: O_NONBLOCK, then fstat);
 * at most `maxBytes`. Errors are INVALID_ARGUMENT naming the file; a missing file is reported as
 * `undefined` when `required` is false.
 */
export async function openModelFile(path: string, argument: string, options: { maxBytes?: number; required?: boolean; verb?: string } = {}):
  Promise<{ handle: fs.promises.FileHandle; size: number } | undefined> {
  const fsp = fs.promises;
  try {
    const link = await fsp.lstat(path);
    if (link.isSymbolicLink()) {
      const target = await fsp.realpath(path);
      const root = linkRoot(nodePath.dirname(path));
      const rel = nodePath.relative(root, target);
      if (rel.startsWith('..') || nodePath.isAbsolute(rel)) {
        throw refused(argument, `${path}: is a symbolic link to ${target}, outside ${root}: refused`);
      }
    }
  } catch (e) {
    if (e instanceof EntropixError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && options.required === false) return undefined;
    throw refused(argument, `${path}: ${options.verb ?? 'cannot read'}: ${reason(e)}`);
  }
  let handle: fs.promises.FileHandle;
  try {
    handle = await fsp.open(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && options.required === false) return undefined;
    throw refused(argument, `${path}: ${options.verb ?? 'cannot read'}: ${reason(e)}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw refused(argument, `${path}: is not a regular file`);
    if (options.maxBytes !== undefined && stat.size > options.maxBytes) {
      throw refused(argument, `${path}: is ${stat.size} bytes, more than the ${options.maxBytes} allowed for this file`);
    }
    return { handle, size: stat.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

async function readJson(path: string, argument: string, required: boolean): Promise<unknown> {
  const maxBytes = JSON_SIZE_LIMITS[nodePath.basename(path)] ?? DEFAULT_JSON_SIZE_LIMIT;
  const opened = await openModelFile(path, argument, { maxBytes, required });
  if (opened === undefined) return undefined;
  let text: string;
  try {
    // One read of the size fstat gave, plus one byte: a file that grows meanwhile is refused.
    const buffer = Buffer.alloc(opened.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await opened.handle.read(buffer, got, buffer.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > opened.size) throw refused(argument, `${path}: grew while it was read`);
    }
    text = buffer.subarray(0, got).toString('utf8');
  } catch (e) {
    if (e instanceof EntropixError) throw e;
    throw refused(argument, `${path}: cannot read: ${reason(e)}`);
  } finally {
    await opened.handle.close();
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
