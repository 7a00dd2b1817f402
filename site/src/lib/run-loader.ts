/**
 * Reads runs the way the trainer publishes them (docs/architecture.md section 3): runs/index.json, then one run's
 * manifest.json and the files it names. Every failure becomes a RunLoadError whose message a visitor can act on
 * (what is wrong, with which file, what to do), which the page shows instead of a blank screen.
 */
import type { z } from 'zod';
import { decodeLatents } from '../../../training/glo/latent-codec.ts';
import { ManifestError, parseManifest, type RunManifest } from '../../../training/glo/manifest.ts';
import { parseRunFile, RunFileError, runFileSchemas, type PriorFile } from '../../../training/glo/run-files.ts';
import { evalReportSchema, type EvalReport } from '../../../training/eval/eval-report.ts';
import { parseRunsIndex, RunsIndexError, type RunsIndex } from '../../../training/glo/runs-index.ts';
import { rgbaToBytes, rgbaToValues, sheetTile, type ImageShape } from './images.ts';
import type { Tf } from './tf.ts';

export type RunLoadErrorKind = 'network' | 'not-found' | 'malformed' | 'newer-version' | 'missing-weights' | 'empty-index';

export class RunLoadError extends Error {
  override name = 'RunLoadError';
  constructor(
    readonly kind: RunLoadErrorKind,
    /** What the page shows: what is wrong and what to do. */
    readonly userMessage: string,
    readonly url?: string,
  ) {
    super(userMessage);
  }
}

export interface LoadedRun {
  manifest: RunManifest;
  /** Absolute URL of the run folder, ending in '/'. */
  runUrl: string;
  model: import('@tensorflow/tfjs-layers').LayersModel;
  /** [count, dim] codes; row i reconstructs training image i. */
  latents: Float32Array;
  dim: number;
  count: number;
  shape: ImageShape;
  prior: PriorFile;
  /** Each image's class index into `classes` (labelled runs). */
  labels?: Int32Array;
  classes?: string[];
  atlas: ImageBitmap;
  /** The atlas as an object URL (for CSS sprites); revoked by dispose(). */
  atlasUrl: string;
  /** Training images with a tile in the atlas: 0..tileCount-1 (the atlas may hold fewer than count). */
  tileCount: number;
  /** Training image i as RGBA bytes. */
  tile(i: number): Uint8ClampedArray<ArrayBuffer>;
  /** Training image i as [size, size, channels] values in [-1, 1] (the generator's range). */
  tileValues(i: number): Float32Array;
  /** All tiles as [tileCount, size, size, channels] bytes (nearest-neighbour search). */
  tileBytes(): Uint8Array;
  /** Code of training image i (a copy). */
  code(i: number): Float32Array;
  /** eval.json when `glo eval` measured the run (undefined when absent or unreadable: it is optional). */
  evaluation?: EvalReport;
  /** The IMLE sampler (manifest.sampler), loaded on first call; undefined when the run has none. */
  sampler(): Promise<import('@tensorflow/tfjs-layers').LayersModel | undefined>;
  dispose(): void;
}

/** `base` resolved against the page, always ending in '/'. */
export function runsBaseUrl(base: string, page = globalThis.location?.href): string {
  const url = new URL(base, page).href;
  return url.endsWith('/') ? url : `${url}/`;
}

type Fetch = typeof fetch;

async function fetchOk(url: string, what: string, fetchImpl: Fetch, notFound: () => RunLoadError): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (e) {
    throw new RunLoadError('network', `Could not download ${what} from ${url} (${(e as Error).message}). Check the connection, or that the server is running.`, url);
  }
  if (response.status === 404 || response.status === 403) throw notFound();
  if (!response.ok) throw new RunLoadError('network', `Downloading ${what} from ${url} failed: HTTP ${response.status} ${response.statusText}.`, url);
  return response;
}

async function readJson(response: Response, what: string, url: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RunLoadError('malformed', `${what} at ${url} is not valid JSON (${(e as Error).message}).`, url);
  }
}

