// The TensorFlow.js the page uses, in one chunk that loadTf() imports on demand: core, the layers loader for the
// generator, and the pure-JS cpu backend as the last resort. The faster backends are separate chunks.
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
export { loadLayersModel } from '@tensorflow/tfjs-layers';
export type { LayersModel } from '@tensorflow/tfjs-layers';
