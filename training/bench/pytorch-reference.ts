// The same GLO step in PyTorch (training/bench/pytorch-step.py), run beside glo's in the same bench when
// a python3 with torch is on this machine. A reference only: nothing in glo needs it.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./pytorch-step.py', import.meta.url));

export interface PytorchResult {
  imagesPerSecond: number;
  torch: string;
  /** Which BLAS the process mapped: Debian's torch on the reference BLAS is about 10x slower. */
  blas: string;
  threads: number;
}

/** The first of these interpreters that can import torch (Debian's python3-torch is for /usr/bin/python3). */
export function findTorchPython(candidates = ['/usr/bin/python3', 'python3']): string | null {
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
    if (probe.status === 0) return python;
  }
  return null;
}

export interface PytorchStepOptions {
  imageSize: number;
  batchSize: number;
  steps: number;
  channels: number;
  latentDim: number;
  generatorWidth: number;
  lapLevels: number;
}

export function runPytorchStep(python: string, o: PytorchStepOptions): PytorchResult {
  const out = execFileSync(python, [
    SCRIPT, '--size', String(o.imageSize), '--batch', String(o.batchSize), '--steps', String(o.steps),
    '--channels', String(o.channels), '--latent-dim', String(o.latentDim), '--ngf', String(o.generatorWidth),
    '--levels', String(o.lapLevels), '--threads', '1',
  ], { encoding: 'utf8', timeout: 30 * 60_000, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)!) as PytorchResult;
}
