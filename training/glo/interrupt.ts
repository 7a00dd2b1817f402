/**
 * Interrupt points for long synchronous work (BatchNorm recalibration, reconstructing every image, the
 * IMLE fit). Signal handlers run as macrotasks, and a loop of tf ops never gives them one, so an
 * AbortSignal set by SIGINT/SIGTERM would only be seen once the loop ends (minutes, for an IMLE fit).
 * The loop awaits `check()` between units of work instead: it yields one macrotask turn at most every
 * `everyMs` (so it costs well under 1% of the loop) and throws `stop()`'s error once the signal is aborted.
 */
export type InterruptCheck = () => Promise<void>;

/** One turn of the event loop (setTimeout rather than setImmediate: this module also runs in the browser). */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** For callers with nothing to interrupt them (tests, the site): never yields, never throws. */
export const uninterrupted: InterruptCheck = async () => {};

export function interruptCheck(signal: AbortSignal | undefined, stop: () => Error, everyMs = 50): InterruptCheck {
  if (!signal) return uninterrupted;
  let lastYield = performance.now();
  return async () => {
    if (performance.now() - lastYield >= everyMs) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
    if (signal.aborted) throw stop();
  };
}
