import type { AdmittingStateKind, Ticket } from './breaker-ticket.ts';

/**
 * Every state a breaker can be in. closed/open/half_open are automatic; forced_open,
 * metrics_only (force-closed: records and reports but never rejects) and disabled (pure
 * pass-through) are operator states. Snake case matches the metric and event labels.
 */
export type BreakerStateKind =
  'closed' | 'open' | 'half_open' | 'forced_open' | 'metrics_only' | 'disabled';

/** All state kinds, in a stable order (one 0/1 gauge series per kind). */
export const BREAKER_STATE_KINDS: readonly BreakerStateKind[] = Object.freeze([
  'closed',
  'open',
  'half_open',
  'forced_open',
  'metrics_only',
  'disabled',
]);

/** Why a transition happened; carried by stateChange events and the transitions metric. */
export type TransitionReason =
  | 'consecutive_failures'
  | 'failure_rate'
  | 'slow_call_rate'
  | 'open_elapsed'
  | 'probe_success'
  | 'probe_failure'
  | 'probe_timeout'
  | 'half_open_deadline'
  | 'manual'
  | 'force_open'
  | 'force_closed'
  | 'disable'
  | 'release'
  | 'force_expired'
  | 'reset'
  | 'restore';

interface StateBase {
  /** Increments on every transition (and on reset); tickets from another epoch are late. */
  readonly epoch: number;
  /** Consecutive-open counter that drives the backoff; 0 after a reset or a long calm period. */
  readonly attempt: number;
  /** Monotonic time the state was entered. */
  readonly enteredAtMs: number;
}

/** Normal operation: calls pass, outcomes feed the window and the trip rules. */
export interface ClosedState extends StateBase {
  readonly kind: 'closed';
  /** The one ticket every call admitted in this epoch shares. */
  readonly ticket: Ticket;
}

/** Tripped: calls are rejected until openUntilMs, then the next call probes. */
export interface OpenState extends StateBase {
  readonly kind: 'open';
  /** Monotonic deadline; at or after it the next admission moves to half_open. */
  readonly openUntilMs: number;
  /** What opened it (a trip rule, a probe, or a manual openFor). */
  readonly reason: TransitionReason;
}

/** Probing: at most halfOpenMaxProbes calls in flight decide between closed and open. */
export interface HalfOpenState extends StateBase {
  readonly kind: 'half_open';
}

/** Operator isolation: rejects everything, never half-opens by itself. */
export interface ForcedOpenState extends StateBase {
  readonly kind: 'forced_open';
  /** Operator's reason text, echoed in events and status. */
  readonly note: string;
  /** Outstanding hold handles; the state ends when they are all released (and no sticky claim). */
  readonly holds: number;
  /** True when forced without a hold handle: only release(), reset() or untilMs end it. */
  readonly sticky: boolean;
  /** Monotonic deadline of the sticky claim, or null for "until released". */
  readonly untilMs: number | null;
}

/** Force-closed: never rejects, still records and emits thresholdExceeded once per crossing. */
export interface MetricsOnlyState extends StateBase {
  readonly kind: 'metrics_only';
  /** Shared ticket of this epoch. */
  readonly ticket: Ticket;
}

/** Switched off: pure pass-through, records nothing. */
export interface DisabledState extends StateBase {
  readonly kind: 'disabled';
  /** Shared ticket of this epoch. */
  readonly ticket: Ticket;
}

/**
 * The single immutable state object of one key. Transitions replace it wholesale, so the state
 * and its deadline can never disagree (Hystrix's two-variable split, #1806).
 */
export type BreakerState =
  ClosedState | OpenState | HalfOpenState | ForcedOpenState | MetricsOnlyState | DisabledState;

/** The frozen ticket shared by all non-probe admissions of one epoch. */
export function sharedTicket(key: string, epoch: number, state: AdmittingStateKind): Ticket {
  return Object.freeze({
    admitted: true,
    key,
    epoch,
    state,
    isProbe: false,
    leaseExpiresAtMs: null,
  });
}

/** Builds a closed state with its shared ticket. */
export function closedState(
  key: string,
  epoch: number,
  attempt: number,
  enteredAtMs: number,
): ClosedState {
  return Object.freeze({
    kind: 'closed',
    epoch,
    attempt,
    enteredAtMs,
    ticket: sharedTicket(key, epoch, 'closed'),
  });
}
