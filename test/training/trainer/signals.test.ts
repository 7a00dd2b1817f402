import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeImageFolder, tempDir } from '../training-fixtures.ts';

const bin = path.resolve(import.meta.dirname, '../../../bin/glo.js');
let images: string;

beforeAll(async () => {
  images = await makeImageFolder(48);
});

function runGlo(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
    onStderr?.(stderr, child);
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

/** Runs glo and sends it `signal` once, as soon as its stderr matches `when`; `sentAt` is 0 if it never did. */
async function signalWhen(args: string[], when: RegExp, signal: NodeJS.Signals) {
  let sentAt = 0;
  const result = await runGlo(args, (text, child) => {
    if (!sentAt && when.test(text)) {
      sentAt = Date.now();
      child.kill(signal);
    }
  });
  return { ...result, sentAt };
}

/** 512 MNIST digits, one short epoch of a small generator: a run whose publishing is most of its work. */
const digitsRun = (out: string, ...extra: string[]) => ['train', '--data', 'mnist', '--limit', '512', '--out', out, '--image-size', '32', '--channels', '1',
  '--epochs', '1', '--batch-size', '16', '--latent-dim', '16', '--generator-width', '8', '--latent-init', 'gaussian', ...extra, '--backend', 'wasm'];

describe('glo train under SIGTERM (a spot reclaim)', () => {
  it('checkpoints within seconds, exits 143, and --resume finishes the run', async () => {
    const out = path.join(await tempDir(), 'sigterm-run');
    const args = ['train', '--data', images, '--out', out, '--preset', 'tiny', '--limit', '48', '--epochs', '20', '--batch-size', '8', '--backend', 'wasm'];
      // Plain log lines (no TTY): interrupt once the second epoch has begun.
    const first = await signalWhen(args, /epoch 2\/20 step/, 'SIGTERM');
    const stoppedAfter = Date.now() - first.sentAt;
    expect(first.stderr).toMatch(/SIGTERM: saving a checkpoint/);
    expect(first.code).toBe(143);
    expect(stoppedAfter).toBeLessThan(10_000);
    expect(existsSync(path.join(out, 'checkpoint', 'latest.json'))).toBe(true);
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false);

    const second = await runGlo([...args, '--resume']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resuming from step \d+/);
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.training.steps).toBe(20 * 6);
    expect(manifest.training.resumedFrom).toBeGreaterThan(0);
  });

  it('acts on SIGINT mid-epoch, with the epoch far longer than the wait (no epoch end, no timed checkpoint)', async () => {
    // 10,000 MNIST digits at batch 16: 625 steps in the one epoch, about 20 s here; checkpoints only
    // every 60 minutes. The signal goes at step ~10 and must be acted on at the next step.
    const out = path.join(await tempDir(), 'sigint-mid-epoch');
    const args = ['train', '--data', 'mnist', '--out', out, '--image-size', '32', '--channels', '1', '--epochs', '1',
      '--batch-size', '16', '--latent-dim', '16', '--generator-width', '16', '--latent-init', 'gaussian',
      '--checkpoint-minutes', '60', '--backend', 'wasm'];
    const run = await signalWhen(args, /epoch 1\/1 step \d+\/625/, 'SIGINT');
    const stoppedAfter = Date.now() - run.sentAt;
    expect(run.sentAt).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/SIGINT: saving a checkpoint/);
    expect(run.code, run.stderr).toBe(130);
    expect(stoppedAfter).toBeLessThan(5_000);
    const latest = JSON.parse(await readFile(path.join(out, 'checkpoint', 'latest.json'), 'utf8'));
    expect(JSON.stringify(latest)).toMatch(/\d/);
    expect(run.stderr).toMatch(/Training interrupted at step (\d+)/);
    const step = Number(/Training interrupted at step (\d+)/.exec(run.stderr)![1]);
    expect(step).toBeLessThan(625);
  }, 180_000);

  it('acts on SIGINT during PCA init: stops before the first step, with nothing to resume', async () => {
    const out = path.join(await tempDir(), 'sigint-pca');
    const args = ['train', '--data', 'mnist', '--out', out, '--image-size', '32', '--channels', '1', '--epochs', '1',
      '--batch-size', '16', '--latent-dim', '100', '--generator-width', '16', '--backend', 'wasm'];
    // The dataset line comes right before PCA init (randomized SVD of 8,192 digits).
    const run = await signalWhen(args, /dataset mnist: 10000 images/, 'SIGINT');
    expect(run.sentAt).toBeGreaterThan(0);
    expect(run.code, run.stderr).toBe(130);
    // The fit checks between its stages (about a second each here); the whole fit takes 6 s or more.
    expect(Date.now() - run.sentAt).toBeLessThan(6_000);
    expect(run.stderr).toMatch(/interrupted before its first step: there was nothing to save yet/);
    expect(run.stderr).not.toMatch(/epoch 1\/1 step/);
    expect(existsSync(path.join(out, 'checkpoint'))).toBe(false);
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false);
  }, 120_000);

  it('acts on SIGTERM while publishing (the IMLE sampler fit), and --resume publishes from the last checkpoint', async () => {
    // 512 digits with --sampler imle: the fit alone takes about 20 s here, 30 rounds of synchronous tf work.
    const out = path.join(await tempDir(), 'sigterm-publishing');
    const args = digitsRun(out, '--sampler', 'imle');
    const run = await signalWhen(args, /IMLE round 1\//, 'SIGTERM');
    expect(run.sentAt).toBeGreaterThan(0);
    expect(run.code, run.stderr).toBe(143);
    expect(Date.now() - run.sentAt).toBeLessThan(5_000);
    expect(run.stderr).not.toMatch(/IMLE round (\d+)\/\1:/); // the last round never ran
    expect(run.stderr).toMatch(/Training interrupted at step 32; checkpoint saved to .*checkpoint/);
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false);

    const second = await runGlo([...args, '--resume']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).not.toMatch(/epoch 1\/1 step/);
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.training.steps).toBe(32);
    expect(manifest.sampler.kind).toBe('imle');
    expect(existsSync(path.join(out, 'checkpoint'))).toBe(false);
  }, 180_000);
});