/** runs/index.json under `baseUrl`; an empty list is an error too (there is nothing to show). */
export async function loadRunsIndex(baseUrl: string, fetchImpl: Fetch = fetch): Promise<RunsIndex> {
  const url = new URL('index.json', runsBaseUrl(baseUrl)).href;
  const response = await fetchOk(url, 'the runs index', fetchImpl, () =>
    new RunLoadError('not-found', `There is no runs index at ${url}. Train a run with "npm start" (or "glo train" then "glo serve"), or build the site with GLO_RUNS_URL pointing at your runs.`, url),
  );
  let index: RunsIndex;
  try {
    index = parseRunsIndex(await response.text());
  } catch (e) {
    if (!(e instanceof RunsIndexError)) throw e;
    const newer = /format version/.test(e.message);
    throw new RunLoadError(newer ? 'newer-version' : 'malformed', `${e.message} (${url})`, url);
  }
  if (index.runs.length === 0) {
    const broken = (index.unreadable ?? []).map((r) => `"${r.runId}" (${r.problem})`);
    const detail = broken.length ? ` ${broken.length} run folder${broken.length === 1 ? '' : 's'} could not be read: ${broken.join('; ')}.` : '';
    throw new RunLoadError('empty-index', `The runs index at ${url} lists no runs yet.${detail} Train one with "npm start" or "glo train", then reload.`, url);
  }
  return index;
}

/** A run's manifest.json, validated (newer format versions are refused with a message that says so). */
export async function loadManifest(baseUrl: string, runId: string, fetchImpl: Fetch = fetch): Promise<RunManifest> {
  const url = new URL(`${encodeURIComponent(runId)}/manifest.json`, runsBaseUrl(baseUrl)).href;
  const response = await fetchOk(url, `the manifest of run "${runId}"`, fetchImpl, () =>
    new RunLoadError('not-found', `Run "${runId}" has no manifest.json at ${url}: it does not exist, or it has not finished publishing.`, url),
  );
  const json = await readJson(response, `The manifest of run "${runId}"`, url);
  try {
    const manifest = parseManifest(json, `The manifest of run "${runId}"`);
    if (manifest.runId !== runId) {
      throw new RunLoadError('malformed', `The manifest at ${url} belongs to run "${manifest.runId}", not "${runId}": the folder was renamed or copied over.`, url);
    }
    return manifest;
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    throw new RunLoadError(/format version/.test(e.message) ? 'newer-version' : 'malformed', e.message, url);
  }
}

/** A tfjs LayersModel of the run (the generator, or the IMLE sampler), its weights checked against the manifest's sizes. */
async function loadRunModel(tf: Tf, runUrl: string, manifest: RunManifest, file: string, role: 'generator' | 'sampler', fetchImpl: Fetch) {
  const modelUrl = new URL(file, runUrl).href;
  const missing = (url: string, what: string) => () =>
    new RunLoadError('missing-weights', `Run "${manifest.runId}" is missing its ${role} ${what} (${url} was not found). The run folder is incomplete: publish or copy it again.`, url);
  const modelJson = (await readJson(await fetchOk(modelUrl, `the ${role}`, fetchImpl, missing(modelUrl, 'model')), `The ${role} model`, modelUrl)) as {
    modelTopology?: object;
    weightsManifest?: { paths: string[]; weights: unknown[] }[];
  };
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new RunLoadError('malformed', `${modelUrl} is not a TensorFlow.js LayersModel (no modelTopology or weightsManifest).`, modelUrl);
  }
  const buffers: ArrayBuffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      const url = new URL(path, modelUrl).href;
      const bytes = await (await fetchOk(url, `the ${role} weights`, fetchImpl, missing(url, 'weights'))).arrayBuffer();
      const listed = manifest.files.find((f) => new URL(f.path, runUrl).href === url);
      if (listed && listed.bytes !== bytes.byteLength) {
        throw new RunLoadError('missing-weights', `${url} has ${bytes.byteLength} bytes but the manifest lists ${listed.bytes}: the run's weights are truncated or replaced. Publish or copy the run again.`, url);
      }
      buffers.push(bytes);
    }
  }
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights) as never,
        weightData: tf.io.CompositeArrayBuffer.join(buffers),
      }),
    );
  } catch (e) {
    throw new RunLoadError('malformed', `The ${role} of run "${manifest.runId}" could not be loaded: ${(e as Error).message}`, modelUrl);
  }
}

