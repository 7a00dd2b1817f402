/**
 * <glo-app>: the shell around the views. It loads TensorFlow.js (best backend, shown in the header), the runs
 * index and the chosen run, keeps run and view in the permalink, switches tabs, and is the one place errors end
 * up: a message in the page (role=alert), never a blank page or an unhandled error in the console.
 */
import { codeOf } from '../lib/choices.ts';
import { generateImages } from '../lib/generate.ts';
import { PermalinkStore, viewNames, type ViewName } from '../lib/permalink.ts';
import { loadRun, loadRunsIndex, RunLoadError, type LoadedRun } from '../lib/run-loader.ts';
import { loadTf, type TfHandle } from '../lib/tf.ts';
import { editImageEvent, runLoadedEvent, showViewEvent, Superseded, type GloView, type ViewContext } from '../lib/view.ts';
import type { GloNearest } from './glo-nearest.ts';

declare const __GLO_RUNS_URL__: string;

/** Views whose element may be missing from a build (written separately); loaded when their tab opens. */
const optionalViews = import.meta.glob('./glo-edit.ts');
const optionalViewNames: ViewName[] = ['edit'];

export class GloApp extends HTMLElement {
  readonly permalink = new PermalinkStore();
  readonly runsUrl = __GLO_RUNS_URL__;
  private tf: TfHandle | undefined;
  private run: LoadedRun | undefined;
  private context: ViewContext | undefined;
  private loadToken = 0;

  connectedCallback(): void {
    window.addEventListener('unhandledrejection', (event) => {
      event.preventDefault();
      this.reportError(event.reason);
    });
    window.addEventListener('error', (event) => {
      event.preventDefault();
      this.reportError(event.error ?? event.message);
    });
    this.select.addEventListener('change', () => {
      this.permalink.update({ run: this.select.value, a: undefined, b: undefined, c: undefined, d: undefined, cls: undefined, page: undefined });
      void this.openRun(this.select.value);
    });
    this.tabs.forEach((tab) => {
      tab.addEventListener('click', () => this.showView(tab.dataset.view as ViewName));
      tab.addEventListener('keydown', (event) => this.onTabKey(event, tab));
    });
    this.querySelector<HTMLButtonElement>('[data-copy-link]')?.addEventListener('click', () => void this.copyLink());
    // The intro's links open their view in place (the page keeps its run and backend).
    this.querySelectorAll<HTMLAnchorElement>('[data-view-link]').forEach((link) => link.addEventListener('click', (event) => {
      event.preventDefault();
      this.showView(link.dataset.viewLink as ViewName);
      this.querySelector<HTMLElement>(`#tab-${link.dataset.viewLink}`)?.focus();
    }));
    // A view opens another (Explore's "Morph from this"); the state it handed over is in the permalink.
    document.addEventListener(showViewEvent, (event) => {
      const name = (event as CustomEvent<ViewName>).detail;
      const wasActive = this.view(name)?.context !== undefined;
      this.showView(name);
      if (wasActive) (this.view(name) as { refresh?: () => void } | null)?.refresh?.();
    });
    // A view hands an image to Edit (Explore's "Edit this image"): open the tab, then give it the picture.
    document.addEventListener(editImageEvent, (event) => {
      const { values, caption } = (event as CustomEvent<{ values: Float32Array; caption: string }>).detail;
      this.showView('edit');
      void customElements.whenDefined('glo-edit').then(() => {
        (this.view('edit') as unknown as { useImage?: (v: Float32Array, c: string) => void } | null)?.useImage?.(values, caption);
      });
    });
    this.showView(this.permalink.state.view ?? 'reconstructions', false);
    void this.start();
  }

  private get select(): HTMLSelectElement {
    return this.querySelector('[data-run-select]')!;
  }

  private get tabs(): HTMLButtonElement[] {
    return Array.from(this.querySelectorAll<HTMLButtonElement>('[role=tab]'));
  }

