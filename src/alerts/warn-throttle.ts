/**
 * Warnings about one target, at most one per kind of problem per interval: a dead receiver must
 * cost a log line now and then, not one per alert. What is held back is counted and reported
 * with the next warning that goes out.
 */
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';

interface Throttle {
  lastAtMs: number | undefined;
  suppressed: number;
}

export class WarnThrottle<Problem extends string> {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #throttles = new Map<Problem, Throttle>();

  constructor(logger: Logger, clock: Clock, intervalMs: number) {
    this.#logger = logger;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  /** Logs `message` with `fields` unless `problem` was logged less than the interval ago. */
  warn(problem: Problem, fields: Record<string, unknown>, message: string): void {
    let throttle = this.#throttles.get(problem);
    if (throttle === undefined) {
      throttle = { lastAtMs: undefined, suppressed: 0 };
      this.#throttles.set(problem, throttle);
    }
    const nowMs = this.#clock.nowMs();
    if (throttle.lastAtMs !== undefined && nowMs - throttle.lastAtMs < this.#intervalMs) {
      throttle.suppressed++;
      return;
    }
    this.#logger.warn({ ...fields, suppressedSinceLastWarning: throttle.suppressed }, message);
    throttle.lastAtMs = nowMs;
    throttle.suppressed = 0;
  }
}
