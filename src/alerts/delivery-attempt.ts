/**
 * One attempt to deliver one alert to one receiver, bounded by our own timeout. It settles
 * exactly once, with the notifier's outcome, at the timeout, or when aborted, whichever comes
 * first; what the notifier does afterwards is ignored.
 */
import type { CancelTimer, Timers } from '../shared/timers.ts';
import type { AlertDelivery, AlertNotifier, DeliveryOutcome } from './alert-notifier.ts';

const TIMEOUT_OUTCOME: DeliveryOutcome = { ok: false, retryable: true, error: 'timeout' };
const THROWN_OUTCOME: DeliveryOutcome = { ok: false, retryable: true, error: 'network' };
const ABORTED_OUTCOME: DeliveryOutcome = { ok: false, retryable: false, error: 'aborted' };

/** Receives the single outcome; `timedOut` when our timer ended the attempt. */
export type AttemptSettled = (outcome: DeliveryOutcome, timedOut: boolean) => void;

export class DeliveryAttempt {
  readonly #controller = new AbortController();
  readonly #onSettled: AttemptSettled;
  #cancelTimeout: CancelTimer = noop;
  #settled = false;

  constructor(onSettled: AttemptSettled) {
    this.#onSettled = onSettled;
  }

  /** Sends `delivery`; a notifier that throws or rejects counts as a retryable network failure. */
  start(notifier: AlertNotifier, delivery: AlertDelivery, timers: Timers, timeoutMs: number): void {
    // Our own timer rather than undici's alone: it also bounds custom notifiers and the body
    // read, and frees the concurrency slot at once even if the notifier ignores the signal.
    this.#cancelTimeout = timers.setTimeout(() => {
      if (this.#settled) return;
      this.#controller.abort();
      this.#settle(TIMEOUT_OUTCOME, true);
    }, timeoutMs);
    let pending: Promise<DeliveryOutcome>;
    try {
      pending = notifier.send(delivery, this.#controller.signal);
    } catch {
      pending = Promise.resolve(THROWN_OUTCOME);
    }
    pending.then(
      (outcome) => {
        this.#settle(outcome, false);
      },
      () => {
        this.#settle(THROWN_OUTCOME, false);
      },
    );
  }

  /** Aborts the request and settles as `aborted` now (not retryable). */
  abort(): void {
    this.#controller.abort();
    this.#settle(ABORTED_OUTCOME, false);
  }

  #settle(outcome: DeliveryOutcome, timedOut: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#cancelTimeout();
    this.#onSettled(outcome, timedOut);
  }
}

function noop(): void {
  // Placeholder until the real timeout is scheduled.
}
