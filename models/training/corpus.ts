// The training corpus: the King James Bible as printed by Debian's `bible` program
// ("Book<chapter>:<verse> text" per line), turned into byte-level token ids with an end-of-text
// token between chapters, and split into training and held-out chapters.
import * as fs from 'node:fs';

/** Ids 0–255 are bytes; 256 marks the end of a chapter (and starts every prompt). */
export const END_OF_TEXT = 256;
export const VOCAB_SIZE = 257;

export interface Corpus {
  train: Uint16Array;
  heldOut: Uint16Array;
  chapters: { train: number; heldOut: number };
}

/** Every 50th chapter (starting with the 26th) is held out: ~2% spread over the whole book. */
export function isHeldOutChapter(index: number): boolean {
  return index % 50 === 25;
}

/** Chapters of plain verse text (one verse per line), from the `bible` program's output. */
export function readChapters(file: string): string[] {
  const chapters: string[][] = [];
  for (const line of fs.readFileSync(file, 'latin1').split('\n')) {
    const m = /^(\S+?)(\d+):(\d+) (.*)$/.exec(line);
    if (!m) continue;
    if (m[3] === '1' || chapters.length === 0) chapters.push([]);
    chapters[chapters.length - 1]!.push(m[4]!);
  }
  return chapters.map((verses) => verses.join('\n') + '\n');
}

function encodeChapters(chapters: string[]): Uint16Array {
  const bytes = chapters.map((c) => Buffer.from(c, 'utf8'));
  const out = new Uint16Array(bytes.reduce((n, b) => n + b.length + 1, 0));
  let at = 0;
  for (const b of bytes) {
    out[at++] = END_OF_TEXT;
    out.set(b, at);
    at += b.length;
  }
  return out;
}

export function loadCorpus(file: string): Corpus {
  const chapters = readChapters(file);
  const train = chapters.filter((_, i) => !isHeldOutChapter(i));
  const heldOut = chapters.filter((_, i) => isHeldOutChapter(i));
  return {
    train: encodeChapters(train), heldOut: encodeChapters(heldOut),
    chapters: { train: train.length, heldOut: heldOut.length },
  };
}
