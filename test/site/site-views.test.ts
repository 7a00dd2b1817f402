/**
 * The built site in real Chromium on a run the real trainer made: the pixels the page shows are g(z) computed in
 * Node on the same model and codes, the morph hits its endpoints, sampling is seeded, the URL restores the state,
 * and the controls are labelled and reachable by keyboard. The wasm backend is forced (SwiftShader webgl is slow).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sampleGaussian, type GaussianPrior } from '../../training/glo/gaussian.ts';
import { arithmetic, lerp, meanCode, slerp } from '../../training/glo/latent.ts';
import { Random } from '../../training/glo/random.ts';
import { startStaticServer, type StaticServer } from '../../training/serve/local-site.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { launchChromium, watchedPage, waitForApp, type WatchedPage } from '../../site/dev/chromium.ts';
import { ensureFixtureRuns, fixtureRunId, otherBestRunId, type FixtureRuns } from './helpers/fixture-runs.ts';
import { bestSampler, evalReportSchema } from '../../training/eval/eval-report.ts';
import { sampleImle } from '../../training/glo/imle.ts';
import { loadImleSampler } from '../../training/trainer/imle-sampler.ts';
import { openStorage } from '../../training/storage/open-storage.ts';
import { maxByteDifference, nodeGenerator } from './helpers/reference.ts';
import { ensureSiteBuilt } from '../../site/dev/site-build.ts';

// Browser (XNNPACK wasm) and Node (pure-JS cpu) differ by float rounding only: at most one byte after rounding,
// two to be safe. A wrong image differs by tens.
const tolerance = 2;

let fixture: FixtureRuns;
let server: StaticServer;
let browser: Browser;
let reference: Awaited<ReturnType<typeof nodeGenerator>>;
let watched: WatchedPage;
let page: Page;
let prior: { global: GaussianPrior; classes: Record<string, GaussianPrior> };
let labels: number[];

beforeAll(async () => {
  const [runs, dist] = await Promise.all([ensureFixtureRuns(), ensureSiteBuilt()]);
  fixture = runs;
  server = await startStaticServer([{ prefix: '/runs/', dir: fixture.runs }, { prefix: '/', dir: dist }]);
  reference = await nodeGenerator(fixture.runDir, fixture.manifest);
  prior = JSON.parse(await readFile(path.join(fixture.runDir, 'prior.json'), 'utf8'));
  labels = JSON.parse(await readFile(path.join(fixture.runDir, 'labels.json'), 'utf8')).index;
  browser = await launchChromium();
  watched = await watchedPage(browser);
  page = watched.page;
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

// The shell catches stray errors and shows them in the page (role=alert), so the console alone would not see them.
afterEach(async () => {
  expect(await page.textContent('[data-error]')).toBe('');
  expect(watched.errors).toEqual([]);
});

async function open(query: string, view: string): Promise<void> {
  await page.goto(`${server.url}?backend=wasm&${query}`);
  await waitForApp(page);
  await page.waitForSelector(`glo-${view}[data-state=ready]`, { timeout: 60_000 });
}

/** RGBA bytes of every canvas matching `selector`, in document order. */
function canvases(selector: string): Promise<number[][]> {
  return page.$$eval(selector, (elements) =>
    elements.map((c) => {
      const canvas = c as HTMLCanvasElement;
      return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
    }),
  );
}

const channels = () => fixture.manifest.dataset.channels;
const stack = (codes: Float32Array[]) => {
  const out = new Float32Array(codes.length * reference.dim);
  codes.forEach((c, i) => out.set(c, i * reference.dim));
  return out;
};

