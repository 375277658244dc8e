// Debian's Chromium for the browser tests, under the suite's missing-environment policy
// (helpers/environment.ts: a loud skip with the install command, a failure when CI=true).
import * as fs from 'fs';
import type { Environment } from './environment';

/** The Chromium to drive: $CHROMIUM_PATH, else Debian's /usr/bin/chromium; null when neither exists. */
export function chromiumPath(): string | null {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && fs.existsSync(p)) return p;
  }
  return null;
}

export const CHROMIUM: Environment = {
  name: "Debian's Chromium (headless, for the browser tests)",
  install: 'sudo apt-get update && sudo apt-get install -y chromium',
  missing: () => (chromiumPath() ? null : 'no /usr/bin/chromium and no $CHROMIUM_PATH'),
};