async function loadAtlas(url: string, fetchImpl: Fetch, runId: string): Promise<{ bitmap: ImageBitmap; rgba: Uint8ClampedArray; objectUrl: string }> {
  const response = await fetchOk(url, 'the training images', fetchImpl, () =>
    new RunLoadError('not-found', `Run "${runId}" is missing its training-image atlas (${url}). Publish or copy the run again.`, url),
  );
  let bitmap: ImageBitmap;
  const blob = await response.blob();
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new RunLoadError('malformed', `${url} is not an image this browser can decode (${(e as Error).message}).`, url);
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  // Thumbnails are CSS sprites of this object URL: the atlas is downloaded once, and shows at once.
  return { bitmap, rgba: context.getImageData(0, 0, bitmap.width, bitmap.height).data, objectUrl: URL.createObjectURL(blob) };
}

/** A fetch whose response bodies report each chunk's size as it arrives (download progress). */
export function countingFetch(fetchImpl: Fetch, onBytes: (bytes: number) => void): Fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await fetchImpl(input, init);
    if (!response.ok || !response.body) return response;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        onBytes(chunk.byteLength);
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(counter), { status: response.status, statusText: response.statusText, headers: response.headers });
  }) as Fetch;
}

/**
 * eval.json, which `glo eval` writes beside a published run. Optional: a run without one, or with one this
 * page cannot read (a newer format), loads as unmeasured rather than failing.
 */
