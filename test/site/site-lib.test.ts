/** The site's plain modules, in Node: permalink codec, pixel conversions, nearest neighbours, choices, grid, loader errors. */
import { describe, expect, it } from 'vitest';
import { lerp } from '../../training/glo/latent.ts';
import { MANIFEST_VERSION } from '../../training/glo/manifest.ts';
import { choicesFor, classMembers, codeOf, concatCodes, describeChoice, pageImages, randomChoices, searchImages, validChoice, type ChoiceSource } from '../../site/src/lib/choices.ts';
import { bilinearGrid } from '../../site/src/lib/grid.ts';
import { downloadName, psnr, rgbaToBytes, rgbaToValues, sheetTile, tileRgba, upscaleNearest, valuesToRgba } from '../../site/src/lib/images.ts';
import { valueToByte } from '../../training/glo/pixels.ts';
import { nearestTiles } from '../../site/src/lib/nearest.ts';
import { decodeMask, decodePermalink, encodeMask, encodePermalink, formatChoice, parseChoice, PermalinkStore } from '../../site/src/lib/permalink.ts';
import { countingFetch, loadManifest, loadRunsIndex, RunLoadError, runsBaseUrl } from '../../site/src/lib/run-loader.ts';
import { backendFromQuery, isSoftwareRenderer } from '../../site/src/lib/tf.ts';

describe('permalink', () => {
  it('round-trips every field of the state', () => {
    const state = { run: 'emoji-quick', view: 'morph' as const, a: { image: 12 }, b: { classMean: 3 }, c: { image: 0 }, d: { image: 7 }, t: 0.25, mode: 'lerp' as const, steps: 9, seed: 42, temp: 0.7, cls: 'Animals & Nature', page: 3,
      side: 5, damage: 'noise' as const, noise: 0.35, factor: 4, mask: encodeMask(Float32Array.from({ length: 16 }, (_, i) => i % 3 ? 1 : 0)), iters: 120, from: 'sample' as const, x: [1.25, -3, 0, 0.05] };
    expect(decodePermalink(encodePermalink(state))).toEqual(state);
  });

  it('packs an Edit mask into 1 bit a pixel and reads it back only at its own size', () => {
    const keep = Float32Array.from({ length: 32 * 32 }, (_, i) => (i * 7919) % 5 > 1 ? 1 : 0);
    const text = encodeMask(keep);
    expect(text).toMatch(/^[A-Za-z0-9_-]{171}$/); // 128 bytes
    expect(decodeMask(text, 32 * 32)).toEqual(keep);
    expect(decodeMask(text, 64 * 64)).toBeUndefined();
    expect(decodeMask('not base64!', 16)).toBeUndefined();
  });

  it('drops values that do not parse, so the view falls back to its default', () => {
    expect(decodePermalink('?run=../etc&view=admin&a=-1&b=x3&t=1.5&mode=cubic&steps=1&seed=-4&temp=0&page=1.5')).toEqual({});
    expect(decodePermalink('?side=13&damage=blur&noise=2&factor=1&mask=a%2Bb&iters=0&from=median&x=1,4&')).toEqual({});
    expect(decodePermalink('?t=&seed=')).toEqual({});
  });

  it('keeps keys it does not own (e.g. ?backend=wasm) and removes state keys the state lacks', () => {
    expect(encodePermalink({ run: 'r', t: 0.123456 }, '?backend=wasm&t=0.9&seed=3')).toBe('?backend=wasm&t=0.123&run=r');
    expect(encodePermalink({ seed: undefined }, '?seed=3&backend=cpu')).toBe('?backend=cpu');
  });

  it('parses choices: images by index, class means as c<index>', () => {
    expect(parseChoice('12')).toEqual({ image: 12 });
    expect(parseChoice('c2')).toEqual({ classMean: 2 });
    expect(parseChoice('1e3')).toBeUndefined();
    expect(parseChoice('')).toBeUndefined();
  });

  it('carries a code of its own (Explore\'s hand-over) as z + its float32s in base64url, and refuses one that is not finite', () => {
    const code = Float32Array.of(0.5, -1.25, 3, 1e-7);
    const text = formatChoice({ code });
    expect(text).toMatch(/^z[A-Za-z0-9_-]+$/);
    expect(parseChoice(text)).toEqual({ code });
    expect(parseChoice(formatChoice({ code: Float32Array.of(1, Number.NaN) }))).toBeUndefined();
    expect(parseChoice('zabc')).toBeUndefined(); // 3 bytes: not whole floats
  });

  it('a store rewrites the URL with replaceState and tells subscribers', () => {
    const calls: string[] = [];
    const store = new PermalinkStore({ search: '?run=a&backend=wasm', pathname: '/', hash: '#x' }, { replaceState: (_s: unknown, _t: string, url?: string | URL | null) => calls.push(String(url)) });
    const seen: unknown[] = [];
    store.subscribe((s) => seen.push(s.seed));
    store.update({ seed: 7, view: 'sample' });
    store.update({ seed: undefined });
    expect(calls).toEqual(['/?run=a&backend=wasm&view=sample&seed=7#x', '/?run=a&backend=wasm&view=sample#x']);
    expect(seen).toEqual([7, undefined]);
    expect(store.state).toEqual({ run: 'a', view: 'sample' });
  });
});

