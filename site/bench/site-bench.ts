/**
 * `npm run bench:site [-- --run runs/emoji-quick] [--backends webgl,wasm,cpu,webgpu] [--steps 40] [--json]`
 *
 * The built site in headless Chromium, per TensorFlow.js backend (forced with ?backend=): time from navigation to
 * the first generated image (the Reconstructions view's first g(z_i) on screen), generation latency at batch 1 and
 * 16, morph frames per second, inversion steps per second (the Edit view's Restore, through the real UI), and the
 * gzipped size of the shipped JS, tfjs apart from the rest, with the size budget on the rest.
 *
 * Without --run it uses runs/emoji-quick when present, else trains a bench run with the real trainer: the quick
 * preset's architecture (32 px, d 100, width 64) on 256 emoji for one epoch (speed does not depend on quality).
 * Measurements go through the page's own code: the views' public `context` (the shell's ViewContext: generate() is
 * the page's batched, non-blocking generator call) and the Edit view's controls; nothing bench-only ships.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { parseManifest } from '../../training/glo/manifest.ts';
import { serveOneRun } from '../../training/serve/local-site.ts';
import { launchChromium } from '../dev/chromium.ts';
import { ensureSiteBuilt, repoRoot } from '../dev/site-build.ts';
import { formatShippedJs, measureShippedJs } from './js-size.ts';

/** 'auto': no ?backend=, the page chooses (what a visitor gets); the figures say which it chose. */
type Backend = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
const BACKENDS: Backend[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendFigures {
  backend: Backend;
  /** The backend the page ran on (for 'auto', the one it chose). */
  chosen?: string;
  /** Why the backend could not run (no figures then). */
  unavailable?: string;
  /** Navigation start to the first training image on screen (the Reconstructions view's left column). */
  trainingImagesMs?: number;
  firstImageMs?: number;
  generateBatch1Ms?: number;
  generateBatch16Ms?: number;
  morphFps?: number;
  /** Images per second the Explore view draws while its first slider is dragged back and forth. */
  exploreFps?: number;
  inversionStepsPerSecond?: number;
  errors: string[];
}

const benchDir = path.join(repoRoot, '.tmp', 'site-bench');

async function run(command: string[]): Promise<void> {
  const child = spawn(process.execPath, command, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${command.join(' ')} failed (exit ${code})`);
}

/** The run to serve: --run, else runs/emoji-quick, else a bench run trained once (cached by trainer version). */
async function benchRun(given: string | undefined): Promise<string> {
  if (given) {
    if (!existsSync(path.join(given, 'manifest.json'))) throw new Error(`--run ${given}: no manifest.json there (a finished run folder is needed).`);
    return path.resolve(given);
  }
  const quick = path.join(repoRoot, 'runs', 'emoji-quick');
  if (existsSync(path.join(quick, 'manifest.json'))) return quick;
  const dir = path.join(benchDir, 'run-quick');
  const usable = await readFile(path.join(dir, 'manifest.json'), 'utf8').then((text) => !!parseManifest(JSON.parse(text)), () => false);
  if (usable) return dir;
  console.log(`No run given and no runs/emoji-quick: training a bench run (quick architecture, 256 emoji, 1 epoch) into ${path.relative(repoRoot, dir)}`);
  await rm(dir, { recursive: true, force: true });
  await run([path.join(repoRoot, 'bin', 'glo.js'), 'train', '--data', 'emoji', '--out', dir, '--preset', 'quick', '--limit', '256', '--epochs', '1', '--backend', 'wasm', '--quiet']);
  return dir;
}

// Page-side scripts are strings: functions compiled by tsx could reference helpers that do not exist in the page.

/**
 * Records when the first training image and the first generated image (a reconstruction g(z_i)) enter the page,
 * in ms since navigation.
 */
const firstImageObserver = `
  new MutationObserver((_, observer) => {
    if (window.__trainingImages === undefined && document.querySelector('canvas[data-train-index]')) window.__trainingImages = performance.now();
    if (window.__firstImage === undefined && document.querySelector('canvas[data-recon-index]')) {
      window.__firstImage = performance.now();
      window.__trainingImages ??= window.__firstImage;
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
`;

/** Median ms of context.generate() for `n` codes in one batch, after two warm-up calls. */
const generateScript = (n: number) => `(async () => {
  const context = document.querySelector('glo-reconstructions').context;
  const { dim, count, latents } = context.run;
  const codes = new Float32Array(${n} * dim);
  for (let i = 0; i < ${n}; i++) codes.set(latents.subarray((i % count) * dim, (i % count + 1) * dim), i * dim);
  for (let i = 0; i < 2; i++) await context.generate(codes, { batchSize: ${n} });
  const times = [];
  const until = performance.now() + 4000;
  while (times.length < 3 || (performance.now() < until && times.length < 30)) {
    const start = performance.now();
    await context.generate(codes, { batchSize: ${n} });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
})()`;

/**
 * A morph's frame loop for `ms`: lerp two codes, generate one image, paint it on a canvas, wait for the next
 * animation frame (so at most the display rate, as the Morph view's player).
 */
/**
 * Images per second the Explore view draws while its first slider is dragged: one input event per animation
 * frame, as a pointer drag sends them; the view draws the latest position each time it is free.
 */
const exploreScript = (ms: number) => `(async () => {
  const view = document.querySelector('glo-explore');
  const slider = view.querySelector('[data-pc="0"]');
  const renders = () => Number(view.getAttribute('data-renders') || 0);
  const first = renders();
  const start = performance.now();
  for (let k = 0; performance.now() - start < ${ms}; k++) {
    slider.value = String(Math.round(30 * Math.sin(k / 12)) / 10);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  while (view.getAttribute('data-state') !== 'ready') await new Promise((resolve) => requestAnimationFrame(resolve));
  return ((renders() - first) * 1000) / (performance.now() - start);
})()`;

const morphScript = (ms: number) => `(async () => {
  const context = document.querySelector('glo-reconstructions').context;
  const { dim, shape, count } = context.run;
  const a = context.run.code(0), b = context.run.code(1 % count);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = shape.size;
  document.body.append(canvas);
  const g = canvas.getContext('2d');
  const image = g.createImageData(shape.size, shape.size);
  await context.generate(a, { batchSize: 1 });
  let frames = 0;
  const start = performance.now();
  while (performance.now() - start < ${ms}) {
    const t = (frames % 60) / 59;
    const z = new Float32Array(dim);
    for (let i = 0; i < dim; i++) z[i] = a[i] + (b[i] - a[i]) * t;
    const values = await context.generate(z, { batchSize: 1 });
    for (let p = 0; p < shape.size * shape.size; p++) {
      for (let c = 0; c < 3; c++) image.data[p * 4 + c] = Math.round((values[p * shape.channels + (shape.channels === 1 ? 0 : c)] + 1) * 127.5);
      image.data[p * 4 + 3] = 255;
    }
    g.putImageData(image, 0, 0);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    frames++;
  }
  const fps = (frames * 1000) / (performance.now() - start);
  canvas.remove();
  return fps;
})()`;

/** The Edit view's Restore (default damage: the square-hole mask) for `steps` steps; its own steps/s figure. */
async function inversionRate(page: Page, steps: number, timeout: number): Promise<number> {
  await page.click('#tab-edit');
  await page.waitForSelector('glo-edit[data-state=ready]', { timeout });
  for (const n of [5, steps]) {
    // The first (short) restoration warms up: kernels compile, the inversion chunk loads.
    await page.fill('#edit-steps', String(n));
    await page.click('[data-restore]');
    await page.waitForSelector('glo-edit[data-state=done]', { timeout });
  }
  return page.$eval('[data-rate]', (e) => Number((e as HTMLElement).dataset.value));
}

async function measure(browser: Browser, url: string, runId: string, backend: Backend, steps: number): Promise<BackendFigures> {
  // A fresh context per backend: nothing cached from the previous one (JS, wasm, the run's files).
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  const timeout = backend === 'wasm' || backend === 'webgpu' ? 180_000 : 600_000;
  try {
    await page.addInitScript(firstImageObserver);
    await page.goto(`${url}?run=${encodeURIComponent(runId)}&view=reconstructions${backend === 'auto' ? '' : `&backend=${backend}`}`);
    await page.waitForFunction('window.__firstImage !== undefined || !!document.querySelector("[data-error]:not([hidden])")', undefined, { timeout });
    const failure = await page.$eval('[data-error]', (e) => ((e as HTMLElement).hidden ? '' : (e.textContent ?? '')));
    if (failure) return { backend, unavailable: failure.trim(), errors };
    const figures: BackendFigures = { backend, errors };
    figures.chosen = (await page.textContent('[data-backend]')) ?? undefined;
    figures.trainingImagesMs = (await page.evaluate('window.__trainingImages')) as number;
    figures.firstImageMs = (await page.evaluate('window.__firstImage')) as number;
    figures.generateBatch1Ms = (await page.evaluate(generateScript(1))) as number;
    figures.generateBatch16Ms = (await page.evaluate(generateScript(16))) as number;
    figures.morphFps = (await page.evaluate(morphScript(4000))) as number;
    await page.click('#tab-explore');
    await page.waitForSelector('glo-explore[data-state=ready]', { timeout });
    figures.exploreFps = (await page.evaluate(exploreScript(4000))) as number;
    figures.inversionStepsPerSecond = await inversionRate(page, steps, timeout);
    return figures;
  } catch (e) {
    await mkdir(benchDir, { recursive: true });
    const shot = path.join(benchDir, `failure-${backend}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    throw new Error(`${backend}: ${(e as Error).message.split('\n')[0]} (page errors: ${errors.join(' | ') || 'none'}; screenshot ${path.relative(repoRoot, shot)})`);
  } finally {
    await context.close();
  }
}

function describeMachine(): string {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

const fmt = (v: number | undefined, digits = 0) => (v === undefined ? '-' : v.toFixed(digits));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      backends: { type: 'string', default: BACKENDS.join(',') },
      steps: { type: 'string', default: '40' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`Usage: npm run bench:site -- [--run DIR] [--backends ${BACKENDS.join(',')}] [--steps 40] [--json]`);
    return 0;
  }
  const backends = values.backends.split(',').map((b) => b.trim()) as Backend[];
  const unknown = backends.filter((b) => !BACKENDS.includes(b));
  if (unknown.length) throw new Error(`--backends: unknown ${unknown.join(', ')} (use ${BACKENDS.join(', ')}).`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${values.steps}.`);

  const [runDir, dist] = await Promise.all([benchRun(values.run), ensureSiteBuilt()]);
  const { server, manifest } = await serveOneRun(runDir, dist, benchDir);
  const js = measureShippedJs(dist);
  const { imageSize, channels } = manifest.dataset;
  console.log(`site bench: run ${manifest.runId} (${imageSize} px x ${channels}, d ${manifest.latents.dim}, width ${manifest.config.generatorWidth}); ${describeMachine()}`);
  const browser = await launchChromium();
  const chromium = browser.version();
  const results: BackendFigures[] = [];
  try {
    for (const backend of backends) {
      process.stdout.write(`  ${backend}… `);
      const figures = await measure(browser, server.url, manifest.runId, backend, steps);
      results.push(figures);
      console.log(figures.unavailable ? `unavailable (${figures.unavailable})` : 'done');
    }
  } finally {
    await browser.close();
    await server.close();
  }
  if (values.json) {
    console.log(JSON.stringify({ run: manifest.runId, machine: describeMachine(), chromium, results, js }, null, 2));
  } else {
    console.log(`\nChromium ${chromium} headless (SwiftShader where it draws with a GPU API)`);
    console.log('| backend | training images (ms) | first image (ms) | generate, batch 1 (ms) | generate, batch 16 (ms) | morph (frames/s) | explore drag (images/s) | inversion (steps/s) |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      const name = r.backend === 'auto' ? `auto (chose ${r.chosen ?? '?'})` : r.backend;
      if (r.unavailable) console.log(`| ${name} | not available: ${r.unavailable.replace(/\|/g, '/')} | | | | | | |`);
      else console.log(`| ${name} | ${fmt(r.trainingImagesMs)} | ${fmt(r.firstImageMs)} | ${fmt(r.generateBatch1Ms, 1)} | ${fmt(r.generateBatch16Ms, 1)} | ${fmt(r.morphFps, 1)} | ${fmt(r.exploreFps, 1)} | ${fmt(r.inversionStepsPerSecond, 1)} |`);
    }
    console.log('\nShipped JS (gzip -9):');
    console.log(formatShippedJs(js).join('\n'));
  }
  for (const r of results) if (r.errors.length) console.log(`page errors with ${r.backend}: ${r.errors.join(' | ')}`);
  return js.overBudget ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(`bench:site failed: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