describe('the demo site on a trained run', () => {
  it('shows each training image beside g(z_i), pixel for pixel what Node computes, with its PSNR', async () => {
    await open('', 'reconstructions');
    expect(await page.textContent('[data-backend]')).toBe('wasm');
    const shown = await canvases('canvas[data-recon-index]');
    const count = fixture.manifest.dataset.imageCount;
    expect(shown).toHaveLength(Math.min(count, 24));
    const expected = reference.generate(reference.latents.slice(0, shown.length * reference.dim));
    shown.forEach((rgba, i) => expect(maxByteDifference(rgba, expected, channels(), i), `image ${i}`).toBeLessThanOrEqual(tolerance));
    const psnrs = await page.$$eval('[data-psnr]', (els) => els.map((e) => Number((e as HTMLElement).dataset.psnr)));
    const mean = psnrs.reduce((s, v) => s + v, 0) / psnrs.length;
    // The page's mean over all images equals the trainer's figure in the manifest (same metric, same model).
    expect(mean).toBeCloseTo(fixture.manifest.metrics.final.reconstructionPsnr, 1);
    expect(await page.getAttribute('[data-run-select]', 'disabled')).toBeNull();
    expect(watched.errors).toEqual([]);
  });

  it('picks the fastest backend when none is forced: WebGL on a software rasterizer is passed over for wasm, and the page says why', async () => {
    const other = await watchedPage(browser);
    await other.page.goto(`${server.url}?run=${fixtureRunId}`);
    await waitForApp(other.page);
    // Headless Chromium here has no WebGPU adapter, and its WebGL is SwiftShader (the CPU): wasm is faster.
    const renderer = await other.page.evaluate(() => {
      const gl = document.createElement('canvas').getContext('webgl')!;
      const info = gl.getExtension('WEBGL_debug_renderer_info');
      return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    });
    expect(renderer).toMatch(/SwiftShader/i);
    expect(await other.page.textContent('[data-backend]')).toBe('wasm');
    expect(await other.page.textContent('[data-backend-note]')).toMatch(/WebGL here is software \(.*SwiftShader.*\), so wasm is faster/);
    await other.page.waitForSelector('glo-reconstructions[data-state=ready]', { timeout: 60_000 });
    // Forced, webgl is still used: the choice is only the page's default.
    await other.page.goto(`${server.url}?run=${fixtureRunId}&backend=webgl`);
    await waitForApp(other.page);
    expect(await other.page.textContent('[data-backend]')).toBe('webgl');
    expect(await other.page.textContent('[data-backend-note]')).toBe('');
    expect(other.errors).toEqual([]);
    await other.page.close();
  });

  it('lists the nearest training images to a reconstruction, closest first', async () => {
    await page.click('canvas[data-recon-index="5"]');
    const rows = await page.$$eval('[data-nearest-index]', (els) => els.map((e) => ({ index: Number((e as HTMLElement).dataset.nearestIndex), rmse: Number((e as HTMLElement).dataset.rmse) })));
    expect(rows).toHaveLength(6);
    expect(rows.map((r) => r.rmse)).toEqual([...rows.map((r) => r.rmse)].sort((x, y) => x - y));
    expect(await page.textContent('glo-nearest figcaption')).toContain('image 5');
  });

  it('morphs from A to B: t = 0 is g(z_A), t = 1 is g(z_B), the strip runs between them', async () => {
    await open(`run=${fixtureRunId}&view=morph&a=3&b=17&t=0&steps=5`, 'morph');
    const [a, b] = [reference.code(3), reference.code(17)];
    const ends = reference.generate(stack([a, b]));
    expect(maxByteDifference((await canvases('[data-morph-frame]'))[0], ends, channels(), 0)).toBeLessThanOrEqual(tolerance);
    const strip = await canvases('glo-morph .strip canvas');
    expect(strip).toHaveLength(5);
    expect(maxByteDifference(strip[0], ends, channels(), 0)).toBeLessThanOrEqual(tolerance);
    expect(maxByteDifference(strip[4], ends, channels(), 1)).toBeLessThanOrEqual(tolerance);
    expect(maxByteDifference(strip[2], reference.generate(slerp(a, b, 0.5)), channels())).toBeLessThanOrEqual(tolerance);

    await page.fill('[data-morph-t]', '1');
    await page.waitForSelector('[data-morph-frame][data-t="1"]');
    expect(maxByteDifference((await canvases('[data-morph-frame]'))[0], ends, channels(), 1)).toBeLessThanOrEqual(tolerance);
    expect(new URL(page.url()).searchParams.get('t')).toBe('1');
    expect(watched.errors).toEqual([]);
  });

  it('plays and pauses the morph animation', async () => {
    await page.click('[data-action=play]');
    expect(await page.getAttribute('[data-action=play]', 'aria-pressed')).toBe('true');
    await page.waitForFunction(() => Number((document.querySelector('[data-morph-frame]') as HTMLElement).dataset.t) < 0.98, undefined, { timeout: 30_000 });
    await page.click('[data-action=play]');
    expect(await page.getAttribute('[data-action=play]', 'aria-pressed')).toBe('false');
    const t = Number(new URL(page.url()).searchParams.get('t'));
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThan(1);
  });

  it('downloads the strip as a PNG', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action=download-strip]')]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^${fixtureRunId}-morph-a\\d+-b\\d+-(slerp|lerp)-\\d+steps\\.png$`));
    const bytes = await readFile((await download.path())!);
    expect([...bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
  });

  it('samples from the prior deterministically: the same seed gives the same images, another seed others', async () => {
    await open(`run=${fixtureRunId}&view=sample&seed=5&sampler=gaussian`, 'sample');
    const first = await canvases('canvas[data-sample-index]');
    expect(first).toHaveLength(16);
    const codes = sampleGaussian(prior.global, 16, new Random(5), { projection: fixture.manifest.latents.projection });
    const expected = reference.generate(codes);
    first.forEach((rgba, i) => expect(maxByteDifference(rgba, expected, channels(), i)).toBeLessThanOrEqual(tolerance));

    await page.reload();
    await waitForApp(page);
    await page.waitForSelector('glo-sample[data-state=ready]');
    expect(await canvases('canvas[data-sample-index]')).toEqual(first);

    await page.fill('[data-seed]', '6');
    await page.press('[data-seed]', 'Enter');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('seed') === '6');
    await page.waitForSelector('glo-sample[data-state=ready]');
    const other = await canvases('canvas[data-sample-index]');
    expect(other).not.toEqual(first);
    expect(watched.errors).toEqual([]);
  });

  it('samples one class from its own prior, at a temperature', async () => {
    await open(`run=${fixtureRunId}&view=sample&seed=2&cls=spots&temp=0.5`, 'sample');
    expect(await page.inputValue('[data-sample-class]')).toBe('spots');
    const codes = sampleGaussian(prior.classes.spots, 16, new Random(2), { temperature: 0.5, projection: fixture.manifest.latents.projection });
    const expected = reference.generate(codes);
    (await canvases('canvas[data-sample-index]')).forEach((rgba, i) => expect(maxByteDifference(rgba, expected, channels(), i)).toBeLessThanOrEqual(tolerance));
  });

  it('starts with the sampler eval.json measured best, offers the other, and samples IMLE as Node does', async () => {
    const report = evalReportSchema.parse(JSON.parse(await readFile(path.join(fixture.runDir, 'eval.json'), 'utf8')));
    const best = bestSampler(report, ['gaussian', 'imle'])!.sampler;
    const other = best === 'gaussian' ? 'imle' : 'gaussian';
    await open(`run=${fixtureRunId}&view=sample&seed=3`, 'sample');
    expect(await page.inputValue('[data-sampler]')).toBe(best);
    expect(await page.locator('[data-sampler] option').allTextContents()).toEqual(['Gaussian prior', 'IMLE sampler'].map((l, i) => (['gaussian', 'imle'][i] === best ? `${l} (best measured)` : l)));
    expect(await page.textContent('[data-sampler-note]')).toContain('Fréchet distance');
    // The same run with the two measurements swapped starts with the other sampler.
    await open(`run=${otherBestRunId}&view=sample&seed=3`, 'sample');
    expect(await page.inputValue('[data-sampler]')).toBe(other);

    // IMLE: the network on seeded noise, projected, then g: the codes Node's sampleImle gives for the seed.
    await open(`run=${fixtureRunId}&view=sample&seed=3&sampler=imle`, 'sample');
    const imle = (await loadImleSampler(openStorage(fixture.runDir), fixture.manifest))!;
    const codes = sampleImle(imle, 16, new Random(3), fixture.manifest.latents.projection);
    imle.dispose();
    const expected = reference.generate(codes);
    (await canvases('canvas[data-sample-index]')).forEach((rgba, i) => expect(maxByteDifference(rgba, expected, channels(), i)).toBeLessThanOrEqual(tolerance));
    await page.selectOption('[data-sampler]', 'gaussian');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('sampler') === 'gaussian');

    // A class is sampled from its own Gaussian: the sampler choice is set to it and disabled.
    await open(`run=${fixtureRunId}&view=sample&seed=3&sampler=imle&cls=spots`, 'sample');
    expect(await page.inputValue('[data-sampler]')).toBe('gaussian');
    expect(await page.isDisabled('[data-sampler]')).toBe(true);
  });

  it('does arithmetic on codes and class means: g(z_A - z_B + mean of class C)', async () => {
    await open(`run=${fixtureRunId}&view=arithmetic&a=1&b=2&c=c1`, 'arithmetic');
    const members = labels.flatMap((l, i) => (l === 1 ? [i] : []));
    const c = meanCode(reference.latents, reference.dim, members);
    const expected = reference.generate(arithmetic(reference.code(1), reference.code(2), c, fixture.manifest.latents.projection));
    expect(maxByteDifference((await canvases('[data-arith-result]'))[0], expected, channels())).toBeLessThanOrEqual(tolerance);
    expect(await page.textContent('glo-arithmetic')).toContain('mean of spots');
  });

  it('fills the interpolation grid bilinearly between four images', async () => {
    await open(`run=${fixtureRunId}&view=grid&a=0&b=5&c=10&d=20&side=3`, 'grid');
    const cells = await canvases('canvas[data-grid-cell]');
    expect(cells).toHaveLength(9);
    const [a, b, c, d] = [0, 5, 10, 20].map((i) => reference.code(i));
    const expected = reference.generate(stack([a, b, c, d, lerp(lerp(a, b, 0.5), lerp(c, d, 0.5), 0.5)]));
    for (const [cell, k] of [[0, 0], [2, 1], [6, 2], [8, 3], [4, 4]]) {
      expect(maxByteDifference(cells[cell], expected, channels(), k), `cell ${cell}`).toBeLessThanOrEqual(tolerance);
    }
  });

  it('restores the state from a permalink, and writes choices back into the URL', async () => {
    await open(`run=${fixtureRunId}&view=morph&a=4&b=9&t=0.25&mode=lerp&steps=6`, 'morph');
    expect(await page.getAttribute('#tab-morph', 'aria-selected')).toBe('true');
    expect(await page.isHidden('#panel-reconstructions')).toBe(true);
    expect(await page.inputValue('[data-morph-t]')).toBe('0.25');
    expect(await page.isChecked('input[name=morph-mode][value=lerp]')).toBe(true);
    expect(await canvases('glo-morph .strip canvas')).toHaveLength(6);
    const expected = reference.generate(lerp(reference.code(4), reference.code(9), 0.25));
    expect(maxByteDifference((await canvases('[data-morph-frame]'))[0], expected, channels())).toBeLessThanOrEqual(tolerance);

    // Choose new endpoints by clicking the gallery (A, then B), then open the resulting URL afresh.
    await page.click('glo-morph .gallery button[data-image="7"]');
    await page.click('glo-morph .gallery button[data-image="12"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('b') === '12');
    await page.waitForSelector('glo-morph[data-state=ready]');
    const before = await canvases('[data-morph-frame]');
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ run: fixtureRunId, view: 'morph', a: '7', b: '12', t: '0.25', mode: 'lerp' });
    const second = await watchedPage(browser);
    await second.page.goto(url.href);
    await second.page.waitForSelector('glo-morph[data-state=ready]', { timeout: 60_000 });
    const after = await second.page.$$eval('[data-morph-frame]', (els) => els.map((c) => Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 32, 32).data)));
    expect(after).toEqual(before);
    expect(second.errors).toEqual([]);
    await second.page.close();
  });

  it('labels every control and reaches them by keyboard', async () => {
    await open(`run=${fixtureRunId}`, 'reconstructions');
    for (const view of ['morph', 'grid', 'sample', 'arithmetic', 'reconstructions']) {
      await page.click(`#tab-${view}`);
      await page.waitForSelector(`glo-${view}[data-state=ready]`);
    }
    const unnamed = await page.$$eval('button, input, select, textarea, [role=tab], canvas[role=img]', (elements) =>
      elements
        .filter((e) => !(e as HTMLElement).closest('[hidden]') && (e as HTMLInputElement).type !== 'hidden')
        .filter((e) => {
          const el = e as HTMLInputElement;
          const name = el.getAttribute('aria-label') ?? (el.labels && el.labels.length ? el.labels[0].textContent : null) ?? (el.tagName === 'BUTTON' || el.getAttribute('role') === 'tab' ? el.textContent : null);
          return !name || !name.trim();
        })
        .map((e) => e.outerHTML.slice(0, 120)),
    );
    expect(unnamed).toEqual([]);
    // Spot checks through the accessibility tree (role + accessible name, as a screen reader sees them).
    await page.click('#tab-morph');
    await expect(page.getByRole('slider', { name: 'Position t' }).count()).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Play' }).count()).resolves.toBe(1);
    await expect(page.getByRole('combobox', { name: 'Run' }).count()).resolves.toBe(1);

    // Tabs: arrow keys move between views (WAI-ARIA tabs), Tab walks into the panel's controls.
    await page.focus('#tab-morph');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-grid', 'aria-selected')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-grid');
    await page.keyboard.press('ArrowLeft');
    expect(await page.getAttribute('#tab-morph', 'aria-selected')).toBe('true');
    await page.waitForSelector('glo-morph[data-state=ready]');
    const reached = new Set<string>();
    await page.focus('[data-run-select]');
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => {
        const e = document.activeElement as HTMLElement | null;
        return e ? e.getAttribute('data-action') ?? e.getAttribute('aria-label') ?? (e.id || e.tagName) : '';
      }));
    }
    expect([...reached]).toEqual(expect.arrayContaining(['copy-link', 'tab-morph', 'random', 'Choose image 0 (blobs)', 'play', 'download-strip']));
    // A gallery image chosen with the keyboard alone.
    await page.focus('glo-morph .gallery button[data-image="2"]');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('a') === '2');
    expect(watched.errors).toEqual([]);
  });
});
