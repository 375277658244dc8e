// A random SmolLM2-135M-shaped Llama (HuggingFaceTB/SmolLM2-135M's config.json), written once as a
// float32 HF checkpoint into benchmarks/peer/out/smollm (the peer exports the same bytes to ONNX)
// and converted on every run, for the SmolLM2 jobs of benchmarks/bench.ts.
import { join } from 'node:path';
import { convertHfCheckpoint } from '../../lib/node';
import { ensureCheckpoint, PEER_ROOT } from '../peer/prepare';

export const SMOLLM = {
  numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
  vocabSize: 49152, ropeTheta: 100000, rmsNormEps: 1e-5, maxPositions: 8192, tiedEmbeddings: true,
};

/** The checkpoint's folder (gitignored); `bench:model -- --write-checkpoint benchmarks/peer/out --shapes smollm --dtype F32` writes the same. */
export const SMOLLM_CHECKPOINT = join(PEER_ROOT, 'smollm');

/** Writes the checkpoint when it is not there yet and converts it into convertedDir (loadModel's format). */
export async function writeSmolLmShaped(convertedDir: string): Promise<void> {
  await ensureCheckpoint(SMOLLM_CHECKPOINT, SMOLLM);
  await convertHfCheckpoint(SMOLLM_CHECKPOINT, convertedDir);
}