describe('SIGTERM during the final code pass', () => {
  it('stops within a batch, keeps the last epoch\'s checkpoint, and --resume refines and publishes', async () => {
    // 512 digits at 32 px, two batches of 256 with 400 code steps each: one batch takes longer than the
    // stop is allowed, a step a fraction of a second, so this passes only if every step checks the signal.
    const out = path.join(await tempDir(), 'sigterm-code-pass');
    const args = digitsRun(out, '--code-refinement-steps', '400');
    const run = await signalWhen(args, /code refinement: 400 Adam steps/, 'SIGTERM');
    expect(run.sentAt).toBeGreaterThan(0);
    expect(run.code, run.stderr).toBe(143);
    expect(Date.now() - run.sentAt).toBeLessThan(5_000);
    expect(run.stderr).toMatch(/Training interrupted at step 32; checkpoint saved to .*checkpoint/);
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false);

    const second = await runGlo([...args, '--resume']);
    expect(second.code, second.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.codeRefinement.steps).toBe(400);
    expect(manifest.codeRefinement.psnrAfter).toBeGreaterThan(manifest.codeRefinement.psnrBefore);
  }, 180_000);
});

describe('glo eval and glo fit-sampler under SIGINT', () => {
  // They install no handler: the signal ends the process at once (the shell's Ctrl-C). Each writes its
  // result last (eval.json; the sampler's files, then manifest.json), so an interrupted one leaves the run as it was.
  let run: string;
  let manifestBefore: string;
  beforeAll(async () => {
    run = path.join(await tempDir(), 'published');
    const trained = await runGlo(digitsRun(run));
    expect(trained.code, trained.stderr).toBe(0);
    manifestBefore = await readFile(path.join(run, 'manifest.json'), 'utf8');
  }, 120_000);

  it('glo eval stops within seconds during SWD (about 20 s of work) and writes no eval.json', async () => {
    const result = await signalWhen(['eval', run, '--backend', 'wasm'], /SWD: /, 'SIGINT');
    expect(result.sentAt).toBeGreaterThan(0);
    expect(result.signal).toBe('SIGINT');
    expect(Date.now() - result.sentAt).toBeLessThan(3_000);
    expect(existsSync(path.join(run, 'eval.json'))).toBe(false);
  }, 60_000);

  it('glo fit-sampler stops within seconds during the fit and leaves manifest.json as it was', async () => {
    const result = await signalWhen(['fit-sampler', run, '--backend', 'wasm'], /IMLE round 1\//, 'SIGINT');
    expect(result.sentAt).toBeGreaterThan(0);
    expect(result.signal).toBe('SIGINT');
    expect(Date.now() - result.sentAt).toBeLessThan(3_000);
    expect(result.stderr).not.toMatch(/IMLE round (\d+)\/\1:/); // the last round never ran
    expect(await readFile(path.join(run, 'manifest.json'), 'utf8')).toBe(manifestBefore);
  }, 60_000);
});
