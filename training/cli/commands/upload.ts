import cliProgress from 'cli-progress';
import { gloConfigSchema, presets, toFlag, type GloConfigInput, type PresetName } from '../../glo/config.ts';
import { parseFlags, readConfigFile, UsageError } from '../cli-support.ts';
import { resolveBucket } from '../buckets.ts';
import { JobSpecError } from '../../pipeline/job-spec.ts';
import { StorageError } from '../../storage/storage.ts';
import { DEFAULT_MULTIPART_THRESHOLD, DEFAULT_UPLOAD_CONCURRENCY, uploadDataset, UploadError, type UploadEvent } from '../../pipeline/upload.ts';

const configKeys = Object.keys(gloConfigSchema.shape);
const uploadFlags = {
  dataset: { type: 'string' as const },
  bucket: { type: 'string' as const },
  config: { type: 'string' as const },
  preset: { type: 'string' as const },
  concurrency: { type: 'string' as const },
  'multipart-threshold-mib': { type: 'string' as const },
  delete: { type: 'boolean' as const },
  quiet: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
  ...Object.fromEntries(configKeys.map((k) => [toFlag(k), { type: 'string' as const }])),
};

export function uploadUsage(): string {
  return `Usage: glo upload <folder> --dataset NAME [--preset P] [--config FILE] [training options]

Uploads the images of <folder> (subfolders = class labels) to s3://<datasets bucket>/datasets/NAME/, then
writes datasets/NAME/glo.json with the training options LAST: its creation starts the training job.

  --dataset NAME              1-63 lowercase letters, digits and hyphens (e.g. cats, faces-2026)
  --bucket NAME               the datasets bucket [env GLO_DATASETS_BUCKET, else the stack's DatasetsBucketName]
  --preset NAME               ${Object.keys(presets).join(' | ')}
  --config FILE               JSON training options (as "glo train --config"); flags override it
  --<option> VALUE            any training option of "glo train --help" (e.g. --epochs 40 --image-size 32)
  --concurrency N             files uploading at once [${DEFAULT_UPLOAD_CONCURRENCY}]
  --multipart-threshold-mib N files this big go up in parallel parts of this size [${DEFAULT_MULTIPART_THRESHOLD / 2 ** 20}; min 5]
  --delete                    delete objects under datasets/NAME/ that the folder no longer has
  --quiet                     no progress bar

Files already uploaded unchanged (same size and MD5) are skipped, so an interrupted upload resumes.
Uploading glo.json again (e.g. with other options) starts a new training run.
GLO_STACK names the stack whose outputs give the bucket (default "Glo").
`;
}

/** A flag's text to a value (as glo train does): numbers and comma-separated lists; zod checks the rest. */
function parseValue(text: string): unknown {
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text)) return Number(text);
  if (text.includes(',')) return text.split(',').map((v) => (/^-?[\d.]+(e-?\d+)?$/i.test(v.trim()) ? Number(v) : v.trim()));
  return text;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export async function uploadCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('upload', args, uploadFlags, { positionals: true });
  if (values.help) {
    process.stdout.write(uploadUsage());
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('Give exactly one folder: glo upload <folder> --dataset NAME. Run "glo upload --help".');
  const dataset = values.dataset as string | undefined;
  if (!dataset) throw new UsageError('Missing --dataset NAME: the dataset\'s name in the bucket (datasets/NAME/).');
  const preset = values.preset as string | undefined;
  if (preset !== undefined && !(preset in presets)) throw new UsageError(`Unknown --preset "${preset}": use one of ${Object.keys(presets).join(', ')}.`);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) throw new UsageError(`--concurrency must be a whole number >= 1, got "${values.concurrency}".`);
  const thresholdMib = values['multipart-threshold-mib'] === undefined ? undefined : Number(values['multipart-threshold-mib']);
  if (thresholdMib !== undefined && !(thresholdMib >= 5)) throw new UsageError(`--multipart-threshold-mib must be at least 5 (S3's minimum part size), got "${values['multipart-threshold-mib']}".`);

  const fromFile = (values.config ? readConfigFile(values.config as string) : {}) as GloConfigInput & { preset?: string };
  const { preset: filePreset, ...fileOptions } = fromFile;
  const fromFlags: Record<string, unknown> = {};
  for (const key of configKeys) {
    const v = values[toFlag(key)];
    if (typeof v === 'string') fromFlags[key] = parseValue(v);
  }

  const quiet = Boolean(values.quiet);
  const tty = Boolean(process.stderr.isTTY) && !quiet;
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  let files = 0;
  const onEvent = (event: UploadEvent) => {
    if (event.type === 'plan') {
      files = event.files;
      if (!quiet) process.stderr.write(`${event.files} files to upload (${formatBytes(event.bytes)}), ${event.skipped} already there unchanged\n`);
      if (tty && event.files > 0) {
        bar = new cliProgress.SingleBar(
          { format: 'upload |{bar}| {percentage}% | {files} files | {transferred} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(1, event.bytes), 0, { files: `0/${event.files}`, transferred: formatBytes(0) });
      }
    } else if (event.type === 'progress') {
      bar?.increment(event.bytes, {});
      if (bar) bar.update({ transferred: formatBytes(bar.getProgress() * bar.getTotal()) });
    } else if (event.type === 'done') {
      done++;
      bar?.update({ files: `${done}/${files}` });
    }
  };

  try {
    const bucket = await resolveBucket('datasets', values.bucket as string | undefined);
    const result = await uploadDataset({
      folder: positionals[0],
      dataset,
      bucket,
      preset: (preset ?? filePreset) as PresetName | undefined,
      options: { ...(fileOptions as GloConfigInput), ...(fromFlags as GloConfigInput) },
      concurrency,
      multipartThresholdBytes: thresholdMib === undefined ? undefined : thresholdMib * 2 ** 20,
      deleteExtra: Boolean(values.delete),
      onEvent,
    });
    bar?.stop();
    if (result.notImages.length) process.stderr.write(`left out ${result.notImages.length} files that are not images (e.g. ${result.notImages.slice(0, 3).join(', ')})\n`);
    if (result.extra.length) {
      process.stderr.write(
        result.deleted
          ? `deleted ${result.extra.length} objects the folder no longer has\n`
          : `${result.extra.length} objects under datasets/${dataset}/ are not in the folder and will be trained on too (e.g. ${result.extra.slice(0, 3).join(', ')}); --delete removes them\n`,
      );
    }
    process.stderr.write(`uploaded ${result.uploaded.length} files (${formatBytes(result.bytesUploaded)}), ${result.unchanged.length} unchanged; wrote ${result.spec}: training starts\n`);
    return 0;
  } catch (error) {
    bar?.stop();
    if (error instanceof JobSpecError || error instanceof UploadError || error instanceof StorageError) {
      process.stderr.write(`glo upload: ${error.message}\n`);
      return error instanceof JobSpecError ? 2 : 1;
    }
    throw error;
  }
}
