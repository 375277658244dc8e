// TF.js's cpu backend greets Node users once, on stderr at its first tensor: "Hi, looks like you
// are running TensorFlow.js in Node.js. To speed things up dramatically, install our node
// backend…" (tfjs-backend-cpu's MathBackendCPU.write, while its `firstUse` is true). The CLI
// promises one line per error on stderr, so it marks the backend as used; other warnings stay.
import { tf } from '../core/tf';

export function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: unknown } | null;
  if (cpu && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}
