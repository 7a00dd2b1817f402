// The run folder before training: refused when it holds something a run would replace, writable, and
// locked against a second trainer (issue: silent overwrites and vanished runs). Folder and S3 (moto).
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRunOutput, LOCK_KEY, lockRun, RunOutputError } from '../../../training/trainer/run-output.ts';
import { FolderStorage } from '../../../training/storage/folder-storage.ts';
import { S3Storage } from '../../../training/storage/s3-storage.ts';
import { startMoto, type Moto } from '../../helpers/moto.ts';
import { makeImageFolder, tempDir } from '../training-fixtures.ts';

const bin = path.resolve(import.meta.dirname, '../../../bin/glo.js');

async function folderWith(files: Record<string, string>): Promise<FolderStorage> {
  const dir = await tempDir('glo-out-');
  for (const [key, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, key)), { recursive: true });
    await writeFile(path.join(dir, key), body);
  }
  return new FolderStorage(dir);
}

const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e instanceof RunOutputError ? e.message : `other: ${e}`));

describe('checkRunOutput', () => {
  it('accepts an empty or missing folder, and a checkpoint with --resume', async () => {
    expect(await refusal(checkRunOutput(await folderWith({}), { resume: false, overwrite: false }))).toBe('accepted');
    expect(await refusal(checkRunOutput(new FolderStorage(path.join(os.tmpdir(), `glo-none-${Date.now()}`)), { resume: false, overwrite: false }))).toBe('accepted');
    expect(await refusal(checkRunOutput(await folderWith({ 'failure.json': '{}' }), { resume: true, overwrite: false }))).toBe('accepted');
    const checkpointed = await folderWith({ 'checkpoint/latest.json': '{}', 'checkpoint/8/state.json': '{}' });
    expect(await refusal(checkRunOutput(checkpointed, { resume: true, overwrite: false }))).toBe('accepted');
  });

  it('refuses a finished run, foreign files, a stray model and a checkpoint without --resume, naming what to do', async () => {
    const cases: [Record<string, string>, boolean, RegExp][] = [
      [{ 'manifest.json': '{}', 'latents.bin': '' }, false, /holds a finished run \(manifest\.json\).*--overwrite/],
      [{ 'manifest.json': '{}' }, true, /holds a finished run/],
      [{ 'thesis.pdf': 'x', 'photos/a.jpg': 'x' }, false, /not a glo run's \(photos\/a\.jpg, thesis\.pdf\).*--overwrite/],
      [{ 'model/weights.bin': 'x', 'atlas.png': 'x' }, false, /files of a run but no finished run or checkpoint.*atlas\.png, model\/weights\.bin/],
      [{ 'checkpoint/latest.json': '{}' }, false, /unfinished run's checkpoint: pass --resume.*or --overwrite/],
    ];
    for (const [files, resume, message] of cases) {
      expect(await refusal(checkRunOutput(await folderWith(files), { resume, overwrite: false }))).toMatch(message);
      expect(await refusal(checkRunOutput(await folderWith(files), { resume, overwrite: true }))).toBe('accepted');
    }
  });

  it('refuses the file-system root, even with --overwrite', async () => {
    expect(await refusal(checkRunOutput(new FolderStorage('/'), { resume: false, overwrite: true }))).toMatch(/root of the file system/);
  });
});

describe('lockRun', () => {
  it('refuses a second holder naming the first, and is free again once released', async () => {
    const out = await folderWith({});
    const lock = await lockRun(out);
    const message = await refusal(lockRun(out));
    expect(message).toMatch(new RegExp(`in use by another trainer \\(process ${process.pid} on ${os.hostname()}`));
    expect(message).toContain(LOCK_KEY);
    await lock.release();
    await (await lockRun(out)).release();
    expect(await out.list()).toEqual([]);
  });

  it('takes over a lock whose process is gone, or left by an earlier attempt of the same Batch job', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = child.pid!;
    await new Promise((resolve) => child.on('close', resolve));
    const out = await folderWith({ [LOCK_KEY]: JSON.stringify({ pid: deadPid, host: os.hostname(), startedAt: 'earlier' }) });
    await (await lockRun(out)).release();

    const elsewhere = { pid: 1, host: 'another-host', startedAt: 'earlier', batchJobId: 'job-123' };
    const batch = await folderWith({ [LOCK_KEY]: JSON.stringify(elsewhere) });
    expect(await refusal(lockRun(batch))).toMatch(/process 1 on another-host.*Batch job job-123/);
    process.env.AWS_BATCH_JOB_ID = 'job-123';
    try {
      await (await lockRun(batch)).release();
    } finally {
      delete process.env.AWS_BATCH_JOB_ID;
    }
  });

  it('finds an unwritable --out before any work, as a RunOutputError', async () => {
    const dir = await tempDir('glo-readonly-');
    await chmod(dir, 0o555);
    const file = path.join(await tempDir('glo-file-'), 'not-a-folder');
    await writeFile(file, 'x');
    try {
      // root ignores permission bits: only the file case is certain here.
      if (process.getuid?.() !== 0) expect(await refusal(lockRun(new FolderStorage(dir)))).toMatch(/is not writable/);
      expect(await refusal(lockRun(new FolderStorage(file)))).toMatch(/is not writable/);
    } finally {
      await chmod(dir, 0o755);
    }
  });

  describe('on S3 (moto_server)', () => {
    let moto: Moto;
    beforeAll(async () => {
      moto = await startMoto();
      await moto.createBucket('glo-locks');
    });
    afterAll(() => moto.stop());

    it('uses a conditional write: one holder at a time, released by delete', async () => {
      const out = new S3Storage('s3://glo-locks/runs/a');
      const lock = await lockRun(out);
      expect(await refusal(lockRun(new S3Storage('s3://glo-locks/runs/a')))).toMatch(/in use by another trainer/);
      await lock.release();
      await (await lockRun(out)).release();
      expect(await refusal(lockRun(new S3Storage('s3://no-such-bucket-glo/runs/a')))).toMatch(/not writable.*NoSuchBucket/s);
    });
  });
});

describe('glo train on an --out in use', () => {
  let images: string;
  beforeAll(async () => {
    images = await makeImageFolder(48);
  });

  function runGlo(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  }

  it('refuses a finished run without touching it, replaces it with --overwrite, and refuses a second trainer', async () => {
    const out = path.join(await tempDir(), 'run');
    const tiny = ['train', '--data', images, '--out', out, '--preset', 'tiny', '--backend', 'wasm'];
    expect((await runGlo(tiny)).code).toBe(0);
    await writeFile(path.join(out, 'eval.json'), '{"stale":true}');
    const manifest = await readFile(path.join(out, 'manifest.json'), 'utf8');

    const refused = await runGlo([...tiny, '--seed', '2']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds a finished run \(manifest\.json\)/);
    expect(refused.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(await readFile(path.join(out, 'manifest.json'), 'utf8')).toBe(manifest);

    const replaced = await runGlo([...tiny, '--seed', '2', '--overwrite']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toMatch(/--overwrite: removed \d+ files of the earlier run/);
    expect(JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')).config.seed).toBe(2);
    await expect(readFile(path.join(out, 'eval.json'))).rejects.toThrow(/ENOENT/);

    const shared = path.join(await tempDir(), 'shared');
    const long = ['train', '--data', images, '--out', shared, '--preset', 'tiny', '--epochs', '30', '--backend', 'wasm'];
    const first = runGlo(long);
    // The first trainer holds the lock from before it loads data until it has published.
    for (let i = 0; i < 200; i++) {
      if (await readFile(path.join(shared, LOCK_KEY)).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const second = await runGlo(long);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/is in use by another trainer \(process \d+ on /);
    const done = await first;
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(await readFile(path.join(shared, 'manifest.json'), 'utf8')).training.steps).toBe(30 * 3);
    await expect(readFile(path.join(shared, LOCK_KEY))).rejects.toThrow(/ENOENT/);
  }, 240_000);
});
