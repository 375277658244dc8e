// TF.js's cpu backend greets Node users once, on stderr at its first tensor: "Hi, looks like you
// are running TensorFlow.js in Node.js. To speed things up dramatically, install our node
// backend…" (tfjs-backend-cpu's MathBackendCPU.write, while the instance's `firstUse` is true).
// The CLI promises one line per error on stderr, so it turns off exactly that greeting; every other
// warning stays. The engine may make new cpu backend instances (the first op before any
// setBackend re-initializes every backend), so this works on the class, not one instance: the
// constructor's `this.firstUse = true` goes through the accessor and every instance reads false.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

export function silenceCpuBanner(): void {
  Object.defineProperty(MathBackendCPU.prototype, 'firstUse', {
    configurable: true,
    get: () => false,
    set: () => {},
  });
}