describe('image helpers', () => {
  const shape = { size: 2, channels: 3 as const };

  it('maps [-1, 1] to bytes as the trainer does (rounded, clipped)', () => {
    expect([-2, -1, 0, 1, 2, -0.999].map(valueToByte)).toEqual([0, 0, 128, 255, 255, 0]);
  });

  it('converts generator output to RGBA and back', () => {
    const values = Float32Array.from({ length: 2 * 12 }, (_, i) => (i % 12) / 6 - 1);
    const rgba = valuesToRgba(values, shape, 1);
    expect(rgba).toHaveLength(16);
    expect(Array.from(rgba.subarray(0, 4))).toEqual([0, 21, 42, 255]);
    const back = rgbaToValues(rgba, shape);
    back.forEach((v, i) => expect(v).toBeCloseTo(values[12 + i], 1));
    expect(Array.from(rgbaToBytes(rgba, shape).subarray(0, 3))).toEqual([0, 21, 42]);
  });

  it('repeats one grey channel into RGB', () => {
    expect(Array.from(valuesToRgba(new Float32Array([1, -1, 0, 1]), { size: 2, channels: 1 }).subarray(0, 8))).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });

  it('cuts tiles out of a sprite sheet and lays tiles out in a strip', () => {
    const tiles = [0, 1, 2].map((k) => new Uint8ClampedArray(4 * 4).fill(k * 10));
    const sheet = tileRgba(tiles, 2, 2);
    expect([sheet.width, sheet.height]).toEqual([4, 4]);
    tiles.forEach((tile, k) => expect(Array.from(sheetTile(sheet.rgba, sheet.width, 2, 2, k))).toEqual(Array.from(tile)));
    const spaced = tileRgba(tiles, 2, 2, 1);
    expect([spaced.width, spaced.height]).toEqual([5, 5]);
    expect(spaced.rgba[2 * 4]).toBe(255); // the white gap
    expect(spaced.rgba[3 * 4]).toBe(10);
  });

  it('PSNR: infinite agreement is capped at 100 dB; predictions are clipped; half-range error is 6 dB', () => {
    expect(psnr([0, 0.5], [0, 0.5])).toBe(100);
    expect(psnr([3], [1])).toBe(100);
    expect(psnr([1, 1], [0, 0])).toBeCloseTo(10 * Math.log10(4), 6);
    expect(psnr([9, 0, 0], [0, 0], 1, 2)).toBe(100);
  });
});

describe('nearest training images', () => {
  it('ranks tiles by pixel distance and reports RMSE in [0, 1] units', () => {
    const tiles = new Uint8Array([0, 0, 255, 255, 128, 128, 250, 250]);
    const query = new Float32Array([1, 1]); // bytes 255
    const result = nearestTiles(query, tiles, 2, 3);
    expect(result.map((r) => r.index)).toEqual([1, 3, 2]);
    expect(result[0].rmse).toBe(0);
    expect(result[1].rmse).toBeCloseTo(5 / 255, 6);
  });
});

const source: ChoiceSource = {
  latents: Float32Array.from({ length: 5 * 2 }, (_, i) => i),
  dim: 2,
  count: 5,
  tileCount: 4,
  labels: Int32Array.from([0, 1, 1, 0, 1]),
  classes: ['cats', 'dogs'],
};

