// Public API of the pure breaker engine: state machine, registry, rules, events, snapshots.
export type { AdaptiveTier, BreakerConfig, RateRule } from './breaker-config.ts';
export { validateBreakerConfig } from './breaker-config-validation.ts';
export { DEFAULT_BREAKER_CONFIG } from './breaker-defaults.ts';
export {
  BreakerEvents,
  type BreakerEventMap,
  type BreakerEventName,
  type EvictedEvent,
  type OutcomeEvent,
  type ProbeTimeoutEvent,
  type RejectedEvent,
  type ResetEvent,
  type StateChangeEvent,
  type ThresholdExceededEvent,
} from './breaker-events.ts';
export { BreakerRegistry, type BreakerRegistryOptions } from './breaker-registry.ts';
export {
  BREAKER_SNAPSHOT_VERSION,
  parseBreakerSnapshot,
  planRestore,
  type BreakerSnapshot,
  type RestorePlan,
} from './breaker-snapshot.ts';
export {
  BREAKER_STATE_KINDS,
  type BreakerState,
  type BreakerStateKind,
  type TransitionReason,
} from './breaker-state.ts';
export type {
  AdmittingStateKind,
  Outcome,
  OutcomeClass,
  Rejection,
  RejectionReason,
  Ticket,
} from './breaker-ticket.ts';
export type { BreakerStats, OutcomeCounts } from './breaker-counters.ts';
export {
  CircuitBreaker,
  type BreakerStatus,
  type CircuitBreakerOptions,
} from './circuit-breaker.ts';
export { BreakerConfigError, BreakerSnapshotError, IllegalTransitionError } from './errors.ts';
export type { ForceOpenOptions, HoldHandle } from './forced-claims.ts';
export { HalfOpenTrial, type TrialVerdict } from './half-open-trial.ts';
export {
  backoffCapMs,
  clampRetryAfterMs,
  jitterDownMs,
  openDurationMs,
  type RandomSource,
} from './open-duration.ts';
export { RollingWindow, type WindowBucket } from './rolling-window.ts';
export {
  ConsecutiveFailuresRule,
  FailureRateRule,
  reachesBasisPoints,
  rateOrNaN,
  SlowCallRateRule,
  TripRules,
  type TripReason,
  type TripRule,
} from './trip-rules.ts';
