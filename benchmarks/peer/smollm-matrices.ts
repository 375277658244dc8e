// SmolLM2-135M's weight matrices [k, n] in the order a decode step reads them (30 layers of qkv,
// o, gate+up, down, then the tied head), for the kernel harnesses of this folder.
export const SMOLLM_MATRICES: [number, number][] = [];
for (let i = 0; i < 30; i++) SMOLLM_MATRICES.push([576, 960], [576, 576], [576, 3072], [1536, 576]);
SMOLLM_MATRICES.push([576, 49152]);

/** Their bytes as float32. */
export const FLOAT32_BYTES = SMOLLM_MATRICES.reduce((a, [k, n]) => a + 4 * k * n, 0);

/** Bytes before the matrices for x and y (y at 65536). */
export const SCRATCH = 1 << 20;

/** A wasm memory for `bytes` of matrices after the scratch. */
export const memoryFor = (bytes: number) => new WebAssembly.Memory({ initial: Math.ceil((bytes + SCRATCH) / 65536) + 1 });
