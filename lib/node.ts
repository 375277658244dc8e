// The Node entry point (`require('entropix-tfjs/node')`): everything in the main entry, plus what
// reads model files with fs. The main entry stays free of Node built-ins so browsers can bundle it.
export * from './index';
export { loadHfCheckpoint } from './models/hf-checkpoint';
export { convertHfCheckpoint } from './models/convert';
export type { ConvertOptions } from './models/convert';
export { loadModel } from './models/graph-model';
export { loadTokenizer, applyChatTemplate } from './text/tokenizer-files';
