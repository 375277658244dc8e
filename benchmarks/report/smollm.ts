// A random SmolLM2-135M-shaped Llama (HuggingFaceTB/SmolLM2-135M's config.json), written as a BF16
// HF checkpoint and converted once, for the decode and prefill jobs of benchmarks/bench.ts.
import { convertHfCheckpoint } from '../../lib/node';
import { writeRandomCheckpoint } from '../random-checkpoint';

export const SMOLLM = {
  numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
  vocabSize: 49152, ropeTheta: 100000, rmsNormEps: 1e-5, maxPositions: 8192, tiedEmbeddings: true,
};

/** Writes the checkpoint into hfDir and converts it into convertedDir (loadModel's format). */
export async function writeSmolLmShaped(hfDir: string, convertedDir: string): Promise<void> {
  await writeRandomCheckpoint(hfDir, 'BF16', SMOLLM);
  await convertHfCheckpoint(hfDir, convertedDir);
}