describe('choices', () => {
  it('resolves images to their rows and classes to their mean code', () => {
    expect(Array.from(codeOf(source, { image: 3 }))).toEqual([6, 7]);
    expect(classMembers(source, 1)).toEqual([1, 2, 4]);
    const mean = codeOf(source, { classMean: 1 });
    expect(mean[0]).toBeCloseTo((2 + 4 + 8) / 3, 5);
    expect(mean[1]).toBeCloseTo((3 + 5 + 9) / 3, 5);
  });

  it('validates choices against the run and falls back to images spread over it', () => {
    expect(validChoice(source, { image: 4 })).toBe(false); // no tile in the atlas
    expect(validChoice(source, { classMean: 2 })).toBe(false);
    expect(choicesFor(source, { a: { image: 9 }, b: { classMean: 0 } }, ['a', 'b'])).toEqual({ a: { image: 0 }, b: { classMean: 0 } });
    expect(choicesFor(source, {}, ['a', 'b', 'c', 'd'])).toEqual({ a: { image: 0 }, b: { image: 1 }, c: { image: 2 }, d: { image: 3 } });
  });

  it('searches by class name or number and describes choices', () => {
    expect(searchImages(source, 'DOG')).toEqual([1, 2]);
    expect(searchImages(source, '3')).toEqual([3]);
    expect(searchImages(source, ' ')).toEqual([0, 1, 2, 3]);
    expect(describeChoice(source, { image: 2 })).toBe('image 2 (dogs)');
    expect(describeChoice(source, { classMean: 0 })).toBe('mean of cats');
  });

  it('random choices are distinct images', () => {
    let k = 0;
    const sequence = [0.1, 0.1, 0.6, 0.9];
    const picks = randomChoices(source, ['a', 'b', 'c'], () => sequence[k++ % sequence.length]);
    expect(new Set(Object.values(picks).map((c) => ('image' in c ? c.image : -1))).size).toBe(3);
  });

  it('stacks codes', () => {
    expect(Array.from(concatCodes([new Float32Array([1, 2]), new Float32Array([3, 4])]))).toEqual([1, 2, 3, 4]);
  });
});

describe('interpolation grid', () => {
  const [a, b, c, d] = [[0, 0], [1, 0], [0, 1], [1, 1]].map((v) => Float32Array.from(v));

  it('has the four codes at its corners and is bilinear in between', () => {
    const grid = bilinearGrid(a, b, c, d, 3);
    const at = (row: number, col: number) => Array.from(grid.subarray((row * 3 + col) * 2, (row * 3 + col + 1) * 2));
    expect([at(0, 0), at(0, 2), at(2, 0), at(2, 2)]).toEqual([[0, 0], [1, 0], [0, 1], [1, 1]]);
    expect(at(1, 1)).toEqual(Array.from(lerp(lerp(a, b, 0.5), lerp(c, d, 0.5), 0.5)));
    expect(at(0, 1)).toEqual([0.5, 0]);
  });

  it('projects into the unit ball when asked', () => {
    const grid = bilinearGrid(a, b, c, d, 2, 'ball');
    expect(Math.hypot(grid[6], grid[7])).toBeCloseTo(1, 6);
  });
});

describe('run loader errors', () => {
  const respond = (routes: Record<string, { status?: number; body?: string }>) =>
    (async (input: string | URL | Request) => {
      const url = String(input);
      const route = routes[url];
      if (!route) return new Response('not found', { status: 404 });
      return new Response(route.body ?? '', { status: route.status ?? 200 });
    }) as typeof fetch;
  const base = 'http://example.test/runs/';

  it('resolves the runs base URL against the page', () => {
    expect(runsBaseUrl('/runs', 'http://x.test/app/?run=a')).toBe('http://x.test/runs/');
    expect(runsBaseUrl('https://cdn.test/r/', 'http://x.test/')).toBe('https://cdn.test/r/');
  });

  it('a missing, malformed, newer or empty index each say so', async () => {
    const kind = (p: Promise<unknown>) => p.then(() => 'ok', (e: RunLoadError) => e.kind);
    await expect(kind(loadRunsIndex(base, respond({})))).resolves.toBe('not-found');
    await expect(kind(loadRunsIndex(base, respond({ [`${base}index.json`]: { body: '{' } })))).resolves.toBe('malformed');
    await expect(kind(loadRunsIndex(base, respond({ [`${base}index.json`]: { body: '{"format":"glo-runs","formatVersion":9,"runs":[]}' } })))).resolves.toBe('newer-version');
    await expect(kind(loadRunsIndex(base, respond({ [`${base}index.json`]: { body: '{"format":"glo-runs","formatVersion":1,"runs":[]}' } })))).resolves.toBe('empty-index');
    await expect(kind(loadRunsIndex(base, respond({ [`${base}index.json`]: { status: 500 } })))).resolves.toBe('network');
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    await expect(loadRunsIndex(base, offline)).rejects.toThrow(/Could not download the runs index .*Failed to fetch/);
  });

  it('a manifest from a newer glo is refused by name', async () => {
    const body = JSON.stringify({ format: 'glo-run', formatVersion: MANIFEST_VERSION + 1, runId: 'r' });
    const error = await loadManifest(base, 'r', respond({ [`${base}r/manifest.json`]: { body } })).catch((e) => e);
    expect(error).toBeInstanceOf(RunLoadError);
    expect(error.kind).toBe('newer-version');
    expect(error.userMessage).toMatch(/Update glo/);
  });
});

