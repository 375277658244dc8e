// The shipped artefacts (dist/, built by `npm run build`; `npm test` builds first). Tests that run
// them refuse a dist/ older than the sources, so a stale build never passes for the code.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const DIST_CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

function newestMtime(dir: string, keep: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, keep));
    else if (keep(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Throws unless dist/ exists and was built after the last change to lib/. */
export function requireFreshDist(): void {
  const dist = path.join(ROOT, 'dist');
  const built = fs.existsSync(DIST_CLI) ? newestMtime(dist, (n) => n.endsWith('.js')) : 0;
  if (built === 0) throw new Error('dist/ is missing: run `npm run build` (`npm test` builds first)');
  const source = newestMtime(path.join(ROOT, 'lib'), (n) => n.endsWith('.ts'));
  if (source > built) throw new Error('dist/ is older than lib/: run `npm run build` (`npm test` builds first)');
}
