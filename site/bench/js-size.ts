/**
 * What the built site ships, gzipped: TensorFlow.js (core, layers, backends) apart from the site's own JS, and the
 * size budget on the latter. tfjs is large and loaded on demand in its own chunks; the budget keeps everything else
 * (the shell, the views, zod, the GLO math) honest. Sizes are deterministic for a given build, so a test asserts
 * the budget (test/site/bundle-budget.test.ts) and `npm run bench:site` prints it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/** Budget for the gzipped JS outside tfjs, all views included (lazy ones too). */
export const APP_JS_BUDGET_GZIP = 80 * 1024;

export interface Chunk {
  file: string;
  bytes: number;
  gzip: number;
  tfjs: boolean;
}

export interface ShippedJs {
  chunks: Chunk[];
  tfjsGzip: number;
  appGzip: number;
  /** The wasm backend's binaries (only the one the browser supports is downloaded). */
  wasm: { file: string; bytes: number; gzip: number }[];
  budget: number;
  overBudget: boolean;
}

const gzipSize = (data: Buffer) => gzipSync(data, { level: 9 }).byteLength;

/** Relative chunk files a chunk imports, statically or dynamically. */
function importsOf(code: string): string[] {
  const out = new Set<string>();
  for (const m of code.matchAll(/(?:from\s*|import\s*\(\s*|import\s*)["']\.\/([^"']+\.js)["']/g)) out.add(m[1]);
  return [...out];
}

/**
 * Chunks of a built site (dist/_astro/*.js), each marked tfjs or not. A chunk is tfjs when it holds tfjs code: kernel
 * registrations (`kernelName`, a property name minification keeps), or when it has importers and all of them are
 * tfjs chunks (helpers Vite split out of the backends). Everything else is the site's own JS.
 */
export function measureShippedJs(dist: string): ShippedJs {
  const dir = path.join(dist, '_astro');
  const files = readdirSync(dir);
  const code = new Map(files.filter((f) => f.endsWith('.js')).map((f) => [f, readFileSync(path.join(dir, f))]));
  const tfjs = new Set([...code].filter(([, c]) => c.includes('kernelName')).map(([f]) => f));
  const importers = new Map<string, string[]>();
  for (const [f, c] of code) for (const target of importsOf(c.toString('utf8'))) importers.set(target, [...(importers.get(target) ?? []), f]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const f of code.keys()) {
      const from = importers.get(f) ?? [];
      if (!tfjs.has(f) && from.length > 0 && from.every((i) => tfjs.has(i))) {
        tfjs.add(f);
        changed = true;
      }
    }
  }
  const chunks = [...code].map(([file, c]) => ({ file, bytes: c.byteLength, gzip: gzipSize(c), tfjs: tfjs.has(file) })).sort((a, b) => b.gzip - a.gzip);
  const wasm = files
    .filter((f) => f.endsWith('.wasm'))
    .map((file) => {
      const data = readFileSync(path.join(dir, file));
      return { file, bytes: data.byteLength, gzip: gzipSize(data) };
    });
  const sum = (list: Chunk[]) => list.reduce((s, c) => s + c.gzip, 0);
  const appGzip = sum(chunks.filter((c) => !c.tfjs));
  return { chunks, tfjsGzip: sum(chunks.filter((c) => c.tfjs)), appGzip, wasm, budget: APP_JS_BUDGET_GZIP, overBudget: appGzip > APP_JS_BUDGET_GZIP };
}

export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The size report as lines of text. */
export function formatShippedJs(js: ShippedJs): string[] {
  const lines = js.chunks.map((c) => `  ${c.tfjs ? 'tfjs' : 'site'}  ${kib(c.gzip).padStart(10)} gz  ${kib(c.bytes).padStart(10)}  ${c.file}`);
  for (const w of js.wasm) lines.push(`  wasm  ${kib(w.gzip).padStart(10)} gz  ${kib(w.bytes).padStart(10)}  ${w.file}`);
  lines.push(`  tfjs JS: ${kib(js.tfjsGzip)} gzipped; site JS (outside tfjs): ${kib(js.appGzip)} gzipped, budget ${kib(js.budget)}: ${js.overBudget ? 'OVER BUDGET' : 'within budget'}`);
  return lines;
}
