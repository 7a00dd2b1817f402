/**
 * `npm run screenshots [-- --run runs/emoji-quick] [--out docs/screenshots] [--backend wasm]`
 *
 * Drives the real built page in headless Chromium on a run and saves one PNG per view into docs/screenshots/
 * (reconstructions, explore, morph, grid, sample, arithmetic, edit, nearest): 1000 px wide, 760 px of the page from the tab
 * bar down (the first one from the top), palette-compressed so the README's images stay small. The run: --run, else runs/emoji-quick, else the bench run (npm run bench:site
 * trains one), else the site tests' fixture run.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { serveOneRun } from '../../training/serve/local-site.ts';
import { launchChromium } from '../dev/chromium.ts';
import { ensureSiteBuilt, repoRoot } from '../dev/site-build.ts';

const views = ['reconstructions', 'explore', 'morph', 'grid', 'sample', 'arithmetic', 'edit', 'nearest'] as const;
type Shot = (typeof views)[number];

async function pickRun(given: string | undefined): Promise<string> {
  const candidates = given ? [given] : [path.join(repoRoot, 'runs', 'emoji-quick'), path.join(repoRoot, '.tmp', 'site-bench', 'run-quick')];
  for (const dir of candidates) if (existsSync(path.join(dir, 'manifest.json'))) return path.resolve(dir);
  if (given) throw new Error(`--run ${given}: no manifest.json there (a finished run folder is needed).`);
  throw new Error('No run to photograph: run "npm start" first (it trains runs/emoji-quick), or pass --run <run folder>.');
}

/** Waits until the view has rendered: its data-state says so, or (views without one) it shows a canvas. */
async function waitForView(page: Page, view: string): Promise<void> {
  await page
    .waitForFunction(
      (name) => {
        const element = document.querySelector<HTMLElement>(`[data-view-panel="${name}"] > *`);
        if (!element) return false;
        const state = element.dataset.state;
        return state ? ['ready', 'done'].includes(state) : !!element.querySelector('canvas');
      },
      view,
      { timeout: 120_000 },
    )
    .catch(() => console.warn(`  ${view}: no ready state within 2 min; taking the picture as it is`));
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(500);
}

async function shoot(page: Page, url: string, shot: Shot, out: string): Promise<void> {
  const view = shot === 'nearest' ? 'reconstructions' : shot;
  // Explore from a training image, moved along its first two directions, so the sliders show something.
  await page.goto(`${url}&view=${view}${shot === 'explore' ? '&from=image&a=700&x=1.5,-1,0,0,0,0,0,0' : ''}`);
  await page.waitForSelector('glo-app[data-state=ready]', { timeout: 120_000 });
  await waitForView(page, view);
  if (shot === 'edit') {
    // Show a finished restoration: the default damage (a square hole), restored.
    await page.click('[data-restore]');
    await page.waitForSelector('glo-edit[data-state=done]', { timeout: 300_000 });
  }
  if (shot === 'nearest') {
    // The memorization check: a reconstruction's nearest training images, panel in view.
    await page.click('[data-view-panel=reconstructions] button.image-button');
    await page.waitForSelector('glo-nearest [data-nearest-index]');
    await page.locator('aside.nearest').scrollIntoViewIfNeeded();
  }
  // The first picture shows the whole page top; the others start at the tab bar so the view itself fills the frame.
  const top = shot === 'reconstructions' ? 0 : Math.max(0, ((await page.locator('[role=tablist]').boundingBox({ timeout: 5_000 }).catch(() => null))?.y ?? 0) + (await page.evaluate('window.scrollY') as number) - 8);
  const height = await page.evaluate('document.documentElement.scrollHeight') as number;
  const png = await page.screenshot({ fullPage: true, clip: { x: 0, y: top, width: 1000, height: Math.min(760, height - top) } });
  const small = await sharp(png).png({ palette: true, quality: 90, compressionLevel: 9, effort: 10 }).toBuffer();
  await writeFile(path.join(out, `${shot}.png`), small);
  console.log(`  ${shot}.png (${(small.byteLength / 1024).toFixed(0)} KiB)`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      out: { type: 'string', default: path.join(repoRoot, 'docs', 'screenshots') },
      backend: { type: 'string', default: 'wasm' },
      only: { type: 'string' },
    },
  });
  const runDir = await pickRun(values.run);
  const dist = await ensureSiteBuilt();
  const { server, manifest } = await serveOneRun(runDir, dist, path.join(repoRoot, '.tmp', 'screenshots'));
  await mkdir(values.out, { recursive: true });
  console.log(`Screenshots of run ${manifest.runId} (${path.relative(repoRoot, runDir)}) into ${path.relative(repoRoot, values.out)}:`);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const wanted = values.only ? (values.only.split(',') as Shot[]) : views;
    for (const shot of wanted) await shoot(page, `${server.url}?run=${encodeURIComponent(manifest.runId)}&backend=${values.backend}`, shot, values.out);
    if (errors.length) console.warn(`page errors: ${errors.join(' | ')}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(`screenshots failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
