import { describe, expect, it } from 'vitest';
import { bestSampler, type EvalReport } from '../../training/eval/eval-report.ts';

const swd = (sampler: 'normal' | 'gaussian' | 'imle', mean: number) => ({ sampler, levels: [mean], mean });

describe('bestSampler', () => {
  const report = {
    swd: { samplers: [swd('normal', 90), swd('gaussian', 40), swd('imle', 50)] },
    frechet: { samplers: [{ sampler: 'normal', distance: 9, confidence: 0.5 }, { sampler: 'gaussian', distance: 30, confidence: 0.7 }, { sampler: 'imle', distance: 20, confidence: 0.8 }] },
  } as unknown as EvalReport;

  it('picks the lowest Fréchet distance among the samplers offered', () => {
    expect(bestSampler(report, ['gaussian', 'imle'])).toEqual({ sampler: 'imle', figure: 'frechet', value: 20 });
    expect(bestSampler(report, ['gaussian'])).toEqual({ sampler: 'gaussian', figure: 'frechet', value: 30 });
  });

  it('falls back to the mean SWD on runs without labels (no Fréchet distance)', () => {
    expect(bestSampler({ ...report, frechet: undefined }, ['gaussian', 'imle'])).toEqual({ sampler: 'gaussian', figure: 'swd', value: 40 });
    expect(bestSampler({ ...report, frechet: undefined }, [])).toBeUndefined();
  });
});
