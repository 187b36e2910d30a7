/**
 * Fully resolved breaker settings in milliseconds and integers. The policy compiler
 * (src/policy) produces one of these per breaker key from the user's `spec.breaker`
 * (durations as strings at the API edge, ms here); the engine never sees policy types.
 */
export interface BreakerConfig {
  /** Consecutive failures that trip the breaker (0 turns the rule off). */
  readonly failureThreshold: number;
  /**
   * Rolling window: a streak of consecutive failures counts only while its first failure is
   * younger than this, and the failure-rate and slow-call rules look back this far.
   */
  readonly windowMs: number;
  /** Buckets the window is split into (window / buckets = slide granularity). */
  readonly windowBuckets: number;
  /** Optional second trip rule: failure share of completed calls in the window. */
  readonly failureRate: RateRule | null;
  /** Optional trip rule on the share of slow calls (time to first byte > durationMs). */
  readonly slowCall: (RateRule & { readonly durationMs: number }) | null;
  /** Base open duration for the first trip. */
  readonly recoveryTimeoutMs: number;
  /** Growth of the open duration on every re-trip. */
  readonly recoveryBackoff: {
    readonly multiplier: number;
    readonly maxMs: number;
    /** 0..1; applied downwards after the cap: d * (1 - jitter * U[0,1)). */
    readonly jitter: number;
  };
  /** Upper bound for an open period extended by an upstream's Retry-After. */
  readonly maxRetryAfterMs: number;
  /** How long the breaker must stay closed before the backoff attempt counter resets. */
  readonly attemptResetAfterMs: number;
  /** Successful probes that close a half-open breaker. */
  readonly successThreshold: number;
  /** Probes allowed in flight while half-open; extra calls are rejected, never queued. */
  readonly halfOpenMaxProbes: number;
  /** A probe that has not settled after this long counts as a failure (lease expiry). */
  readonly probeTimeoutMs: number;
  /** When > 0, a half-open breaker decides from the samples it has after this long. */
  readonly halfOpenMaxDurationMs: number;
  /**
   * Optional half-open sampling (replaces successThreshold / first-failure-reopens):
   * reopen as soon as failures >= percent of `calls`, close when `calls` outcomes are in below it.
   */
  readonly probeSample: { readonly calls: number; readonly failureRateBasisPoints: number } | null;
  /**
   * Traffic-dependent consecutive thresholds, sorted ascending by minRequestsPerMinute: the
   * highest tier whose volume the window's recent rate reaches replaces failureThreshold.
   */
  readonly adaptive: readonly AdaptiveTier[];
}

/** A share of calls, stored as integer basis points (50% = 5000) so thresholds compare exactly. */
export interface RateRule {
  readonly basisPoints: number;
  readonly minimumRequests: number;
}

/** One traffic tier: at or above this per-minute volume, trip after this many consecutive failures. */
export interface AdaptiveTier {
  readonly minRequestsPerMinute: number;
  readonly failureThreshold: number;
}
