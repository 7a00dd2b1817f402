import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../training/cli/cli.ts';
import { backendFlag, numericFlags, threadsFlag, UsageError, type NumericFlag } from '../../../training/cli/cli-support.ts';
import { makeImageFolder, tempDir } from '../training-fixtures.ts';

let stderr: string;
let stdout: string;

beforeEach(() => {
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('glo train options', () => {
  it('--help lists every training option with its default', async () => {
    expect(await main(['train', '--help'])).toBe(0);
    expect(stdout).toContain('--latent-dim');
    expect(stdout).toContain('--lr-latent');
    expect(stdout).toContain('--latent-projection');
  });

  it('an unknown flag fails with exit 2 and names it', async () => {
    expect(await main(['train', '--data', 'emoji', '--out', '/tmp/x', '--latent-dimm', '5'])).toBe(2);
    expect(stderr).toMatch(/--latent-dimm/);
  });

  it('an invalid value fails with exit 2 and names the option and what it accepts', async () => {
    expect(await main(['train', '--data', 'emoji', '--out', '/tmp/x', '--image-size', '48'])).toBe(2);
    expect(stderr).toMatch(/imageSize.*--image-size/);
    expect(stderr).toMatch(/32\|64\|128/);
  });

  it('an unknown key in --config fails and names it', async () => {
    const dir = await tempDir('glo-cli-');
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ epochs: 2, learningRate: 3 }));
    expect(await main(['train', '--data', 'emoji', '--out', path.join(dir, 'run'), '--config', file])).toBe(2);
    expect(stderr).toMatch(/unknown option "learningRate"/);
    expect(existsSync(path.join(dir, 'run'))).toBe(false);
  });

  it('--config must be a regular JSON file of at most 1 MiB holding an object', async () => {
    const dir = await tempDir('glo-cli-');
    const big = path.join(dir, 'big.json');
    await writeFile(big, `{"epochs": 2, "pad": "${'x'.repeat(1 << 20)}"}`);
    const list = path.join(dir, 'list.json');
    await writeFile(list, '[1, 2]');
    const cases: [string, RegExp][] = [
      ['/dev/zero', /--config \/dev\/zero is not a regular file/],
      [dir, /is not a regular file/],
      [path.join(dir, 'missing.json'), /no such file/],
      [big, /bytes; a config file is at most 1 MiB/],
      [list, /must hold a JSON object/],
    ];
    for (const [file, message] of cases) {
      stderr = '';
      expect(await main(['train', '--data', 'emoji', '--out', path.join(dir, 'run'), '--config', file])).toBe(2);
      expect(stderr).toMatch(message);
    }
    expect(existsSync(path.join(dir, 'run'))).toBe(false);
  });

  it('a dataset of one image is refused before training, with a message and no stack trace', async () => {
    const dir = await tempDir('glo-cli-');
    const images = await makeImageFolder(1);
    expect(await main(['train', '--data', images, '--out', path.join(dir, 'run'), '--preset', 'tiny', '--backend', 'wasm'])).toBe(1);
    expect(stderr).toMatch(/has 1 usable image to train on: GLO needs at least 2/);
    expect(stderr).toMatch(/GLO_DEBUG=1 prints the stack trace/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr).not.toMatch(/epoch 1/);
    expect(existsSync(path.join(dir, 'run'))).toBe(false);
  });

  it('missing --data, a bad --preset or --backend are usage errors', async () => {
    expect(await main(['train', '--out', '/tmp/x'])).toBe(2);
    expect(stderr).toMatch(/Missing --data/);
    expect(await main(['train', '--data', 'emoji', '--out', '/tmp/x', '--preset', 'huge'])).toBe(2);
    expect(stderr).toMatch(/Unknown --preset "huge"/);
    expect(await main(['train', '--data', 'emoji', '--out', '/tmp/x', '--backend', 'tpu'])).toBe(2);
    expect(stderr).toMatch(/Unknown backend "tpu" \(--backend\): use auto, tensorflow-gpu/);
    expect(await main(['train', '--data', 'emoji', '--out', '/tmp/x', '--threads', 'two'])).toBe(2);
    expect(stderr).toMatch(/--threads must be a whole number/);
    expect(await main(['fly'])).toBe(2);
  });

  it('trains end to end from flags (tiny preset, an option overridden)', async () => {
    const out = path.join(await tempDir('glo-cli-'), 'run');
    const code = await main(['train', '--data', 'mnist', '--out', out, '--preset', 'tiny', '--epochs', '1', '--channels', '1', '--backend', 'wasm', '--quiet']);
    expect(code, stderr).toBe(0);
    const manifest = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(path.join(out, 'manifest.json'), 'utf8')));
    expect(manifest.config.epochs).toBe(1);
    expect(manifest.config.latentDim).toBe(16);
    expect(manifest.dataset.channels).toBe(1);
    expect(manifest.dataset.labels.classes).toHaveLength(10);
    // --skip-existing does not train again
    expect(await main(['train', '--data', 'mnist', '--out', out, '--preset', 'tiny', '--skip-existing'])).toBe(0);
    expect(stderr).toMatch(/skipping training/);
  });
});

describe('the shared flag layer (every command parses --backend, --threads and numbers the same way)', () => {
  const flags = {
    seed: { key: 'seed', help: '', integer: true, min: 0 },
    steps: { key: 'steps', help: '', integer: true },
    lr: { key: 'lr', help: '', integer: false },
  } satisfies Record<string, NumericFlag<'seed' | 'steps' | 'lr'>>;

  it('takes whole numbers from their least value up and reals above 0, naming the flag otherwise', () => {
    expect(numericFlags({ seed: '0', steps: '3', lr: '0.5', other: 'x' }, flags)).toEqual({ seed: 0, steps: 3, lr: 0.5 });
    expect(numericFlags({}, flags)).toEqual({});
    expect(() => numericFlags({ steps: '0' }, flags)).toThrow(/--steps must be a whole number >= 1, got "0"/);
    expect(() => numericFlags({ seed: '-1' }, flags)).toThrow(/--seed must be a whole number >= 0/);
    expect(() => numericFlags({ seed: '1.5' }, flags)).toThrow(UsageError);
    expect(() => numericFlags({ lr: '0' }, flags)).toThrow(/--lr must be a number > 0/);
    expect(() => numericFlags({ lr: 'Infinity' }, flags)).toThrow(/--lr must be a number > 0/);
  });

  it('accepts the known backends and names where a wrong one came from', () => {
    expect(backendFlag(undefined)).toBe('auto');
    expect(backendFlag('wasm')).toBe('wasm');
    expect(() => backendFlag('tpu', '--backend or GLO_BACKEND')).toThrow(/Unknown backend "tpu" \(--backend or GLO_BACKEND\): use auto, tensorflow-gpu, tensorflow, wasm, cpu/);
    expect(threadsFlag(undefined)).toBeUndefined();
    expect(threadsFlag('2')).toBe(2);
    expect(() => threadsFlag('0')).toThrow(/--threads must be a whole number >= 1, got "0"/);
  });

  it('gives glo eval and glo fit-sampler the same checks as glo train', async () => {
    for (const command of ['eval', 'fit-sampler']) {
      expect(await main([command, '/tmp/no-run', '--backend', 'tpu'])).toBe(2);
      expect(stderr).toMatch(/Unknown backend "tpu" \(--backend\)/);
      expect(await main([command, '/tmp/no-run', '--threads', '1.5'])).toBe(2);
      expect(stderr).toMatch(/--threads must be a whole number >= 1/);
    }
  });
});
