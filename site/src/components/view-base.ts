/**
 * Common ground of the views: the shell sets `context`; the view builds its controls once (build), then renders
 * for each context (render). A newer context aborts the previous render's signal.
 */
import type { PermalinkState, ViewName } from '../lib/permalink.ts';
import { showViewEvent, type GloView, type ViewContext } from '../lib/view.ts';

export abstract class ViewElement extends HTMLElement implements GloView {
  private current: ViewContext | undefined;
  private built = false;
  protected abort = new AbortController();

  /**
   * Views may be defined lazily (the shell imports the Edit view when its tab first opens), so the shell can set
   * `context` on the plain element before the upgrade; that own property would hide this class's accessor. Take it
   * over through the setter (the custom-element "lazy property" pattern).
   */
  connectedCallback(): void {
    if (Object.prototype.hasOwnProperty.call(this, 'context')) {
      const early = (this as unknown as { context: ViewContext | undefined }).context;
      delete (this as unknown as { context?: ViewContext }).context;
      this.context = early;
    }
  }

  get context(): ViewContext | undefined {
    return this.current;
  }

  set context(context: ViewContext | undefined) {
    if (context === this.current) return;
    this.abort.abort();
    this.abort = new AbortController();
    this.current = context;
    if (!context) {
      this.unload();
      return;
    }
    if (!this.built) {
      this.build();
      this.built = true;
    }
    this.render(context, this.abort.signal).catch((e) => context.reportError(e));
  }

  /** Renders again for the current run, superseding a render still in flight. */
  protected rerender(): void {
    const context = this.current;
    if (!context) return;
    this.abort.abort();
    this.abort = new AbortController();
    this.render(context, this.abort.signal).catch((e) => context.reportError(e));
  }

  /** Renders again from the permalink (another view changed it, e.g. Explore handing over a code). */
  refresh(): void {
    this.rerender();
  }

  /** Writes state to the permalink, then renders from it. */
  protected update(patch: Partial<PermalinkState>): void {
    this.current?.permalink.update(patch);
    this.rerender();
  }

  /**
   * Hands state to another view and opens it: `patch` goes into the permalink (shared by the views, so the link
   * carries it), then the shell shows `view`, which renders from it.
   */
  protected handOver(view: ViewName, patch: Partial<PermalinkState>): void {
    this.current?.permalink.update(patch);
    document.dispatchEvent(new CustomEvent(showViewEvent, { detail: view }));
  }

  /** Creates the view's controls (once). */
  protected abstract build(): void;
  /** Renders for a run; called again when the run changes. */
  protected abstract render(context: ViewContext, signal: AbortSignal): Promise<void>;
  /** The run went away: drop what refers to it. */
  protected unload(): void {}

  /** Runs an event handler's async work with errors going to the page, never to the console unhandled. */
  protected guard(work: () => Promise<void> | void): void {
    const context = this.current;
    try {
      const result = work();
      if (result) result.catch((e) => context?.reportError(e));
    } catch (e) {
      context?.reportError(e);
    }
  }
}

/** Tiny DOM builder: h('button', { type: 'button', 'aria-label': 'Play' }, 'Play'). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}
