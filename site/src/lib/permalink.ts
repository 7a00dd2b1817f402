/**
 * The page's state lives in the URL query, so any view can be shared or bookmarked and reloading restores it:
 * ?run=emoji-quick&view=morph&a=12&b=40&t=0.5&mode=slerp. Views read and write their keys through a
 * PermalinkStore; decode/encode are pure (Node tests), unknown keys pass through untouched (e.g. ?backend=wasm,
 * or keys a newer view adds).
 */
export const viewNames = ['reconstructions', 'explore', 'morph', 'grid', 'sample', 'arithmetic', 'edit'] as const;
export type ViewName = (typeof viewNames)[number];

/**
 * A chosen image: a training image (its index), in labelled runs a class's mean code, or a code of its own
 * (Explore's "use as A"). In the URL: "12", "c3" (class 3), or "z" and the code's float32s in base64url.
 */
export type Choice = { image: number } | { classMean: number } | { code: Float32Array };

export interface PermalinkState {
  run?: string;
  view?: ViewName;
  /** Chosen images: morph a -> b, grid corners a b c d, arithmetic a - b + c. */
  a?: Choice;
  b?: Choice;
  c?: Choice;
  d?: Choice;
  /** Morph position in [0, 1]. */
  t?: number;
  mode?: 'lerp' | 'slerp';
  /** Morph strip length. */
  steps?: number;
  /** Grid side (its own key: a 12-frame strip must not open a 12 x 12 grid). */
  side?: number;
  seed?: number;
  /** Sampling temperature (scale of the prior's spread), > 0. */
  temp?: number;
  /** Class name for per-class sampling. */
  cls?: string;
  /** Sample view: the Gaussian prior or the run's IMLE sampler (default: the best one eval.json measured). */
  sampler?: 'gaussian' | 'imle';
  /** Reconstructions page (0-based). */
  page?: number;
  /** Edit: the damage, its noise sigma or downsampling factor, the painted mask, and the restoration's steps. */
  damage?: 'mask' | 'noise' | 'downsample';
  noise?: number;
  factor?: number;
  /** Known pixels, 1 bit each, row-major, base64url (see encodeMask). */
  mask?: string;
  iters?: number;
  /** Explore: where the sliders start (the mean code, a prior sample by `seed`, or training image `a`), and the
   * sliders' positions in standard deviations along each principal direction. */
  from?: 'mean' | 'sample' | 'image';
  x?: number[];
}

const choiceKeys = ['a', 'b', 'c', 'd'] as const;

export function parseChoice(text: string | null | undefined): Choice | undefined {
  if (!text) return undefined;
  const image = /^\d{1,9}$/.exec(text);
  if (image) return { image: Number(text) };
  const cls = /^c(\d{1,6})$/.exec(text);
  if (cls) return { classMean: Number(cls[1]) };
  const code = /^z([A-Za-z0-9_-]{6,11000})$/.exec(text);
  if (code) {
    const bytes = base64urlToBytes(code[1]);
    if (bytes && bytes.length % 4 === 0) {
      const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      if (values.every(Number.isFinite)) return { code: Float32Array.from(values) };
    }
  }
  return undefined;
}

export function formatChoice(pick: Choice): string {
  if ('code' in pick) return `z${bytesToBase64url(new Uint8Array(pick.code.buffer, pick.code.byteOffset, pick.code.byteLength))}`;
  return 'image' in pick ? String(pick.image) : `c${pick.classMean}`;
}

function bytesToBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64urlToBytes(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function number(text: string | null, valid: (n: number) => boolean): number | undefined {
  if (text === null || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) && valid(n) ? n : undefined;
}

const isInt = (min: number, max: number) => (n: number) => Number.isInteger(n) && n >= min && n <= max;

/** Query string -> state; values that do not parse are dropped (the view then uses its default). */
export function decodePermalink(search: string): PermalinkState {
  const q = new URLSearchParams(search);
  const state: PermalinkState = {};
  const run = q.get('run');
  if (run && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(run)) state.run = run;
  const view = q.get('view');
  if (view && (viewNames as readonly string[]).includes(view)) state.view = view as ViewName;
  for (const key of choiceKeys) {
    const choice = parseChoice(q.get(key));
    if (choice) state[key] = choice;
  }
  const t = number(q.get('t'), (n) => n >= 0 && n <= 1);
  if (t !== undefined) state.t = t;
  const mode = q.get('mode');
  if (mode === 'lerp' || mode === 'slerp') state.mode = mode;
  const steps = number(q.get('steps'), isInt(2, 64));
  if (steps !== undefined) state.steps = steps;
  const seed = number(q.get('seed'), isInt(0, 0xffffffff));
  if (seed !== undefined) state.seed = seed;
  const temp = number(q.get('temp'), (n) => n > 0 && n <= 4);
  if (temp !== undefined) state.temp = temp;
  const cls = q.get('cls');
  if (cls) state.cls = cls;
  const sampler = q.get('sampler');
  if (sampler === 'gaussian' || sampler === 'imle') state.sampler = sampler;
  const page = number(q.get('page'), isInt(0, 1e9));
  if (page !== undefined) state.page = page;
  const side = number(q.get('side'), isInt(2, 12));
  if (side !== undefined) state.side = side;
  const damage = q.get('damage');
  if (damage === 'mask' || damage === 'noise' || damage === 'downsample') state.damage = damage;
  const noise = number(q.get('noise'), (n) => n > 0 && n <= 1);
  if (noise !== undefined) state.noise = noise;
  const factor = number(q.get('factor'), isInt(2, 64));
  if (factor !== undefined) state.factor = factor;
  const mask = q.get('mask');
  if (mask && /^[A-Za-z0-9_-]{1,2800}$/.test(mask)) state.mask = mask;
  const iters = number(q.get('iters'), isInt(1, 5000));
  if (iters !== undefined) state.iters = iters;
  const from = q.get('from');
  if (from === 'mean' || from === 'sample' || from === 'image') state.from = from;
  const x = q.get('x');
  if (x && /^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){0,63}$/.test(x)) {
    const values = x.split(',').map(Number);
    if (values.every((v) => Math.abs(v) <= 3)) state.x = values;
  }
  return state;
}

const stateKeys = ['run', 'view', ...choiceKeys, 't', 'mode', 'steps', 'side', 'seed', 'temp', 'cls', 'sampler', 'page', 'damage', 'noise', 'factor', 'mask', 'iters', 'from', 'x'] as const;

/** A mask of [size * size] known (1) / hidden (0) pixels as 1 bit each, base64url: 171 characters at 32 px. */
export function encodeMask(keep: ArrayLike<number>): string {
  const bytes = new Uint8Array(Math.ceil(keep.length / 8));
  for (let i = 0; i < keep.length; i++) if (keep[i] > 0.5) bytes[i >> 3] |= 1 << (i & 7);
  return bytesToBase64url(bytes);
}

/** The inverse of encodeMask for `pixels` pixels; undefined when the text is not a mask of that size. */
export function decodeMask(text: string, pixels: number): Float32Array | undefined {
  const bytes = base64urlToBytes(text);
  if (!bytes || bytes.length !== Math.ceil(pixels / 8)) return undefined;
  const keep = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) keep[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  return keep;
}

/**
 * State -> query string: `state` is the whole state (its keys missing from it are removed from the query); other
 * keys of `base` (e.g. backend) stay, in their order.
 * Numbers are written short (t to 3 decimals) so links stay readable.
 */
export function encodePermalink(state: PermalinkState, base = ''): string {
  const q = new URLSearchParams(base);
  for (const key of stateKeys) {
    const value = state[key];
    if (value === undefined) q.delete(key);
    else if (Array.isArray(value)) q.set(key, value.map((v) => String(Math.round(v * 100) / 100)).join(','));
    else if (typeof value === 'object') q.set(key, formatChoice(value));
    else if (typeof value === 'number') q.set(key, String(key === 't' || key === 'temp' || key === 'noise' ? Math.round(value * 1000) / 1000 : value));
    else q.set(key, value);
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

type Listener = (state: PermalinkState) => void;

/** The URL as a store: views read `state`, write with `update` (history.replaceState: no history spam). */
export class PermalinkStore {
  private listeners = new Set<Listener>();
  state: PermalinkState;

  constructor(private readonly location: { search: string; pathname: string; hash: string } = window.location, private readonly history: Pick<History, 'replaceState'> = window.history) {
    this.state = decodePermalink(location.search);
  }

  /** Sets some keys (undefined removes one) and rewrites the URL. */
  update(patch: Partial<PermalinkState>): void {
    this.state = { ...this.state, ...patch };
    for (const [key, value] of Object.entries(patch)) if (value === undefined) delete this.state[key as keyof PermalinkState];
    const search = encodePermalink(this.state, this.location.search);
    this.history.replaceState(null, '', `${this.location.pathname}${search}${this.location.hash}`);
    for (const listener of this.listeners) listener(this.state);
  }

  /** The current URL (for a "copy link" button). */
  href(origin: string): string {
    return `${origin}${this.location.pathname}${encodePermalink(this.state, this.location.search)}`;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
