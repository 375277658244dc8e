// `npm run demo:screenshot`: serves the demo, generates 40 tokens on wasm with seed 7 in headless
// Chromium (playwright-core + Debian's chromium, or $CHROMIUM_PATH) and writes
// examples/browser/screenshot.png for the README.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p) => p && fs.existsSync(p));
if (!executablePath) {
  console.error('Chromium is missing: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)');
  process.exit(1);
}
const out = process.argv[2] ?? path.join(here, 'screenshot.png');
const { url, close } = await startServer();
const browser = await chromium.launch({ executablePath, args: [
  '--headless', '--no-sandbox', '--disable-gpu-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
] });
try {
  const page = await browser.newPage({ viewport: { width: 1480, height: 860 } });
  await page.goto(`${url}?backend=wasm`);
  await page.waitForFunction(() => globalThis.demo?.status === 'ready', null, { timeout: 60000 });
  await page.click('#start');
  await page.waitForFunction(() => ['done', 'error'].includes(globalThis.demo.status), null, { timeout: 120000 });
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await close();
}
