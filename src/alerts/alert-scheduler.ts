/**
 * Timers behind an interface, so unit tests run retry schedules and timeouts on a fake clock in
 * microseconds and integration tests use real short timers.
 */

/** Runs callbacks later. */
export interface AlertScheduler {
  /** Runs `callback` once after `delayMs`; the returned function cancels it (idempotent). */
  schedule(delayMs: number, callback: () => void): () => void;
}

/** Real timers (`setTimeout`). They keep the process alive: call the dispatcher's `close()` before exit. */
export const timerScheduler: AlertScheduler = {
  schedule(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    return () => {
      clearTimeout(timer);
    };
  },
};
