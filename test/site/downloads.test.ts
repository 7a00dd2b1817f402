/**
 * Every view's picture downloads as a PNG at the chosen scale, by nearest neighbour (each pixel an exact
 * scale x scale block of what the canvas shows), named after the run and the state that reproduces it.
 */
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fixtureRunId } from './helpers/fixture-runs.ts';
import { serveSiteForTests } from './helpers/served-site.ts';

const site = serveSiteForTests();
const size = 32; // the fixture run's image size

/** Clicks the view's download at `scale`; returns the file's name and its RGBA pixels. */
async function download(page: Page, view: string, scale: number) {
  await page.selectOption(`glo-${view} [data-download-scale]`, String(scale));
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(`glo-${view} .download button`)]);
  const { data, info } = await sharp(await readFile((await file.path())!)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { name: file.suggestedFilename(), width: info.width, height: info.height, pixels: data };
}

const canvasPixels = (page: Page, selector: string) => page.$$eval(selector, (canvases) => canvases.map((canvas) => {
  const c = canvas as HTMLCanvasElement;
  return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
}));

describe('downloads', () => {
  it('the fixture run is 32 px', () => expect(site.fixture.manifest.dataset.imageSize).toBe(size));

  it('the sample sheet at 4x: 8 per row, 2 px gaps, every pixel a 4 x 4 block of what the canvas shows', async () => {
    const { page, errors } = await site.open('view=sample&seed=5&temp=0.7&sampler=gaussian', 'sample');
    const { name, width, height, pixels } = await download(page, 'sample', 4);
    expect(name).toBe(`${fixtureRunId}-samples-gaussian-seed5-t0.7.png`);
    expect([width, height]).toEqual([(8 * size + 7 * 2) * 4, (2 * size + 2) * 4]);
    const shown = await canvasPixels(page, 'glo-sample canvas');
    expect(shown).toHaveLength(16);
    // Sample 10 sits in row 1, column 1 of the sheet.
    const [x0, y0] = [1 * (size + 2) * 4, 1 * (size + 2) * 4];
    for (const [x, y] of [[0, 0], [5, 17], [31, 31], [12, 3]]) {
      for (const [dx, dy] of [[0, 0], [3, 3], [1, 2]]) {
        const at = ((y0 + y * 4 + dy) * width + x0 + x * 4 + dx) * 4;
        const from = (y * size + x) * 4;
        expect([...pixels.subarray(at, at + 3)], `(${x}, ${y})`).toEqual(shown[9].slice(from, from + 3));
      }
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('every view offers one, named after its state (Explore\'s file is its image, pixel for pixel)', async () => {
    const cases: [string, string, RegExp, number, number][] = [
      ['view=reconstructions', 'reconstructions', /^fixture-reconstructions-page1\.png$/, 12 * size + 11 * 2, 4 * size + 3 * 2],
      ['view=explore&from=image&a=5&x=1,0,0,0,0,0,0,-1', 'explore', /^fixture-explore-image5-x1_0_0_0_0_0_0_-1\.png$/, size, size],
      ['view=grid&a=0&b=5&c=10&d=20&side=3', 'grid', /^fixture-grid-a0-b5-c10-d20-3x3\.png$/, 3 * size + 4, 3 * size + 4],
      ['view=arithmetic&a=1&b=2&c=c1', 'arithmetic', /^fixture-arithmetic-a1-b2-cc1\.png$/, 4 * size + 6, size],
      ['view=edit&a=4&damage=noise&noise=0.5&seed=3', 'edit', /^fixture-edit-image4-noise-sigma0\.5-seed3\.png$/, 3 * size + 4, size],
    ];
    for (const [query, view, pattern, width, height] of cases) {
      const { page, errors } = await site.open(query, view);
      const file = await download(page, view, 1);
      expect(file.name, view).toMatch(pattern);
      expect([file.width, file.height], view).toEqual([width, height]);
      if (view === 'explore') {
        const [shown] = await canvasPixels(page, 'canvas[data-explore-image]');
        expect([...file.pixels], view).toEqual(shown);
      }
      expect(errors, view).toEqual([]);
      await page.close();
    }
  }, 180_000);
});
