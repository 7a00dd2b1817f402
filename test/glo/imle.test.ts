import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildImleSampler, fitImle, nearestNeighbours, sampleImle } from '../../training/glo/imle.ts';
import { interruptCheck, uninterrupted } from '../../training/glo/interrupt.ts';
import { norm } from '../../training/glo/latent.ts';
import { Random } from '../../training/glo/random.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Codes in four tight clusters inside the unit ball: multi-modal, as GLO codes of distinct classes are. */
function clusteredCodes(count: number, dim: number, seed: number): Float32Array {
  const random = new Random(seed);
  const centres = Array.from({ length: 4 }, () => Array.from({ length: dim }, () => random.normal() * 0.3));
  const out = new Float32Array(count * dim);
  for (let n = 0; n < count; n++) for (let i = 0; i < dim; i++) out[n * dim + i] = centres[n % 4][i] + 0.03 * random.normal();
  return out;
}

describe('IMLE sampler (GLANN)', () => {
  it('nearestNeighbours agrees with brute force', () => {
    const random = new Random(4);
    const q = random.normalArray(7 * 3);
    const c = random.normalArray(20 * 3);
    const { index, distance } = nearestNeighbours(q, c, 3, 4);
    for (let i = 0; i < 7; i++) {
      let best = Infinity;
      let arg = -1;
      for (let j = 0; j < 20; j++) {
        let d = 0;
        for (let k = 0; k < 3; k++) d += (q[i * 3 + k] - c[j * 3 + k]) ** 2;
        if (d < best) [best, arg] = [d, j];
      }
      expect(index[i]).toBe(arg);
      expect(distance[i]).toBeCloseTo(best, 4);
    }
  });

  it('lowers its own matching loss, is deterministic, and samples inside the ball', async () => {
    const dim = 8;
    const codes = clusteredCodes(64, dim, 1);
    const options = { noiseDim: dim, hidden: 32, rounds: 6, candidatesPerCode: 8, epochsPerRound: 4, minStepsPerRound: 0, batchSize: 16, learningRate: 3e-3, perturbation: 0.01, seed: 2 };
    const run = async () => {
      const model = buildImleSampler(dim, options);
      const fit = await fitImle(model, codes, dim, options);
      return { model, fit };
    };
    const { model, fit } = await run();
    expect(fit.rounds).toHaveLength(6);
    // The untrained mapper's candidates are far from the clusters; matching pulls them in.
    expect(fit.matchingLoss, fit.rounds.map((r) => r.matchingLoss.toFixed(4)).join(' ')).toBeLessThan(0.25 * fit.rounds[0].matchingLoss);
    const again = await run();
    expect(again.fit.matchingLoss).toBe(fit.matchingLoss);
    const samples = sampleImle(model, 100, new Random(3));
    for (let s = 0; s < 100; s++) expect(norm(samples, s * dim, dim)).toBeLessThanOrEqual(1 + 1e-6);
    model.dispose();
    again.model.dispose();
  });

  it('stops at the next regression step once its signal is aborted, even though every step is synchronous', async () => {
    const dim = 8;
    const codes = clusteredCodes(64, dim, 1);
    const options = { noiseDim: dim, hidden: 32, rounds: 1000, candidatesPerCode: 2, epochsPerRound: 4, minStepsPerRound: 0, batchSize: 16, learningRate: 3e-3, perturbation: 0.01, seed: 2 };
    const model = buildImleSampler(dim, options);
    const controller = new AbortController();
    // Stands in for a signal handler: a macrotask, so it runs only if the fit yields to the event loop.
    setTimeout(() => controller.abort(), 1000);
    const rounds: number[] = [];
    const stop = new Error('interrupted');
    await expect(fitImle(model, codes, dim, options, 'ball', (r) => rounds.push(r.round), interruptCheck(controller.signal, () => stop, 10))).rejects.toBe(stop);
    expect(rounds.length).toBeGreaterThan(0);
    expect(rounds.length).toBeLessThan(1000);
    model.dispose();
  });
});

describe('interruptCheck', () => {
  it('yields to pending macrotasks only once its interval has passed, then throws once the signal is aborted', async () => {
    const controller = new AbortController();
    // Stands in for a signal handler: a macrotask, which only a yield lets run.
    setTimeout(() => controller.abort(), 0);
    const patient = interruptCheck(controller.signal, () => new Error('stop'), 60_000);
    await patient(); // the interval has not passed: no yield, so the abort has not run
    expect(controller.signal.aborted).toBe(false);
    const eager = interruptCheck(controller.signal, () => new Error('stop'), 0);
    await expect(eager()).rejects.toThrow('stop');
    expect(controller.signal.aborted).toBe(true);
  });

  it('does nothing without a signal', async () => {
    const check = interruptCheck(undefined, () => new Error('never'));
    expect(check).toBe(uninterrupted);
    await expect(check()).resolves.toBeUndefined();
  });
});
