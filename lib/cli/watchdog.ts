// A time budget for synchronous work the CLI cannot interrupt itself: a tokenizer or chat
// template from a model directory runs on the main thread, and while it runs no timer or signal
// listener of that thread can. A worker thread still runs; when the budget is spent it writes
// one line to stderr (a direct write: the main thread's streams are blocked too) and ends the
// process with SIGTERM, whose default action applies (the CLI listens for it only later).
import { Worker } from 'node:worker_threads';

export interface Watchdog {
  stop(): Promise<void>;
}

const SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
setTimeout(() => {
  try { fs.writeSync(2, workerData.message + '\\n'); } catch {}
  process.kill(process.pid, 'SIGTERM');
}, workerData.ms);
`;

/** Starts a budget of `seconds`; `stop()` before it is spent cancels it. */
export function startWatchdog(seconds: number, message: string): Watchdog {
  const worker = new Worker(SOURCE, { eval: true, workerData: { ms: Math.round(seconds * 1000), message } });
  worker.unref();
  return { stop: async () => { await worker.terminate(); } };
}

/** The CLI's budget for loading the tokenizer, rendering templates and encoding prompts (ENTROPIX_TEXT_BUDGET_S, default 120). */
export function textBudgetSeconds(): number {
  const s = Number(process.env.ENTROPIX_TEXT_BUDGET_S);
  return Number.isFinite(s) && s > 0 ? s : 120;
}