async function loadEvaluation(url: string, runId: string, fetchImpl: Fetch): Promise<EvalReport | undefined> {
  try {
    const response = await fetchImpl(url);
    if (!response.ok) return undefined;
    const parsed = evalReportSchema.safeParse(await response.json());
    if (!parsed.success) console.warn(`eval.json of run "${runId}" is not one this page reads; showing the run unmeasured.`);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A run file checked against its schema (training/glo/run-files.ts); a bad one is a 'malformed' run. */
function checkRunFile<T>(schema: z.ZodType<T>, value: unknown, url: string): T {
  try {
    return parseRunFile(schema, value, url);
  } catch (e) {
    if (e instanceof RunFileError) throw new RunLoadError('malformed', `${e.message} Publish or copy the run again.`, url);
    throw e;
  }
}

/**
 * Loads everything a view needs from one run: manifest first (it says what else exists), then the generator,
 * the codes, the prior, the labels and the atlas in parallel. `tf` is the page's loaded TensorFlow.js.
 */
export async function loadRun(
  baseUrl: string,
  runId: string,
  tf: Tf,
  fetchImpl: Fetch = fetch,
  onProgress?: (loadedBytes: number, totalBytes: number) => void,
): Promise<LoadedRun> {
  const manifest = await loadManifest(baseUrl, runId, fetchImpl);
  if (onProgress) {
    const total = manifest.files.filter((f) => !f.path.startsWith('previews/') && f.path !== manifest.metrics.file).reduce((n, f) => n + f.bytes, 0);
    let loaded = 0;
    fetchImpl = countingFetch(fetchImpl, (bytes) => onProgress((loaded += bytes), Math.max(total, loaded)));
  }
  const runUrl = new URL(`${encodeURIComponent(runId)}/`, runsBaseUrl(baseUrl)).href;
  const at = (file: string) => new URL(file, runUrl).href;
  const missingFile = (file: string) => () =>
    new RunLoadError('not-found', `Run "${runId}" is missing ${file} (${at(file)}). The run folder is incomplete: publish or copy it again.`, at(file));
  const { dim, count } = manifest.latents;
  const schemas = runFileSchemas(manifest);
  const shape: ImageShape = { size: manifest.dataset.imageSize, channels: manifest.dataset.channels };

  const pendingEvaluation = loadEvaluation(at('eval.json'), runId, fetchImpl); // never rejects
  const settled = await Promise.allSettled([
    loadRunModel(tf, runUrl, manifest, manifest.model.file, 'generator', fetchImpl),
    (async () => {
      const bytes = new Uint8Array(await (await fetchOk(at(manifest.latents.file), 'the latent codes', fetchImpl, missingFile(manifest.latents.file))).arrayBuffer());
      try {
        return decodeLatents(bytes, count, dim);
      } catch (e) {
        throw new RunLoadError('malformed', `${(e as Error).message} (${at(manifest.latents.file)})`, at(manifest.latents.file));
      }
    })(),
    (async () => {
      const url = at(manifest.prior.file);
      return checkRunFile(schemas.prior, await readJson(await fetchOk(url, 'the prior', fetchImpl, missingFile(manifest.prior.file)), 'prior.json', url), url);
    })(),
    (async () => {
      const file = manifest.dataset.labels?.file;
      if (!file || !schemas.labels) return undefined;
      const url = at(file);
      const labels = checkRunFile(schemas.labels, await readJson(await fetchOk(url, 'the labels', fetchImpl, missingFile(file)), 'labels.json', url), url);
      return Int32Array.from(labels.index);
    })(),
    loadAtlas(at(manifest.atlas.file), fetchImpl, runId),
  ] as const);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    // Free what did load (the generator's weights may sit in GPU memory) before reporting the first failure.
    if (settled[0].status === 'fulfilled') settled[0].value.dispose();
    if (settled[4].status === 'fulfilled') {
      settled[4].value.bitmap.close();
      URL.revokeObjectURL(settled[4].value.objectUrl);
    }
    throw failed.reason;
  }
  const [model, latents, prior, labels, atlas] = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    Awaited<ReturnType<typeof loadRunModel>>,
    Float32Array,
    PriorFile,
    Int32Array | undefined,
    Awaited<ReturnType<typeof loadAtlas>>,
  ];

  const evaluation = await pendingEvaluation;
  let sampler: Promise<import('@tensorflow/tfjs-layers').LayersModel> | undefined;
  const output = model.outputs[0].shape;
  if (output[1] !== shape.size || output[2] !== shape.size || output[3] !== shape.channels || model.inputs[0].shape[1] !== dim) {
    model.dispose();
    throw new RunLoadError('malformed', `The generator of run "${runId}" maps ${model.inputs[0].shape[1]}-d codes to ${output.slice(1).join('x')} images, but the manifest says ${dim}-d codes and ${shape.size}x${shape.size}x${shape.channels} images.`, runUrl);
  }

  const { tileSize, columns } = manifest.atlas;
  const tileCount = Math.min(manifest.atlas.count, count);
  const ppi = shape.size * shape.size * shape.channels;
  let allTiles: Uint8Array | undefined;
  const tile = (i: number) => sheetTile(atlas.rgba, atlas.bitmap.width, tileSize, columns, i);
  return {
    manifest,
    runUrl,
    model,
    latents,
    dim,
    count,
    shape,
    prior,
    labels,
    classes: manifest.dataset.labels?.classes,
    atlas: atlas.bitmap,
    atlasUrl: atlas.objectUrl,
    tileCount,
    tile,
    tileValues: (i) => rgbaToValues(tile(i), shape),
    tileBytes() {
      if (!allTiles) {
        allTiles = new Uint8Array(tileCount * ppi);
        for (let i = 0; i < tileCount; i++) allTiles.set(rgbaToBytes(tile(i), shape), i * ppi);
      }
      return allTiles;
    },
    code: (i) => latents.slice(i * dim, (i + 1) * dim),
    evaluation,
    sampler() {
      const entry = manifest.sampler;
      if (!entry) return Promise.resolve(undefined);
      // Loaded on first use: most visits never sample with it. A failed load is retried on the next call.
      sampler ??= loadRunModel(tf, runUrl, manifest, entry.file, 'sampler', fetchImpl).catch((e) => {
        sampler = undefined;
        throw e;
      });
      return sampler;
    },
    dispose() {
      model.dispose();
      void sampler?.then((m) => m.dispose(), () => undefined);
      atlas.bitmap.close();
      URL.revokeObjectURL(atlas.objectUrl);
    },
  };
}
