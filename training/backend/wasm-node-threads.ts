// Makes tfjs-backend-wasm's threaded-SIMD build start under Node. As shipped it cannot, for three reasons,
// each worked around here without touching node_modules:
//  1. WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when IS_NODE (tfjs issue #3830): we set it.
//  2. init() hands Emscripten a `blob:` URL for the pthread worker script (and a Blob as the main script
//     the worker imports). Node's Worker only takes file paths or code (ERR_WORKER_PATH), and the worker's
//     importScripts reads with fs. The Emscripten glue picks up `require('worker_threads').Worker` when the
//     module is instantiated, so a subclass put there first can start blob-URL workers from the same
//     script source with `eval: true`, and swap the Blob for the glue's file path in the 'load' message.
//  3. The C++ side caps threads at emscripten_num_logical_cores() / 2, computed once at instantiation
//     (it assumes hyper-threading): on a 2-vCPU machine that is 1 thread whatever setThreadsCount says.
//     os.cpus(), which that call reads under Node, reports 2x the wanted count while the backend starts.
import { createRequire } from 'node:module';
import os from 'node:os';
import workerThreads from 'node:worker_threads';
import { env } from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);
const WASM_OUT = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd';

let shimInstalled = false;

function installWorkerShim(): void {
  if (shimInstalled) return;
  const { wasmWorkerContents } = require(`${WASM_OUT}.worker.js`) as { wasmWorkerContents: string };
  // Same escaping tfjs applies before making its Blob: the template literal turned the script's "\n"
  // string escapes into real newlines.
  const workerSource = wasmWorkerContents.replace(/\n/g, '\\n');
  const gluePath = require.resolve(`${WASM_OUT}.js`);
  const NodeWorker = workerThreads.Worker;
  class EmscriptenPthreadWorker extends NodeWorker {
    constructor(script: string | URL, options?: workerThreads.WorkerOptions) {
      const fromBlob = typeof script === 'string' && script.startsWith('blob:');
      super(fromBlob ? workerSource : script, fromBlob ? { ...options, eval: true } : options);
    }

    // Emscripten ref()s a worker while its pthread runs, and pthreadpool's threads run (idle) forever:
    // the process would never exit after its work is done. They only ever compute inside a kernel call
    // that the main thread waits on synchronously, so they need not keep Node alive.
    override ref(): void {}

    override postMessage(message: unknown, transferList?: readonly workerThreads.TransferListItem[]): void {
      const load = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (load?.cmd === 'load' && typeof load.urlOrBlob !== 'string') message = { ...load, urlOrBlob: gluePath };
      super.postMessage(message, transferList);
    }
  }
  // The module namespace of a builtin is writable through its default export (the CJS exports object),
  // which is what the Emscripten glue's require('worker_threads') returns.
  (workerThreads as { Worker: typeof NodeWorker }).Worker = EmscriptenPthreadWorker;
  shimInstalled = true;
}

/**
 * Runs `initialize` (which must be what first starts the wasm backend, e.g. tf.setBackend('wasm')) with
 * the threaded build enabled for `threads` threads. Threads run as worker_threads sharing the wasm memory.
 */
export async function withWasmThreads<T>(threads: number, initialize: () => Promise<T>): Promise<T> {
  if (!Number.isInteger(threads) || threads < 1 || threads > 8) {
    throw new Error(`wasm threads must be an integer from 1 to 8 (tfjs pre-creates 8 workers), got ${threads}`);
  }
  installWorkerShim();
  env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  const realCpus = os.cpus;
  const reported = Array.from({ length: 2 * Math.max(threads, realCpus().length) }, () => realCpus()[0]);
  os.cpus = () => reported;
  try {
    return await initialize();
  } finally {
    os.cpus = realCpus;
  }
}
