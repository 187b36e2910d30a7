import type { BreakerConfig } from './breaker-config.ts';

/**
 * Product defaults (docs/breaker-spec.md, B10): 5 consecutive failures within 60 s trip the breaker,
 * it stays open 30 s growing x2 per re-trip up to 5 min with 20 % downward jitter, and two
 * successful probes (one at a time) close it. Rate rules are off until a policy turns them on.
 */
export const DEFAULT_BREAKER_CONFIG: BreakerConfig = Object.freeze({
  failureThreshold: 5,
  windowMs: 60_000,
  windowBuckets: 60,
  failureRate: null,
  slowCall: null,
  recoveryTimeoutMs: 30_000,
  recoveryBackoff: Object.freeze({ multiplier: 2, maxMs: 300_000, jitter: 0.2 }),
  maxRetryAfterMs: 300_000,
  attemptResetAfterMs: 300_000,
  successThreshold: 2,
  halfOpenMaxProbes: 1,
  probeTimeoutMs: 30_000,
  halfOpenMaxDurationMs: 0,
  probeSample: null,
  adaptive: Object.freeze([]),
});
