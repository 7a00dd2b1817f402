// The size budget on the site's own JS (everything outside tfjs), on the built site: sizes are deterministic for a
// given build, so this is a unit test; `npm run bench:site` prints the same report.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_JS_BUDGET_GZIP, formatShippedJs, measureShippedJs, type ShippedJs } from '../../site/bench/js-size.ts';
import { ensureSiteBuilt } from '../../site/dev/site-build.ts';

let dist: string;
let js: ShippedJs;

beforeAll(async () => {
  dist = await ensureSiteBuilt();
  js = measureShippedJs(dist);
}, 600_000);

describe('shipped JS', () => {
  it(`keeps the site's JS outside tfjs within the budget (${APP_JS_BUDGET_GZIP / 1024} KiB gzipped)`, () => {
    expect(js.appGzip, formatShippedJs(js).join('\n')).toBeLessThanOrEqual(APP_JS_BUDGET_GZIP);
    expect(js.overBudget).toBe(false);
  });

  it('finds tfjs (core, layers, backends) in chunks of its own, which the page script loads only on demand', () => {
    expect(js.tfjsGzip).toBeGreaterThan(200 * 1024);
    const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
    const entries = [...html.matchAll(/<script[^>]+src="\/_astro\/([^"]+\.js)"/g)].map((m) => m[1]);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(js.chunks.find((c) => c.file === entry)?.tfjs).toBe(false);
      const code = readFileSync(path.join(dist, '_astro', entry), 'utf8');
      // Static imports of the entry (what loads before the page can render) hold no tfjs chunk.
      const staticImports = [...code.matchAll(/(?:^|[;\s])import\s*(?:[\w*{}\s,$]+from\s*)?["']\.\/([^"']+\.js)["']/g)].map((m) => m[1]);
      for (const file of staticImports) expect(js.chunks.find((c) => c.file === file)?.tfjs, file).toBe(false);
    }
  });
});
