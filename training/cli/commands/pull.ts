import { parseFlags, UsageError } from '../cli-support.ts';
import { resolveBucket, runsRoot } from '../buckets.ts';
import { PullError, pullRun } from '../../pipeline/pull.ts';
import { ManifestError } from '../../glo/manifest.ts';
import { StorageError } from '../../storage/storage.ts';

const pullFlags = {
  out: { type: 'string' as const },
  artifacts: { type: 'string' as const },
  quiet: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

export function pullUsage(): string {
  return `Usage: glo pull <runId> [--out DIR] [--artifacts BUCKET | s3://bucket/prefix]

Downloads a published run to DIR/<runId>/ (manifest.json last, every file checked against the manifest's
sizes) and adds it to DIR/index.json, the layout the local site serves (npm start uses runs/).

  --out DIR          the local folder of runs [runs]
  --artifacts NAME   the artifacts bucket (runs under s3://NAME/runs/) or an s3:// URI of a runs folder
                     [env GLO_ARTIFACTS_BUCKET, else the stack's ArtifactsBucketName]
  --quiet            no per-file lines
`;
}

export async function pullCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('pull', args, pullFlags, { positionals: true });
  if (values.help) {
    process.stdout.write(pullUsage());
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('Give one run id: glo pull <runId> --out DIR ("glo runs" lists them).');
  const from = runsRoot(await resolveBucket('artifacts', values.artifacts as string | undefined));
  const out = (values.out as string | undefined) ?? 'runs';
  try {
    const { folder, bytes, manifest } = await pullRun({
      from,
      runId: positionals[0],
      out,
      onFile: values.quiet ? undefined : (path, size) => process.stderr.write(`  ${path} (${size} bytes)\n`),
    });
    process.stderr.write(`pulled ${manifest.runId} (${manifest.files.length + 1} files, ${bytes} bytes) to ${folder}; listed in ${out.replace(/\/+$/, '')}/index.json\n`);
    return 0;
  } catch (error) {
    if (error instanceof PullError || error instanceof StorageError || error instanceof ManifestError) {
      process.stderr.write(`glo pull: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
