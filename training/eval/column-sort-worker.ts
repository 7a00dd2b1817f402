// A helper thread of column-sort.ts: says it is ready, then takes and sorts columns of each job it is sent.
import { parentPort } from 'node:worker_threads';
import { takeAndSort } from './column-sort.ts';

let scratch = new Float32Array(0);
parentPort!.on('message', (job: Parameters<typeof takeAndSort>[0]) => {
  if (scratch.length < job.rows) scratch = new Float32Array(job.rows);
  takeAndSort(job, scratch.subarray(0, job.rows));
});
parentPort!.postMessage('ready');
