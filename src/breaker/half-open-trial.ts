import type { BreakerConfig } from './breaker-config.ts';
import type { Ticket } from './breaker-ticket.ts';
import { reachesBasisPoints } from './trip-rules.ts';

/** What a half-open breaker should do after a probe outcome or at its deadline. */
export type TrialVerdict = 'continue' | 'close' | 'reopen';

interface ProbeLease {
  readonly ticket: Ticket;
  readonly admittedAtMs: number;
  readonly expiresAtMs: number;
}

/**
 * One half-open period: which probes may start, their leases in flight, and the tally that
 * decides between closing and reopening (B5).
 *
 * At most `halfOpenMaxProbes` probes are in flight; a call beyond that is turned away at once
 * (half_open_busy, never queued) and told to retry when the earliest lease expires.
 *
 * Default mode: `successThreshold` successes close, the first failure reopens. Sample mode
 * (`probeSample` set): reopen as soon as failures reach the rate over the planned sample
 * (early exit, the final rate can no longer stay below it), close once `calls` outcomes are in
 * below it. Ignored outcomes release the permit and count for nothing. The breaker resets the
 * trial on every transition, so nothing leaks from one half-open period into the next.
 */
export class HalfOpenTrial {
  readonly #leases: ProbeLease[] = [];
  #successes = 0;
  #failures = 0;
  #lastOutcomeAtMs = Number.NEGATIVE_INFINITY;

  /** Probes admitted and not yet settled. */
  get inFlight(): number {
    return this.#leases.length;
  }

  /** Successful probes so far in this half-open period. */
  get successes(): number {
    return this.#successes;
  }

  /** Failed probes so far in this half-open period (lease timeouts included). */
  get failures(): number {
    return this.#failures;
  }

  /** Monotonic time of the latest counted outcome (for deciding at a deadline). */
  get lastOutcomeAtMs(): number {
    return this.#lastOutcomeAtMs;
  }

  /** Forgets every lease and count (a transition happened). */
  reset(): void {
    this.#leases.length = 0;
    this.#successes = 0;
    this.#failures = 0;
    this.#lastOutcomeAtMs = Number.NEGATIVE_INFINITY;
  }

  /** May another probe start now? True while fewer than halfOpenMaxProbes are in flight (B5). */
  mayAdmit(config: BreakerConfig): boolean {
    return this.#leases.length < config.halfOpenMaxProbes;
  }

  /**
   * Retry-After for a call turned away while the probes are busy: the time until the earliest
   * lease expires and frees a slot (0 when none is in flight or it is already due).
   */
  busyRetryAfterMs(nowMs: number): number {
    const wait = this.earliestExpiryMs() - nowMs;
    return Number.isFinite(wait) ? Math.max(0, wait) : 0;
  }

  /** Registers an admitted probe (the caller checked mayAdmit). */
  admit(ticket: Ticket, admittedAtMs: number, expiresAtMs: number): void {
    this.#leases.push({ ticket, admittedAtMs, expiresAtMs });
  }

  /** Settles the lease of `ticket`; false when it is unknown or already settled (late). */
  release(ticket: Ticket): boolean {
    const index = this.#leases.findIndex((lease) => lease.ticket === ticket);
    if (index < 0) return false;
    this.#leases.splice(index, 1);
    return true;
  }

  /** Earliest lease expiry among probes in flight, or +Infinity with none. */
  earliestExpiryMs(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const lease of this.#leases) earliest = Math.min(earliest, lease.expiresAtMs);
    return earliest;
  }

  /** Removes and returns the earliest lease that has expired at `nowMs`, if any. */
  takeExpired(nowMs: number): { readonly leaseMs: number; readonly expiresAtMs: number } | null {
    let index = -1;
    let earliest = Number.POSITIVE_INFINITY;
    this.#leases.forEach((lease, i) => {
      if (lease.expiresAtMs <= nowMs && lease.expiresAtMs < earliest) {
        earliest = lease.expiresAtMs;
        index = i;
      }
    });
    if (index < 0) return null;
    const [lease] = this.#leases.splice(index, 1);
    if (lease === undefined) return null;
    return { leaseMs: lease.expiresAtMs - lease.admittedAtMs, expiresAtMs: lease.expiresAtMs };
  }

  /** Counts a settled probe outcome and says what to do next. */
  record(failed: boolean, atMs: number, config: BreakerConfig): TrialVerdict {
    this.#lastOutcomeAtMs = atMs;
    if (failed) this.#failures++;
    else this.#successes++;
    const sample = config.probeSample;
    if (sample === null) {
      if (this.#failures > 0) return 'reopen';
      return this.#successes >= config.successThreshold ? 'close' : 'continue';
    }
    if (reachesBasisPoints(this.#failures, sample.calls, sample.failureRateBasisPoints)) {
      return 'reopen';
    }
    return this.#successes + this.#failures >= sample.calls ? 'close' : 'continue';
  }

  /**
   * Decision when halfOpenMaxDurationMs has elapsed: with no outcome keep probing (no
   * escalation, no event, so an idle breaker never oscillates), any failure reopens, else close.
   */
  deadlineVerdict(): TrialVerdict {
    if (this.#successes + this.#failures === 0) return 'continue';
    return this.#failures > 0 ? 'reopen' : 'close';
  }
}
