import { z } from 'zod';
import type { RunManifest } from './manifest.ts';

/**
 * runs/index.json: the list of published runs beside the run folders (docs/architecture.md section 3). The site reads it
 * to offer runs; `glo job` and `npm start` add to it only after the run's manifest.json exists, so every entry
 * points at a complete run. Newest first.
 */
export const RUNS_INDEX_FORMAT = 'glo-runs';
export const RUNS_INDEX_VERSION = 1;

export const runsIndexEntrySchema = z.strictObject({
  runId: z.string().describe('Folder name under runs/; the manifest is runs/<runId>/manifest.json.'),
  dataset: z.string().describe('Dataset source as in the manifest (emoji, mnist, s3://..., a folder).'),
  createdAt: z.iso.datetime(),
  imageCount: z.number().int().positive(),
  imageSize: z.number().int().positive(),
  thumbnail: z.string().optional().describe('Path relative to the run folder of a small preview image.'),
  reconstructionPsnr: z.number(),
  pcaReconstructionPsnr: z.number(),
});

export const unreadableRunSchema = z.strictObject({
  runId: z.string().describe('A run folder with a manifest.json that could not be read.'),
  problem: z.string().describe('Why, as glo serve found it (the site shows the run\'s own error when it is opened).'),
});

export const runsIndexSchema = z.strictObject({
  format: z.literal(RUNS_INDEX_FORMAT),
  formatVersion: z.literal(RUNS_INDEX_VERSION),
  runs: z.array(runsIndexEntrySchema),
  unreadable: z.array(unreadableRunSchema).optional()
    .describe('Only in a local index (glo serve): run folders whose manifest is broken, so the site can list them with the reason.'),
});

export type RunsIndexEntry = z.infer<typeof runsIndexEntrySchema>;
export type RunsIndex = z.infer<typeof runsIndexSchema>;

export class RunsIndexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunsIndexError';
  }
}

/** Validates index.json text; a newer format version or a malformed file gets a message a person can act on. */
export function parseRunsIndex(text: string): RunsIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RunsIndexError(`runs/index.json is not valid JSON: ${(e as Error).message}`);
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > RUNS_INDEX_VERSION) {
    throw new RunsIndexError(`runs/index.json has format version ${version}; this glo reads version ${RUNS_INDEX_VERSION}. Update glo.`);
  }
  const parsed = runsIndexSchema.safeParse(json);
  if (!parsed.success) throw new RunsIndexError(`runs/index.json is malformed: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function emptyRunsIndex(): RunsIndex {
  return { format: RUNS_INDEX_FORMAT, formatVersion: RUNS_INDEX_VERSION, runs: [] };
}

/** The index entry for a published run, from its manifest alone. */
export function runsIndexEntry(manifest: RunManifest): RunsIndexEntry {
  const thumbnail = manifest.previews.find((p) => p.includes('reconstructions')) ?? manifest.previews[0];
  return {
    runId: manifest.runId,
    dataset: manifest.dataset.source,
    createdAt: manifest.createdAt,
    imageCount: manifest.dataset.imageCount,
    imageSize: manifest.dataset.imageSize,
    ...(thumbnail ? { thumbnail } : {}),
    reconstructionPsnr: manifest.metrics.final.reconstructionPsnr,
    pcaReconstructionPsnr: manifest.metrics.final.pcaReconstructionPsnr,
  };
}

/** Adds or replaces one run's entry (same runId), newest first. Pure: concurrency is the writer's job. */
export function withRun(index: RunsIndex, entry: RunsIndexEntry): RunsIndex {
  const runs = [entry, ...index.runs.filter((r) => r.runId !== entry.runId)];
  runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return { ...index, runs };
}
