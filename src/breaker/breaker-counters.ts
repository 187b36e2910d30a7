import type { BreakerStateKind } from './breaker-state.ts';
import type { OutcomeClass, RejectionReason } from './breaker-ticket.ts';

/** Per-class counts of reported outcomes. */
export interface OutcomeCounts {
  readonly success: number;
  readonly failure: number;
  readonly ignored: number;
}

/** Monotonic counters since construction, kept whether or not anyone listens to events. */
export interface BreakerStats {
  /** Outcomes that counted (not late). */
  readonly calls: OutcomeCounts;
  /** Outcomes reported against an earlier epoch or a settled lease. */
  readonly lateCalls: OutcomeCounts;
  /** Calls slower than slowCall.durationMs (only counted when the slow rule is on). */
  readonly slowCalls: number;
  readonly rejections: Readonly<Record<RejectionReason, number>>;
  /** Real transitions keyed "from->to". */
  readonly transitions: Readonly<Record<string, number>>;
  readonly probeTimeouts: number;
}

/**
 * The counters of one breaker since construction (B8). The breaker keeps them whether or not
 * anyone listens to events, so a metric never depends on which events had listeners. Counting an
 * outcome or a rejection only increments a number field: nothing is allocated on the closed path.
 */
export class BreakerCounters {
  readonly #transitions = new Map<string, number>();
  #successes = 0;
  #failures = 0;
  #ignored = 0;
  #lateSuccesses = 0;
  #lateFailures = 0;
  #lateIgnored = 0;
  #slowCalls = 0;
  #rejectedOpen = 0;
  #rejectedBusy = 0;
  #rejectedForced = 0;
  #probeTimeouts = 0;

  /** Counts a reported outcome; `late` ones decided nothing (B4) but still show here. */
  outcome(cls: OutcomeClass, slow: boolean, late: boolean): void {
    if (slow) this.#slowCalls++;
    switch (cls) {
      case 'success':
        if (late) this.#lateSuccesses++;
        else this.#successes++;
        return;
      case 'failure':
        if (late) this.#lateFailures++;
        else this.#failures++;
        return;
      case 'ignored':
        if (late) this.#lateIgnored++;
        else this.#ignored++;
        return;
    }
  }

  /** Counts a call refused without an upstream request. */
  rejection(reason: RejectionReason): void {
    if (reason === 'open') this.#rejectedOpen++;
    else if (reason === 'half_open_busy') this.#rejectedBusy++;
    else this.#rejectedForced++;
  }

  /** Counts a real transition (the state kind changed). */
  transition(from: BreakerStateKind, to: BreakerStateKind): void {
    const name = `${from}->${to}`;
    this.#transitions.set(name, (this.#transitions.get(name) ?? 0) + 1);
  }

  /** Counts a probe whose lease expired before it settled. */
  probeTimeout(): void {
    this.#probeTimeouts++;
  }

  /** A copy of the counters, for metrics. */
  stats(): BreakerStats {
    return {
      calls: { success: this.#successes, failure: this.#failures, ignored: this.#ignored },
      lateCalls: {
        success: this.#lateSuccesses,
        failure: this.#lateFailures,
        ignored: this.#lateIgnored,
      },
      slowCalls: this.#slowCalls,
      rejections: {
        open: this.#rejectedOpen,
        half_open_busy: this.#rejectedBusy,
        forced_open: this.#rejectedForced,
      },
      transitions: Object.fromEntries(this.#transitions),
      probeTimeouts: this.#probeTimeouts,
    };
  }
}
