import cliProgress from 'cli-progress';

/**
 * Training feedback: a progress bar on a terminal (epoch, step, loss, images/s, ETA), plain log lines
 * otherwise (CI, Batch logs), at most one every `intervalSeconds`.
 */
export interface ProgressUpdate {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  imagesPerSecond: number;
  /** Estimated seconds until the last epoch ends, from this epoch's speed. */
  runEtaSeconds: number;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export interface Reporter {
  info(message: string): void;
  startEpoch(epoch: number, epochs: number, steps: number, startStep: number): void;
  update(update: ProgressUpdate): void;
  endEpoch(): void;
}

export function consoleReporter(options: { tty?: boolean; intervalSeconds?: number; quiet?: boolean } = {}): Reporter {
  const tty = options.tty ?? Boolean(process.stderr.isTTY);
  const interval = (options.intervalSeconds ?? 10) * 1000;
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  const log = (m: string) => {
    if (!options.quiet) process.stderr.write(`${m}\n`);
  };
  return {
    info(message) {
      if (bar) bar.stop();
      bar = undefined;
      log(message);
    },
    startEpoch(epoch, epochs, steps, startStep) {
      if (!tty || options.quiet) return;
      bar = new cliProgress.SingleBar(
        {
          format: 'epoch {epoch}/{epochs} |{bar}| step {value}/{total} | loss {loss} | {ips} img/s | epoch ETA {eta_formatted} | run ETA {runEta}',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(steps, startStep, { epoch: epoch + 1, epochs, loss: '-', ips: '-', runEta: '-' });
    },
    update(u) {
      if (bar) {
        bar.update(u.step, { loss: u.loss.toFixed(4), ips: u.imagesPerSecond.toFixed(1), runEta: formatDuration(u.runEtaSeconds) });
        return;
      }
      const now = Date.now();
      if (now - lastLine >= interval || u.step === u.steps) {
        lastLine = now;
        log(`epoch ${u.epoch + 1}/${u.epochs} step ${u.step}/${u.steps} loss ${u.loss.toFixed(4)} ${u.imagesPerSecond.toFixed(1)} img/s, run ETA ${formatDuration(u.runEtaSeconds)}`);
      }
    },
    endEpoch() {
      bar?.stop();
      bar = undefined;
    },
  };
}

export const silentReporter: Reporter = { info() {}, startEpoch() {}, update() {}, endEpoch() {} };
