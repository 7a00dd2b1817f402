// `glo pull`: copies a published run to a local folder of runs so the site can serve it (npm start's layout:
// <out>/<runId>/ beside <out>/index.json). Same publish rule as the trainer: the local manifest.json is
// removed first and written last, after every file is in place with the size the manifest records.
import pLimit from 'p-limit';
import { parseManifest, type RunManifest } from '../glo/manifest.ts';
import { runsIndexEntry } from '../glo/runs-index.ts';
import { FolderStorage } from '../storage/folder-storage.ts';
import { StorageNotFoundError } from '../storage/storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { addRunToIndex } from './runs-index-store.ts';

export class PullError extends Error {
  override name = 'PullError';
}

export interface PullOptions {
  /** s3://bucket/runs (or any runs root, a folder too). */
  from: string;
  runId: string;
  /** The local folder of runs; the run lands in <out>/<runId>/ and is added to <out>/index.json. */
  out: string;
  concurrency?: number;
  onFile?: (path: string, bytes: number) => void;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export async function pullRun(options: PullOptions): Promise<{ manifest: RunManifest; folder: string; bytes: number }> {
  const { runId } = options;
  if (!RUN_ID.test(runId)) throw new PullError(`${JSON.stringify(runId)} is not a run id (letters, digits, '.', '_' and '-'); "glo runs" lists them.`);
  const source = openStorage(`${options.from.replace(/\/+$/, '')}/${runId}`);
  let manifestBytes: Uint8Array;
  try {
    manifestBytes = await source.read('manifest.json');
  } catch (error) {
    if (error instanceof StorageNotFoundError) {
      throw new PullError(`No published run ${runId} at ${source.uri} (no manifest.json: unknown id, or still training). "glo runs" lists the published ones.`);
    }
    throw error;
  }
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(manifestBytes)), `${source.uri}/manifest.json`);
  if (manifest.runId !== runId) throw new PullError(`${source.uri}/manifest.json is for run ${manifest.runId}, not ${runId}.`);

  const target = new FolderStorage(`${options.out.replace(/\/+$/, '')}/${runId}`);
  await target.delete(['manifest.json']);
  let bytes = 0;
  const bounded = pLimit(options.concurrency ?? 8);
  try {
    await Promise.all(manifest.files.map((file) => bounded(async () => {
      const data = await source.read(file.path);
      if (data.byteLength !== file.bytes) {
        throw new PullError(`${source.uri}/${file.path} has ${data.byteLength} bytes but the manifest says ${file.bytes}: the run is damaged or being rewritten; nothing was published locally.`);
      }
      await target.write(file.path, data);
      bytes += data.byteLength;
      options.onFile?.(file.path, data.byteLength);
    })));
  } finally {
    bounded.clearQueue(); // after a failure, start no further downloads
  }
  // eval.json (written by `glo eval` beside a published run, not listed in its manifest) comes along when there is one:
  // the site starts the Sample view with the sampler it measured best.
  let evalBytes = 0;
  if (await source.exists('eval.json')) {
    const report = await source.read('eval.json');
    await target.write('eval.json', report);
    evalBytes = report.byteLength;
  }
  await target.write('manifest.json', manifestBytes);
  await addRunToIndex(options.out, runsIndexEntry(manifest));
  return { manifest, folder: target.uri, bytes: bytes + evalBytes + manifestBytes.byteLength };
}
