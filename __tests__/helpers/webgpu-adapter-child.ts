// Run as a child process by webgpu-sampling.test.ts: starts webgpu with the environment it was
// given and prints backendInfo() (or the refusal) as one JSON line.
import { backendInfo, describeBackend, useBackend } from '../../lib/node';

useBackend('webgpu').then(
  () => process.stdout.write(`${JSON.stringify({ info: backendInfo(), line: describeBackend() })}\n`),
  (e: Error & { code?: string }) => process.stdout.write(`${JSON.stringify({ code: e.code, message: e.message })}\n`),
).then(() => process.exit(0));
