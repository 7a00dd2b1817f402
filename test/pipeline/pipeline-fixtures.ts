// Shared set-up for the pipeline tests: buckets in moto_server, a small dataset uploaded the way `glo upload`
// leaves it (images, then glo.json), and readers for what the job wrote.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Moto } from '../helpers/moto.ts';

export const bin = path.resolve(import.meta.dirname, '../../bin/glo.js');

export async function putObject(moto: Moto, bucket: string, key: string, body: string | Uint8Array): Promise<void> {
  await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Puts every file of `folder` under datasets/<dataset>/, then the spec (when given) last. */
export async function putDataset(moto: Moto, bucket: string, dataset: string, folder: string | undefined, spec?: object | string): Promise<string> {
  if (folder) {
    for (const name of await readdir(folder)) await putObject(moto, bucket, `datasets/${dataset}/${name}`, await readFile(path.join(folder, name)));
  }
  const key = `datasets/${dataset}/glo.json`;
  if (spec !== undefined) await putObject(moto, bucket, key, typeof spec === 'string' ? spec : JSON.stringify(spec));
  return key;
}

export async function listKeys(moto: Moto, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

export async function getText(moto: Moto, bucket: string, key: string): Promise<string | undefined> {
  try {
    const output = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await output.Body!.transformToString();
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

export async function getJson<T = unknown>(moto: Moto, bucket: string, key: string): Promise<T | undefined> {
  const text = await getText(moto, bucket, key);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/glo.js ...args` with `env` added to this process's environment (which startMoto pointed at
 * moto), or with `env` alone when `cleanEnv`. `onOutput` sees stderr as it grows and may signal the child.
 */
export function runGlo(
  args: string[],
  env: Record<string, string | undefined> = {},
  onOutput?: (stderr: string, child: ReturnType<typeof spawn>) => void,
  { cleanEnv = false }: { cleanEnv?: boolean } = {},
): Promise<ChildRun> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv ? env : { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    onOutput?.(stderr, child);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** A tiny, fast spec: the `tiny` preset at 1-2 steps per epoch. */
export const tinySpec = (extra: object = {}) => ({ preset: 'tiny', epochs: 2, batchSize: 4, ...extra });
