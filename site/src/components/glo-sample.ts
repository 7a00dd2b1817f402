import type { ViewContext } from '../lib/view.ts';
import { h, ViewElement } from './view-base.ts';

export class GloSample extends ViewElement {
  protected build(): void {
    this.append(h('p', {}, 'Coming soon.'));
  }

  protected async render(_context: ViewContext): Promise<void> {}
}

customElements.define('glo-sample', GloSample);
