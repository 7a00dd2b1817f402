// The training image cannot be built here (no Docker, no CUDA): what can be checked without building it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, TRAINING_DOCKERFILE } from '../../infra/glo-stack.ts';
import { buildGloStack } from './synth.ts';

const dockerfile = readFileSync(path.join(REPO_ROOT, TRAINING_DOCKERFILE), 'utf8');
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

describe('training/Dockerfile', () => {
  it('respects the pinned CUDA 11.2 + cuDNN 8 runtime that tfjs-node-gpu 4.22 needs', () => {
    const froms = instructions.filter((line) => line.startsWith('FROM '));
    expect(froms.at(-1)).toBe('FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04');
    for (const from of froms) expect(from, 'every base image pinned to an exact version').not.toMatch(/:latest\b|:\d+(-|$)|^FROM [^:]+$/);
  });

  it('respects Node 22 (tfjs-node 4.22 breaks on Node >= 23)', () => {
    expect(dockerfile).toMatch(/FROM node:22\.\d+\.\d+-[a-z-]+ AS node/);
  });

  it('respects package.json: production dependencies from the lockfile, plus tfjs-node-gpu at the pinned version', () => {
    const gpuVersion = packageJson.optionalDependencies['@tensorflow/tfjs-node-gpu'];
    expect(gpuVersion).toBe('4.22.0');
    expect(packageJson.dependencies['@tensorflow/tfjs-core']).toBe(gpuVersion);
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/@tensorflow/tfjs-node-gpu'].version).toBe(gpuVersion);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/npm rebuild @tensorflow\/tfjs-node-gpu/);
    expect(dockerfile).toMatch(/require\.resolve\('@tensorflow\/tfjs-node-gpu/);
    // bin/glo.js runs TypeScript through tsx at run time: it must be a production dependency.
    expect(packageJson.dependencies.tsx).toBeDefined();
  });

  it('respects the job contract: ENTRYPOINT runs the glo CLI, which has a `job` command', () => {
    const entrypoint = instructions.filter((line) => line.startsWith('ENTRYPOINT '));
    expect(entrypoint).toHaveLength(1);
    expect(JSON.parse(entrypoint[0].slice('ENTRYPOINT '.length))).toEqual(['node', '/app/bin/glo.js']);
    expect(instructions).toContain('WORKDIR /app');
    expect(readFileSync(path.join(REPO_ROOT, 'bin/glo.js'), 'utf8')).toContain('../training/cli/cli.ts');
    expect(readFileSync(path.join(REPO_ROOT, 'training/cli/cli.ts'), 'utf8')).toMatch(/\bjob: \{/);
    // The job definition passes only the arguments; the entrypoint supplies the program.
    const { stack } = buildGloStack();
    const command = stack.resolve(stack.training.jobDefinition.container.command) as string[];
    expect(command[0]).toBe('job');
  });

  it('respects a non-root user', () => {
    const users = instructions.filter((line) => line.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it('respects the build context: every COPY source exists and .dockerignore lets it in', () => {
    const ignore = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
    expect(ignore[0]).toBe('*'); // an allowlist
    const allowed = ignore.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    const copies = instructions.filter((line) => line.startsWith('COPY ') && !line.includes('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.split(/\s+/).slice(1, -1);
      for (const source of sources) {
        expect(existsSync(path.join(REPO_ROOT, source)), source).toBe(true);
        expect(allowed, `${source} must be allowed by .dockerignore`).toContain(source.replace(/\/$/, ''));
      }
    }
    // Nothing big or local sneaks in.
    for (const kept of ['node_modules', 'runs', '.tmp', 'cdk.out', 'site']) expect(allowed).not.toContain(kept);
  });
});
