/**
 * Step 3 of <glo-edit>: the number of steps, Restore and Cancel, and the progress of a restoration as it runs
 * (step, loss, steps per second, and a chart of the loss). The view drives it: begin, step, end.
 */
import { restoreDefaults } from '../../lib/edit.ts';
import { h } from '../view-base.ts';

export class RestorePanel {
  readonly element: HTMLFieldSetElement;
  readonly restoreButton: HTMLButtonElement;
  readonly cancelButton: HTMLButtonElement;
  private readonly stepsInput: HTMLInputElement;
  private readonly progress: HTMLProgressElement;
  private readonly stepOutput: HTMLOutputElement;
  private readonly lossOutput: HTMLOutputElement;
  private readonly rateOutput: HTMLOutputElement;
  private readonly chart: HTMLCanvasElement;
  private losses: number[] = [];
  private started = 0;
  private lastPaint = 0;
  private steps = 0;

  constructor() {
    this.stepsInput = h('input', { type: 'number', id: 'edit-steps', min: 10, max: 5000, step: 10, value: restoreDefaults.steps, style: 'width: 6em' });
    this.restoreButton = h('button', { type: 'button', 'data-restore': true }, 'Restore');
    this.cancelButton = h('button', { type: 'button', 'data-cancel': true, disabled: true }, 'Cancel');
    this.progress = h('progress', { max: restoreDefaults.steps, value: 0, 'aria-label': 'Restoration progress' });
    this.stepOutput = h('output', { 'data-step': true, 'aria-live': 'off' }, '');
    this.lossOutput = h('output', { 'data-loss': true }, '');
    this.rateOutput = h('output', { 'data-rate': true }, '');
    this.chart = h('canvas', { class: 'loss-chart', width: 200, height: 56, role: 'img', 'aria-label': 'Loss over the steps' });
    this.element = h(
      'fieldset',
      {},
      h('legend', {}, '3. Restore'),
      h('label', { for: 'edit-steps' }, 'Steps', this.stepsInput),
      h('div', { class: 'toolbar' }, this.restoreButton, this.cancelButton),
      h('div', { class: 'progress' }, this.progress, this.stepOutput, this.lossOutput, this.rateOutput),
      this.chart,
      h('span', { class: 'hint' }, 'Optimizes a latent code for the damaged image; the generator is not changed.'),
    );
  }

  /** The steps asked for (1..5000). */
  get requestedSteps(): number {
    return Math.max(1, Math.min(5000, Math.floor(Number(this.stepsInput.value) || restoreDefaults.steps)));
  }

  set requestedSteps(steps: number) {
    this.stepsInput.value = String(steps);
  }

  /** Calls `listener` when the user changes the number of steps. */
  onStepsChange(listener: (steps: number) => void): void {
    this.stepsInput.addEventListener('change', () => listener(this.requestedSteps));
  }

  /** A restoration starts: returns the number of steps asked for (1..5000). */
  begin(): number {
    this.steps = this.requestedSteps;
    this.restoreButton.disabled = true;
    this.cancelButton.disabled = false;
    this.progress.max = this.steps;
    this.progress.value = 0;
    this.losses = [];
    this.started = performance.now();
    this.lastPaint = 0;
    return this.steps;
  }

  step(step: number, loss: number): void {
    this.losses.push(loss);
    const now = performance.now();
    // DOM updates at most ~20 times a second; the chart shows every step.
    if (now - this.lastPaint > 50 || step === this.steps) {
      this.lastPaint = now;
      this.progress.value = step;
      this.stepOutput.textContent = `step ${step} / ${this.steps}`;
      this.lossOutput.textContent = `loss ${loss.toPrecision(4)}`;
      this.rateOutput.textContent = `${((step * 1000) / (now - this.started)).toFixed(1)} steps/s`;
      drawLossChart(this.chart, this.losses);
    }
  }

  /** Seconds since begin(). */
  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** The restoration reached `steps` (all of them, or fewer when cancelled). */
  finish(steps: number): void {
    drawLossChart(this.chart, this.losses);
    this.progress.value = steps;
    this.stepOutput.textContent = `step ${steps} / ${this.steps}`;
    const rate = steps / Math.max(this.seconds, 1e-6);
    this.rateOutput.textContent = `${rate.toFixed(1)} steps/s`;
    this.rateOutput.dataset.value = String(rate);
  }

  /** Whatever happened, the buttons are ready for the next restoration. */
  end(): void {
    this.restoreButton.disabled = false;
    this.cancelButton.disabled = true;
  }
}

/** The loss per step as a line on a log scale (the loss falls by orders of magnitude at first). */
function drawLossChart(canvas: HTMLCanvasElement, losses: number[]): void {
  const context = canvas.getContext('2d');
  if (!context || losses.length === 0) return;
  const { width, height } = canvas;
  const logs = losses.map((l) => Math.log(Math.max(l, 1e-12)));
  const min = Math.min(...logs);
  const max = Math.max(...logs);
  const span = Math.max(max - min, 1e-9);
  context.clearRect(0, 0, width, height);
  context.strokeStyle = getComputedStyle(canvas).getPropertyValue('--accent').trim() || '#2456c9';
  context.lineWidth = 2;
  context.beginPath();
  logs.forEach((v, i) => {
    const x = logs.length === 1 ? 0 : (i / (logs.length - 1)) * (width - 4) + 2;
    const y = 2 + (1 - (v - min) / span) * (height - 4);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}
