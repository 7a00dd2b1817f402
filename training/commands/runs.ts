import { parseFlags } from '../cli-support.ts';
import type { RunsIndexEntry } from '../glo/runs-index.ts';
import { resolveBucket, runsRoot } from '../pipeline/buckets.ts';
import { readRunsIndex } from '../pipeline/runs-index-store.ts';

const runsFlags = {
  artifacts: { type: 'string' as const },
  json: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

export function runsUsage(): string {
  return `Usage: glo runs [--artifacts BUCKET | s3://bucket/prefix | ./folder] [--json]

Lists the published runs of runs/index.json, newest first: id, dataset, created, images, and the
reconstruction PSNR of GLO against PCA with as many components.

  --artifacts NAME   the artifacts bucket (s3://NAME/runs/), an s3:// URI, or a local folder (./runs)
                     [env GLO_ARTIFACTS_BUCKET, else the stack's ArtifactsBucketName]
  --json             print runs/index.json's entries as JSON
`;
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
  const header = ['RUN', 'DATASET', 'CREATED (UTC)', 'IMAGES', 'PSNR GLO vs PCA'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export async function runsCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('runs', args, runsFlags);
  if (values.help) {
    process.stdout.write(runsUsage());
    return 0;
  }
  const root = runsRoot(await resolveBucket('artifacts', values.artifacts as string | undefined));
  const index = await readRunsIndex(root);
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
