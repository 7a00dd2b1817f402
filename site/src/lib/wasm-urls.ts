// The wasm backend's binaries as hashed build assets (tfjs would otherwise fetch them from a CDN).
export { default as plain } from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
export { default as simd } from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
export { default as threadedSimd } from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
