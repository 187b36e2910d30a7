import { describeValue } from './breaker-config-validation.ts';
import type { ForcedOpenState } from './breaker-state.ts';
import { BreakerConfigError } from './errors.ts';

/** Options of forceOpen. */
export interface ForceOpenOptions {
  /** Operator's reason, echoed in the stateChange event and status. */
  readonly reason?: string;
  /** Monotonic deadline after which this (non-hold) claim lapses and the breaker closes. */
  readonly untilMs?: number;
  /** Return a ref-counted handle: the breaker stays forced until every handle is released. */
  readonly hold?: boolean;
}

/** A ref-counted isolation claim from forceOpen({hold: true}). */
export interface HoldHandle {
  /** Drops this claim; the last one closes the breaker. Idempotent. */
  release(): void;
  /** True once release() was called on this handle. */
  readonly released: boolean;
}

/**
 * One checked forceOpen call. A hold claim is ref-counted and ends when its handle is released;
 * a sticky claim (no hold) lasts until release()/reset() or its deadline.
 */
export interface ForcedClaim {
  readonly note: string;
  /** Deadline of a sticky claim, or null for "until released" (always null for a hold). */
  readonly untilMs: number | null;
  readonly hold: boolean;
}

/** Checks forceOpen's options, which may come from untyped callers; throws BreakerConfigError. */
export function parseForceOpenOptions(options: ForceOpenOptions): ForcedClaim {
  const hold = options.hold === true;
  const note: unknown = options.reason ?? 'manual';
  const untilMs: unknown = options.untilMs ?? null;
  if (typeof note !== 'string') {
    throw new BreakerConfigError(`forceOpen: reason must be a string, got ${describeValue(note)}`);
  }
  if (untilMs !== null && (typeof untilMs !== 'number' || Number.isNaN(untilMs))) {
    throw new BreakerConfigError(
      `forceOpen: untilMs must be a number, got ${describeValue(untilMs)}`,
    );
  }
  if (hold && untilMs !== null) {
    throw new BreakerConfigError(
      `forceOpen: untilMs cannot be combined with hold (a hold ends when released), got ${untilMs}`,
    );
  }
  return { note, untilMs, hold };
}

/** FORCED_OPEN entered with its first claim (B6: rejects everything, never half-opens by itself). */
export function forcedOpenState(
  epoch: number,
  attempt: number,
  enteredAtMs: number,
  claim: ForcedClaim,
): ForcedOpenState {
  return Object.freeze({
    kind: 'forced_open',
    epoch,
    attempt,
    enteredAtMs,
    note: claim.note,
    holds: claim.hold ? 1 : 0,
    sticky: !claim.hold,
    untilMs: claim.hold ? null : claim.untilMs,
  });
}

/**
 * An already-forced state with one more claim: same epoch and note, no transition (forcing a
 * forced breaker emits nothing). Sticky deadlines merge: "until released" wins, otherwise the
 * later deadline; a hold leaves the deadline alone.
 */
export function withClaim(state: ForcedOpenState, claim: ForcedClaim): ForcedOpenState {
  return Object.freeze({
    ...state,
    holds: state.holds + (claim.hold ? 1 : 0),
    sticky: state.sticky || !claim.hold,
    untilMs: claim.hold ? state.untilMs : mergeDeadline(state, claim.untilMs),
  });
}

/**
 * The state after one hold is released at `nowMs`: the same state when no hold is outstanding,
 * fewer holds while another hold or a live sticky claim remains, or null when that was the last
 * claim and the breaker should close.
 */
export function withoutHold(state: ForcedOpenState, nowMs: number): ForcedOpenState | null {
  if (state.holds === 0) return state;
  const holds = state.holds - 1;
  const stickyLive = state.sticky && (state.untilMs === null || nowMs < state.untilMs);
  if (holds > 0 || stickyLive) return Object.freeze({ ...state, holds });
  return null;
}

/**
 * When the forced state has lapsed by `nowMs` (only a sticky deadline with no hold outstanding
 * lapses), the time it lapsed at, for the force_expired transition; otherwise null.
 */
export function lapsedAtMs(state: ForcedOpenState, nowMs: number): number | null {
  if (state.holds > 0 || state.untilMs === null || nowMs < state.untilMs) return null;
  return Math.max(state.enteredAtMs, state.untilMs);
}

/**
 * Retry-After hint of a forced_open rejection. A forced state has no deadline unless a lone
 * sticky claim carries one; the recovery timeout is a sensible hint for clients either way.
 */
export function forcedRetryAfterMs(
  state: ForcedOpenState,
  nowMs: number,
  recoveryTimeoutMs: number,
): number {
  const wait =
    state.holds === 0 && state.untilMs !== null ? state.untilMs - nowMs : recoveryTimeoutMs;
  return Math.max(0, wait);
}

/** A handle whose first release() calls `release`; later calls do nothing. */
export function holdHandle(release: () => void): HoldHandle {
  let released = false;
  return {
    get released(): boolean {
      return released;
    },
    release(): void {
      if (released) return;
      released = true;
      release();
    },
  };
}

/** Deadline of merged sticky claims: "until released" wins, otherwise the later deadline. */
function mergeDeadline(state: ForcedOpenState, untilMs: number | null): number | null {
  if (!state.sticky) return untilMs;
  if (state.untilMs === null || untilMs === null) return null;
  return Math.max(state.untilMs, untilMs);
}
