/**
 * The one way the product waits: retries, relists, watchdogs, lease renewals, alert delivery
 * timeouts and backoffs are all "do this later". Injecting the timers lets tests and simulations
 * decide when later is (a fake on a ManualClock fires them in microseconds).
 */

/** Cancels a scheduled callback; calling it again, or after it ran, does nothing. */
export type CancelTimer = () => void;

/** Schedules one-shot callbacks, with Node's argument order. */
export interface Timers {
  /** Runs `callback` once after `delayMs` milliseconds. */
  setTimeout(callback: () => void, delayMs: number): CancelTimer;
}

/** Node's timers. They keep the process alive on purpose: every loop here stops explicitly. */
export const systemTimers: Timers = {
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return () => {
      clearTimeout(handle);
    };
  },
};

/** Waits `delayMs`, or less when `signal` aborts first, so a stopping loop never sits out a backoff. */
export function sleep(timers: Timers, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = timers.setTimeout(done, delayMs);
    signal?.addEventListener('abort', done, { once: true });
  });
}
