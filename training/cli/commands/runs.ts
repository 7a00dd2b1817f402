import { parseFlags } from '../cli-support.ts';
import { RunsIndexError, type RunsIndexEntry } from '../../glo/runs-index.ts';
import { StorageError } from '../../storage/storage.ts';
import { resolveBucket, runsRoot } from '../buckets.ts';
import { listFailureRecords, type FailureRecord } from '../../pipeline/job.ts';
import { readRunsIndex } from '../../pipeline/runs-index-store.ts';

const runsFlags = {
  artifacts: { type: 'string' as const },
  json: { type: 'boolean' as const },
  failures: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

export function runsUsage(): string {
  return `Usage: glo runs [--artifacts BUCKET | s3://bucket/prefix | ./folder] [--json] [--failures]

Lists the published runs of runs/index.json, newest first: id, dataset, created, images, and the
reconstruction PSNR of GLO against PCA with as many components.

  --artifacts NAME   the artifacts bucket (s3://NAME/runs/), an s3:// URI, or a local folder (./runs)
                     [env GLO_ARTIFACTS_BUCKET, else the stack's ArtifactsBucketName]
  --json             print runs/index.json's entries as JSON
  --failures         list the jobs' failure records (runs/<runId>/failure.json) instead: stage, attempt, error
`;
}

function table(header: string[], rows: string[][], rightAligned: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** The table `glo runs --failures` prints: one line per record, the message's first line. */
export function formatFailuresTable(records: FailureRecord[]): string {
  const rows = records.map((r) => [r.runId, r.time.replace('T', ' ').slice(0, 16), r.stage, String(r.attempt), String(r.exitCode), r.message.split('\n')[0].slice(0, 120)]);
  return table(['RUN', 'TIME (UTC)', 'STAGE', 'ATTEMPT', 'EXIT', 'ERROR'], rows, [3, 4]);
}

/** The table `glo runs` prints. */
export function formatRunsTable(runs: RunsIndexEntry[]): string {
  const rows = runs.map((r) => [
    r.runId,
    r.dataset,
    r.createdAt.replace('T', ' ').slice(0, 16),
    String(r.imageCount),
    `${r.reconstructionPsnr.toFixed(2)} dB vs ${r.pcaReconstructionPsnr.toFixed(2)} dB`,
  ]);
  return table(['RUN', 'DATASET', 'CREATED (UTC)', 'IMAGES', 'PSNR GLO vs PCA'], rows, [3]);
}

export async function runsCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('runs', args, runsFlags);
  if (values.help) {
    process.stdout.write(runsUsage());
    return 0;
  }
  const root = runsRoot(await resolveBucket('artifacts', values.artifacts as string | undefined));
  if (values.failures) {
    const records = await listFailureRecords(root);
    if (values.json) process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    else if (records.length === 0) process.stderr.write(`No failure records under ${root}/.\n`);
    else process.stdout.write(formatFailuresTable(records));
    return 0;
  }
  let index;
  try {
    index = await readRunsIndex(root);
  } catch (error) {
    if (!(error instanceof StorageError || error instanceof RunsIndexError)) throw error;
    process.stderr.write(`glo runs: ${error.message}\n`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(index.runs, null, 2)}\n`);
    return 0;
  }
  if (index.runs.length === 0) {
    process.stderr.write(`No published runs in ${root}/index.json yet. Upload a dataset with "glo upload <folder> --dataset NAME".\n`);
    return 0;
  }
  process.stdout.write(formatRunsTable(index.runs));
  return 0;
}
