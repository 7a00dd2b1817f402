import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { sortFloat32 } from './radix-sort.ts';

/**
 * Sorts the columns of a matrix in place on several threads: the calling thread and helper worker threads,
 * which take columns one at a time from a shared counter until none is left. Sorting is most of the sliced
 * Wasserstein distance's time (training/eval/swd.ts: 128 columns of 131,072 projections per set, level and
 * repeat), and it is plain JavaScript, so without helpers one core sorts while the others wait.
 *
 * The call is synchronous: the caller sorts alongside the helpers, then blocks (Atomics.wait) until every
 * column a helper took is done. A helper that has not started yet (they load in the background, about half
 * a second), or failed to, simply takes no columns, so the result never depends on the helpers: each
 * column is sorted exactly once, by radix-sort.ts, whoever takes it.
 */

/** One sort: `columns` contiguous columns of `rows` floats in `values`; control = [next column to take, columns finished]. */
interface SortJob {
  values: SharedArrayBuffer;
  byteOffset: number;
  rows: number;
  columns: number;
  control: SharedArrayBuffer;
}

/** Takes and sorts columns until none is left; returns how many this thread sorted. */
export function takeAndSort(job: SortJob, scratch: Float32Array): number {
  const control = new Int32Array(job.control);
  let sorted = 0;
  for (let j = Atomics.add(control, 0, 1); j < job.columns; j = Atomics.add(control, 0, 1)) {
    sortFloat32(new Float32Array(job.values, job.byteOffset + j * job.rows * 4, job.rows), scratch);
    sorted++;
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  }
  return sorted;
}

let helperCount = Math.max(0, Math.min(availableParallelism() - 1, 3));
let helpers: Worker[] | undefined;
let helpersReady: Promise<void> = Promise.resolve();

/**
 * Helper threads from now on (default: one per core beyond the first, at most 3); 0 sorts on the caller's
 * thread only. Replaces the running helpers.
 */
export function setColumnSortHelpers(count: number): void {
  if (!Number.isInteger(count) || count < 0) throw new Error(`setColumnSortHelpers: count must be an integer >= 0, got ${count}.`);
  void closeColumnSortHelpers();
  helperCount = count;
}

/** Ends the helper threads (they are unref'd, so they never keep a process alive; this frees them early). */
export async function closeColumnSortHelpers(): Promise<void> {
  const running = helpers ?? [];
  helpers = undefined;
  helpersReady = Promise.resolve();
  await Promise.all(running.map((w) => w.terminate()));
}

/** Resolves once every helper has loaded (or failed to, and dropped out); sorts work before that too. */
export function columnSortHelpersReady(): Promise<void> {
  startHelpers();
  return helpersReady;
}

function startHelpers(): Worker[] {
  if (helpers) return helpers;
  const started: Worker[] = [];
  helpers = started;
  // The helper runs the TypeScript module column-sort-worker.ts, so it registers the tsx loader first
  // (the CLI runs on it too; there is no build step).
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./column-sort-worker.ts', import.meta.url).href;
  const source = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  const loads: Promise<void>[] = [];
  for (let i = 0; i < helperCount; i++) {
    const worker = new Worker(source, { eval: true });
    worker.unref();
    started.push(worker);
    loads.push(new Promise((resolve) => {
      worker.once('message', () => resolve());
      // A helper that cannot load takes no columns; the caller's thread sorts them.
      worker.once('error', () => {
        started.splice(started.indexOf(worker), 1);
        resolve();
      });
      worker.once('exit', () => resolve());
    }));
  }
  helpersReady = Promise.all(loads).then(() => undefined);
  return started;
}

/**
 * Sorts each of the `columns` contiguous runs of `rows` values in `values` ascending, in place, as
 * sortFloat32 does. `values` must be backed by a SharedArrayBuffer (see sharedFloat32) for helpers to take
 * part; otherwise this thread sorts every column. Returns the number of columns this thread sorted.
 */
export function sortColumns(values: Float32Array, rows: number, columns: number): number {
  if (values.length < rows * columns) throw new Error(`sortColumns: ${values.length} values, expected ${rows} x ${columns}.`);
  const scratch = new Float32Array(rows);
  const job: SortJob = { values: values.buffer as SharedArrayBuffer, byteOffset: values.byteOffset, rows, columns, control: new SharedArrayBuffer(8) };
  if (!(values.buffer instanceof SharedArrayBuffer)) {
    return takeAndSort(job, scratch);
  }
  for (const worker of startHelpers()) worker.postMessage(job);
  const sorted = takeAndSort(job, scratch);
  // Wait for the columns helpers took and are still sorting (each takes a few milliseconds).
  const control = new Int32Array(job.control);
  for (let finished = Atomics.load(control, 1); finished < columns; finished = Atomics.load(control, 1)) {
    Atomics.wait(control, 1, finished);
  }
  return sorted;
}

/** A zeroed Float32Array on a SharedArrayBuffer, which sortColumns' helpers can write. */
export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}
