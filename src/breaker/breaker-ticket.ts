/** The kinds of state in which a call can be admitted (the ticket remembers which). */
export type AdmittingStateKind = 'closed' | 'half_open' | 'metrics_only' | 'disabled';

/**
 * Proof of admission, returned synchronously by tryAcquire and handed back with the outcome.
 * Outcomes are attributed by `epoch`: a ticket from an earlier state (or a probe whose lease was
 * already settled) is late and never decides a transition. Closed-state tickets are one frozen
 * object per epoch, shared by every call, so admission on the hot path allocates nothing.
 */
export interface Ticket {
  /** Discriminant against Rejection. */
  readonly admitted: true;
  /** Breaker key that issued the ticket. */
  readonly key: string;
  /** State epoch at admission; outcomes from another epoch are late. */
  readonly epoch: number;
  /** State the call was admitted in. */
  readonly state: AdmittingStateKind;
  /** True for a half-open probe, which holds one of the limited probe permits. */
  readonly isProbe: boolean;
  /** Monotonic time at which an unsettled probe counts as failed (null for non-probes). */
  readonly leaseExpiresAtMs: number | null;
}

/** Why a call was refused without reaching the upstream. */
export type RejectionReason = 'open' | 'half_open_busy' | 'forced_open';

/** A refused admission: the caller goes to its fallback (never queued) and may retry later. */
export interface Rejection {
  /** Discriminant against Ticket. */
  readonly admitted: false;
  /** Breaker key that refused the call. */
  readonly key: string;
  /** What refused it, for the error body and the rejections metric. */
  readonly reason: RejectionReason;
  /** Suggested wait before the next attempt (Retry-After), in ms; >= 0. */
  readonly retryAfterMs: number;
}

/** How a finished call is classified for the breaker (once, by the data plane). */
export type OutcomeClass = 'success' | 'failure' | 'ignored';

/** A classified outcome in object form, for callers that prefer it to the positional methods. */
export interface Outcome {
  /** success, failure, or ignored (client went away: neither counts nor resets). */
  readonly class: OutcomeClass;
  /** Time to first byte (streams) or total latency, for the slow-call rule. */
  readonly durationMs?: number;
  /** Upstream Retry-After in ms; extends the open period if this outcome opens the breaker. */
  readonly retryAfterMs?: number;
  /**
   * A 429-style failure: counts in the rate window and fails a probe, but leaves the
   * consecutive-failure streak untouched (docs/breaker-spec.md B2, scenario 49).
   */
  readonly soft?: boolean;
}