describe('reconstruction pages', () => {
  it('spread each page over the dataset, and show every image exactly once over all pages', () => {
    expect(pageImages(2048, 24, 0).slice(0, 4)).toEqual([0, 86, 172, 258]);
    for (const count of [24, 25, 100, 2048, 3786]) {
      const pages = Math.ceil(count / 24);
      const all = Array.from({ length: pages }, (_, p) => pageImages(count, 24, p)).flat();
      expect(all.sort((a, b) => a - b), String(count)).toEqual(Array.from({ length: count }, (_, i) => i));
      for (let p = 0; p < pages; p++) expect(pageImages(count, 24, p).length).toBeLessThanOrEqual(24);
    }
  });
});

describe('downloads', () => {
  it('upscale by nearest neighbour: every pixel becomes a scale x scale block, nothing in between is invented', () => {
    const rgba = [1, 2, 3, 255, 10, 20, 30, 128]; // 2 x 1
    const { rgba: out, width, height } = upscaleNearest(rgba, 2, 1, 3);
    expect([width, height]).toEqual([6, 3]);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 6; x++) expect([...out.subarray((y * 6 + x) * 4, (y * 6 + x) * 4 + 4)]).toEqual(x < 3 ? [1, 2, 3, 255] : [10, 20, 30, 128]);
  });

  it('name files after the run and the state, in safe characters', () => {
    expect(downloadName('emoji-quick', 'samples', ['seed5', 't0.7', 'Animals & Nature'])).toBe('emoji-quick-samples-seed5-t0.7-Animals_Nature.png');
    expect(downloadName('r', 'edit', ['image4', undefined, 'noise'])).toBe('r-edit-image4-noise.png');
    expect(downloadName('r/../x', 'v')).toBe('r_.._x-v.png');
  });
});

describe('backend choice', () => {
  it('?backend= forces a known backend and ignores others', () => {
    expect(backendFromQuery('?backend=wasm')).toBe('wasm');
    expect(backendFromQuery('?backend=cuda')).toBeUndefined();
    expect(backendFromQuery('')).toBeUndefined();
  });

  it('knows software rasterizers by their renderer names, and real GPUs are not among them', () => {
    for (const name of ['ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)', 'llvmpipe (LLVM 15.0.6, 256 bits)', 'Mesa softpipe', 'Microsoft Basic Render Driver', 'lavapipe']) {
      expect(isSoftwareRenderer(name), name).toBe(true);
    }
    for (const name of ['ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0)', 'Apple M2', 'Mesa Intel(R) UHD Graphics 620 (KBL GT2)', 'AMD Radeon Pro 5500M OpenGL Engine']) {
      expect(isSoftwareRenderer(name), name).toBe(false);
    }
  });
});

describe('download progress', () => {
  it('counts the bytes of response bodies as they are read, and passes errors through', async () => {
    const chunks: number[] = [];
    const inner = (async (input: string | URL | Request) =>
      String(input).endsWith('missing') ? new Response('no', { status: 404 }) : new Response(new Uint8Array(1000))) as typeof fetch;
    const counted = countingFetch(inner, (n) => chunks.push(n));
    expect((await (await counted('http://x.test/a')).arrayBuffer()).byteLength).toBe(1000);
    expect(chunks.reduce((s, n) => s + n, 0)).toBe(1000);
    expect((await counted('http://x.test/missing')).status).toBe(404);
  });
});
