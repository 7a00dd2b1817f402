import type { z } from 'zod';
import { parseManifest, type RunManifest } from '../glo/manifest.ts';
import { checkListedFiles, parseRunFile } from '../glo/run-files.ts';
import type { Storage } from '../storage/storage.ts';

const json = async (storage: Storage, key: string): Promise<unknown> => JSON.parse(new TextDecoder().decode(await storage.read(key)));

/** One JSON file of a run, read and checked against its schema (training/glo/run-files.ts), named in errors. */
export async function readRunFile<T>(storage: Storage, key: string, schema: z.ZodType<T>): Promise<T> {
  return parseRunFile(schema, await json(storage, key), `${storage.uri}/${key}`);
}

/**
 * A published run's manifest, after checking that every file it lists is there with its listed size: what
 * `glo eval` and `glo fit-sampler` read first, so a run with missing or truncated files is refused before
 * any work (or a rewritten manifest that still lists them).
 */
export async function readCompleteManifest(storage: Storage): Promise<RunManifest> {
  const manifest = parseManifest(await json(storage, 'manifest.json'), `${storage.uri}/manifest.json`);
  checkListedFiles(manifest, new Map((await storage.list()).map((o) => [o.key, o.size])), storage.uri);
  return manifest;
}