  private get nearest(): GloNearest | null {
    return this.querySelector('glo-nearest');
  }

  private status(text: string): void {
    this.querySelector('[data-status]')!.textContent = text;
  }

  private async start(): Promise<void> {
    try {
      this.status('Loading TensorFlow.js…');
      const tfLoading = loadTf();
      tfLoading.catch(() => undefined); // awaited below; a runs-index error must not leave it unhandled
      const index = await loadRunsIndex(this.runsUrl);
      this.select.replaceChildren(
        ...index.runs.map((r) => new Option(`${r.runId} (${r.dataset}, ${r.imageCount} images, ${r.reconstructionPsnr.toFixed(1)} dB)`, r.runId)),
        // Runs glo serve found broken: listed with the reason; opening one shows the page's message for it.
        ...(index.unreadable ?? []).map((r) => Object.assign(new Option(`${r.runId} (cannot be opened: ${r.problem})`, r.runId), { title: r.problem })),
      );
      const wanted = this.permalink.state.run ?? index.runs[0].runId;
      if (!index.runs.some((r) => r.runId === wanted)) this.select.append(new Option(`${wanted} (not in the index)`, wanted));
      this.select.value = wanted;
      this.select.disabled = false;
      this.tf = await tfLoading;
      const backend = this.querySelector<HTMLElement>('[data-backend]')!;
      backend.textContent = this.tf.backend;
      if (this.tf.note) backend.title = this.tf.note;
      const note = this.querySelector('[data-backend-note]');
      if (note) note.textContent = this.tf.note ? `(${this.tf.note})` : '';
      await this.openRun(wanted);
    } catch (e) {
      this.status('');
      this.reportError(e);
    }
  }

  private async openRun(runId: string): Promise<void> {
    const token = ++this.loadToken;
    this.clearError();
    this.setContext(undefined);
    this.run?.dispose();
    this.run = undefined;
    this.dataset.state = 'loading';
    try {
      if (!this.tf) return;
      this.status(`Loading run ${runId}…`);
      const progress = this.querySelector<HTMLProgressElement>('[data-progress]');
      const run = await loadRun(this.runsUrl, runId, this.tf.tf, fetch, (loaded, total) => {
        if (token !== this.loadToken) return;
        this.status(`Loading run ${runId}… ${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`);
        if (progress) {
          progress.hidden = false;
          progress.max = total;
          progress.value = loaded;
        }
      }).finally(() => progress && (progress.hidden = true));
      if (token !== this.loadToken) {
        run.dispose();
        return;
      }
      this.run = run;
      this.permalink.update({ run: runId });
      this.describeRun(run);
      this.status('');
      this.setContext(this.makeContext(run, this.tf));
      this.dataset.state = 'ready';
      document.dispatchEvent(new CustomEvent(runLoadedEvent, { detail: run }));
    } catch (e) {
      if (token !== this.loadToken) return;
      this.status('');
      this.dataset.state = 'error';
      this.reportError(e);
    }
  }

  private makeContext(run: LoadedRun, { tf, backend }: TfHandle): ViewContext {
    return {
      run,
      tf,
      backend,
      permalink: this.permalink,
      generate: (codes, options) => generateImages(tf, run.model, codes, run.dim, options),
      codeOf: (choice) => codeOf(run, choice),
      showNearest: (values, caption) => this.nearest?.show(run, values, caption),
      reportError: (e) => this.reportError(e),
    };
  }

