// The tfjs-core instance this package computes with. It is a peer dependency, so a user's own
// @tensorflow/tfjs-core (or @tensorflow/tfjs, which re-exports it) and ours are one engine.
import * as tf from '@tensorflow/tfjs-core';
// The CPU backend is always there as the reference and the fallback.
import '@tensorflow/tfjs-backend-cpu';

export { tf };
