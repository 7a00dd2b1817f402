// The job spec `datasets/<name>/glo.json` (docs/architecture.md section 4): training options for one dataset, written
// last by `glo upload`, read by `glo job`. Its creation is what starts a Batch job, so the key shape and the
// dataset name rule live here, shared by both sides.
import { z } from 'zod';
import { ConfigError, presets, resolveConfig, type GloConfig, type GloConfigInput, type PresetName } from '../glo/config.ts';

/**
 * Dataset names: lowercase letters, digits and hyphens, starting with a letter or digit, at most 63
 * characters. They become S3 key segments, run id prefixes and URL path segments on the site, so they
 * stay in the characters that need no encoding anywhere (URL encoding leaves such keys unchanged).
 */
export const DATASET_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const DATASETS_PREFIX = 'datasets';
export const SPEC_FILE = 'glo.json';

/** A dataset name, a spec key or a spec that cannot be used; the message says what is wrong and what to do. */
export class JobSpecError extends Error {
  override name = 'JobSpecError';
}

export function datasetNameProblem(name: string): string | undefined {
  if (DATASET_NAME_PATTERN.test(name)) return undefined;
  return (
    `dataset name ${JSON.stringify(name)} is not allowed: use 1-63 lowercase letters, digits and hyphens, ` +
    `starting with a letter or digit (e.g. "cats" or "faces-2026")`
  );
}

export function checkDatasetName(name: string): string {
  const problem = datasetNameProblem(name);
  if (problem) throw new JobSpecError(`The ${problem}.`);
  return name;
}

export const specKey = (dataset: string) => `${DATASETS_PREFIX}/${dataset}/${SPEC_FILE}`;
export const datasetPrefix = (dataset: string) => `${DATASETS_PREFIX}/${dataset}`;

/**
 * S3 event notifications URL-encode object keys (form style: "a b.json" arrives as "a+b.json", and some
 * characters as %XX); whether the EventBridge flavour does is documented inconsistently. A valid spec key
 * contains none of '%', '+' or a space, so decoding is unambiguous: keys with '%' or '+' are decoded before
 * the shape check, and the message for a bad key shows both forms.
 */
export function decodeEventKey(key: string): string {
  if (!/[%+]/.test(key)) return key;
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/**
 * `datasets/<name>/glo.json` -> the dataset name. The EventBridge rule's wildcard (`datasets/*\/glo.json`)
 * also matches deeper keys such as datasets/a/b/glo.json, so the job checks the shape itself.
 */
export function parseSpecKey(rawKey: string): { key: string; dataset: string } {
  const key = decodeEventKey(rawKey);
  const shown = key === rawKey ? JSON.stringify(rawKey) : `${JSON.stringify(key)} (received URL-encoded as ${JSON.stringify(rawKey)})`;
  const parts = key.split('/');
  if (parts.length !== 3 || parts[0] !== DATASETS_PREFIX || parts[2] !== SPEC_FILE) {
    throw new JobSpecError(
      `The key ${shown} is not a job spec: expected ${DATASETS_PREFIX}/<dataset>/${SPEC_FILE}, with the images beside it. ` +
        'Upload datasets with "glo upload <folder> --dataset <name>".',
    );
  }
  const problem = datasetNameProblem(parts[1]);
  if (problem) throw new JobSpecError(`The key ${shown} names a dataset that glo does not accept: ${problem}. Upload it again under a valid name.`);
  return { key, dataset: parts[1] };
}

/**
 * glo.json: `preset` (optional) plus any training options, keys as in `glo train --config` (camelCase).
 * Unknown keys and invalid values are errors that name the key. Everything not given takes the preset's
 * value, then the default, exactly as `glo train --preset P --config glo.json` would.
 */
export const jobSpecSchema = z.looseObject({
  preset: z.enum(Object.keys(presets) as [PresetName, ...PresetName[]]).optional()
    .describe('A named starting point (paper, quick, tiny); the other keys override it.'),
});

/**
 * How often a Batch job checkpoints unless its spec says otherwise. A spot reclaim sends a Batch job no signal
 * (its task is a standalone ECS task, which spot draining leaves alone: the instance just stops), so a reclaim
 * loses the work since the last checkpoint: at most this, plus the restart. A checkpoint is the generator,
 * its optimizer state and the codes (tens of MB for the paper's 64 px setup), seconds of S3 upload.
 */
export const JOB_CHECKPOINT_MINUTES = 2;

export interface JobSpec {
  preset?: PresetName;
  /** The training options as written (without preset). */
  options: GloConfigInput;
  /** The options resolved against the preset and the defaults: what the job trains with. */
  config: GloConfig;
}

/** Validates a spec object (parsed JSON). `where` names it in messages (e.g. s3://bucket/datasets/cats/glo.json). */
export function parseJobSpec(json: unknown, where = SPEC_FILE): JobSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new JobSpecError(`${where} must be a JSON object of training options, e.g. {"preset": "quick", "epochs": 20}.`);
  }
  const head = jobSpecSchema.safeParse(json);
  if (!head.success) {
    throw new JobSpecError(`${where}: "preset" must be one of ${Object.keys(presets).join(', ')}.`);
  }
  // The options come from the parsed JSON itself, not zod's copy: that copy assigns keys, so a "__proto__"
  // key would set its prototype and vanish instead of being refused as an unknown option (as --config does).
  const { preset } = head.data;
  const { preset: _preset, ...options } = json as Record<string, unknown>;
  try {
    const config = resolveConfig({ checkpointMinutes: JOB_CHECKPOINT_MINUTES, ...options } as GloConfigInput, preset);
    return { preset, options: options as GloConfigInput, config };
  } catch (error) {
    if (error instanceof ConfigError) {
      // resolveConfig names flags too (--latent-dim); in a spec the camelCase key is what the user wrote.
      throw new JobSpecError(`${where}: ${error.message}\nKeys are the options of "glo train --help" in camelCase (latentDim for --latent-dim), plus "preset".`);
    }
    throw error;
  }
}

/** parseJobSpec for the file's bytes. */
export function parseJobSpecText(text: string, where = SPEC_FILE): JobSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new JobSpecError(`${where} is not valid JSON: ${(error as Error).message}`);
  }
  return parseJobSpec(json, where);
}

/** The spec `glo upload` writes: only what the user gave, so the job's defaults stay the trainer's. */
export function specJson(preset: PresetName | undefined, options: GloConfigInput): string {
  return `${JSON.stringify({ ...(preset ? { preset } : {}), ...options }, null, 2)}\n`;
}
