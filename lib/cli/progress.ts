// A one-line progress bar for long CLI jobs (model conversion), redrawn in place on a terminal
// and printed every 10% otherwise (logs, pipes), always on stderr.

export interface ProgressBar {
  update(done: number, total: number): void;
  finish(): void;
}

/** "[##########----------]  50% 15/30 label" */
export function renderBar(done: number, total: number, width = 30, label = ''): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const filled = Math.round(fraction * width);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent} ${done}/${total}${label ? ` ${label}` : ''}`;
}

export function progressBar(stream: NodeJS.WriteStream, label: string): ProgressBar {
  let lastDecile = -1;
  let drawn = false;
  return {
    update(done, total) {
      if (stream.isTTY) {
        stream.write(`\r${renderBar(done, total, 30, label)}`);
        drawn = true;
        return;
      }
      const decile = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (decile !== lastDecile) {
        lastDecile = decile;
        stream.write(`${renderBar(done, total, 30, label)}\n`);
      }
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
