// The suite's policy for an environment a test needs: a loud skip with the install command on a
// user's machine, a failure in CI (CI=true). Here: Debian's Chromium for the browser tests.
import * as fs from 'fs';

export const CHROMIUM_INSTALL = 'apt-get update && apt-get install -y chromium';

/** The Chromium to drive: $CHROMIUM_PATH, else Debian's /usr/bin/chromium; null when neither exists. */
export function chromiumPath(): string | null {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && fs.existsSync(p)) return p;
  }
  return null;
}

/** Call when `what` is missing: throws in CI, else warns loudly (the caller then skips). */
export function missingEnvironment(what: string, install: string): void {
  const line = `${what} is missing: these tests are skipped. Install it with: ${install}`;
  if (/^(1|true)$/i.test(process.env.CI ?? '')) throw new Error(`${line} (CI=true: missing environments fail)`);
  // eslint-disable-next-line no-console
  console.warn(`\n${'!'.repeat(line.length)}\n${line}\n${'!'.repeat(line.length)}\n`);
}
