// Prints the WebGPU adapter useBackend('webgpu') takes, for run.sh (exit 1 when there is none).
import { backendInfo, describeBackend, useBackend } from '../../lib/node';

useBackend('webgpu').then(() => {
  console.log(describeBackend());
  console.log(JSON.stringify(backendInfo()));
  process.exit(0);
}, (e: Error) => {
  console.error(e.message);
  process.exit(1);
});