  /** Where the run came from, in words: what it was trained on, how long, on what; and how well it fits. */
  private describeRun(run: LoadedRun): void {
    const m = run.manifest;
    const info = this.querySelector('[data-run-info]');
    if (!info) return;
    const n = (x: number) => x.toLocaleString('en');
    const classes = m.dataset.labels ? `, ${m.dataset.labels.classes.length} classes` : '';
    const epochs = `${m.training.epochs} epoch${m.training.epochs === 1 ? '' : 's'}`;
    const { reconstructionPsnr, pcaReconstructionPsnr } = m.metrics.final;
    info.textContent =
      `This run was trained on ${n(m.dataset.imageCount)} images (${m.dataset.source}, ${m.dataset.imageSize} px${classes}) for ${epochs} ` +
      `with the ${m.backend.name} backend; each image has a ${m.latents.dim}-number code. It reconstructs them at ` +
      `${reconstructionPsnr.toFixed(2)} dB PSNR, against ${pcaReconstructionPsnr.toFixed(2)} dB for PCA with as many components.`;
  }

  private view(name: ViewName): (GloView & { deactivate?: () => void }) | null {
    return this.querySelector(`[data-view-panel="${name}"] > *`);
  }

  private setContext(context: ViewContext | undefined): void {
    this.context = context;
    for (const name of viewNames) {
      const view = this.view(name);
      if (view && (!context || view.context !== undefined)) view.context = undefined;
    }
    if (context) this.activate(this.permalink.state.view ?? 'reconstructions');
  }

  private activate(name: ViewName): void {
    const view = this.view(name);
    if (view && this.context && view.context !== this.context) view.context = this.context;
  }

  showView(name: ViewName, record = true): void {
    // The nearest-images panel describes the previous view's image: not this one's.
    if (this.permalink.state.view !== name) this.nearest?.clear();
    for (const tab of this.tabs) {
      const selected = tab.dataset.view === name;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = this.querySelector<HTMLElement>(`[data-view-panel="${tab.dataset.view}"]`)!;
      panel.hidden = !selected;
      if (!selected) this.view(tab.dataset.view as ViewName)?.deactivate?.();
    }
    if (record) this.permalink.update({ view: name });
    else this.permalink.state.view = name;
    if (optionalViewNames.includes(name) && !customElements.get(`glo-${name}`)) void this.loadOptionalView(name);
    this.activate(name);
  }

  private async loadOptionalView(name: ViewName): Promise<void> {
    const panel = this.querySelector<HTMLElement>(`[data-view-panel="${name}"]`)!;
    const load = optionalViews[`./glo-${name}.ts`];
    if (!load) {
      panel.querySelector('[data-missing]')?.removeAttribute('hidden');
      return;
    }
    try {
      await load();
      await customElements.whenDefined(`glo-${name}`);
      this.activate(name);
    } catch (e) {
      this.reportError(e);
    }
  }

  /** Tabs pattern (WAI-ARIA): arrows and Home/End move between tabs. */
  private onTabKey(event: KeyboardEvent, tab: HTMLButtonElement): void {
    const tabs = this.tabs;
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const target = tabs[(next + tabs.length) % tabs.length];
    target.focus();
    this.showView(target.dataset.view as ViewName);
  }

  private async copyLink(): Promise<void> {
    const href = this.permalink.href(location.origin);
    const note = this.querySelector('[data-copy-note]');
    try {
      await navigator.clipboard.writeText(href);
      if (note) note.textContent = 'Link copied.';
    } catch {
      if (note) note.textContent = href;
    }
  }

  private clearError(): void {
    const box = this.querySelector<HTMLElement>('[data-error]')!;
    box.hidden = true;
    box.textContent = '';
  }

  /** The one place errors go: Superseded work is dropped, the rest is shown with what to do. */
  reportError(error: unknown): void {
    if (error instanceof Superseded) return;
    const box = this.querySelector<HTMLElement>('[data-error]')!;
    const message =
      error instanceof RunLoadError
        ? error.userMessage
        : error instanceof Error
          ? `Something went wrong: ${error.message}`
          : `Something went wrong: ${String(error)}`;
    box.textContent = message;
    box.hidden = false;
    box.dataset.kind = error instanceof RunLoadError ? error.kind : 'error';
    if (!(error instanceof RunLoadError)) console.warn(error);
  }
}

customElements.define('glo-app', GloApp);
