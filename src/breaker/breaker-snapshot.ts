import type { BreakerConfig } from './breaker-config.ts';
import { describeValue } from './breaker-config-validation.ts';
import {
  BREAKER_STATE_KINDS,
  type BreakerStateKind,
  type TransitionReason,
} from './breaker-state.ts';
import { BreakerSnapshotError } from './errors.ts';
import type { WindowBucket } from './rolling-window.ts';

/** Version of the snapshot format; restore refuses any other. */
export const BREAKER_SNAPSHOT_VERSION = 1;

/**
 * Persistable state of one breaker (B9). Every time is relative to `savedAtWallMs` (remaining or
 * elapsed durations), never a monotonic reading, which means nothing in another process, and never
 * "time since construction" (opossum's lastTimerAt). JSON-safe: no NaN, no Infinity.
 */
export interface BreakerSnapshot {
  readonly v: typeof BREAKER_SNAPSHOT_VERSION;
  readonly key: string;
  readonly state: BreakerStateKind;
  readonly epoch: number;
  readonly attempt: number;
  /** Wall-clock time of the snapshot; restore ages everything by wallNow - savedAtWallMs. */
  readonly savedAtWallMs: number;
  /** How long the state had been held (drives attempt decay after a restore). */
  readonly stateAgeMs: number;
  /** Current consecutive-failure streak. */
  readonly consecutive: number;
  /** Age of the streak's first failure, or null without a streak. */
  readonly streakAgeMs: number | null;
  /** Window counts by bucket age. */
  readonly window: {
    readonly windowMs: number;
    readonly bucketMs: number;
    readonly buckets: readonly WindowBucket[];
  };
  /** For open: time left and why it opened. */
  readonly open: { readonly remainingMs: number; readonly reason: TransitionReason } | null;
  /** For forced_open: the operator claims. */
  readonly forced: {
    readonly note: string;
    readonly holds: number;
    readonly sticky: boolean;
    readonly untilRemainingMs: number | null;
  } | null;
}

/** What a snapshot turns into after B9's restore rules, with ages already shifted. */
export interface RestorePlan {
  readonly kind: Exclude<BreakerStateKind, 'half_open'>;
  readonly attempt: number;
  readonly stateAgeMs: number;
  readonly consecutive: number;
  readonly streakAgeMs: number | null;
  readonly buckets: readonly WindowBucket[];
  /** Open only: time left from the restore instant, and the original reason. */
  readonly openRemainingMs: number;
  readonly openReason: TransitionReason;
  /** Forced only: restored as a sticky claim that release() ends (the holders are gone). */
  readonly forcedNote: string;
  readonly forcedUntilRemainingMs: number | null;
}

/**
 * B9 restore rules: OPEN keeps its remaining time minus the wall time that passed (capped, so a
 * corrupt value cannot open a breaker for a week); HALF_OPEN comes back as OPEN with 0 ms left so
 * the next call probes; FORCED_OPEN stays forced and releasable (hold handles cannot survive a
 * restart, so they become one sticky claim); counts and ages shift by the elapsed wall time.
 */
export function planRestore(
  snapshot: BreakerSnapshot,
  elapsedWallMs: number,
  config: BreakerConfig,
): RestorePlan {
  const elapsed = Math.max(0, elapsedWallMs);
  const base = {
    attempt: snapshot.attempt,
    stateAgeMs: snapshot.stateAgeMs + elapsed,
    consecutive: snapshot.consecutive,
    streakAgeMs: snapshot.streakAgeMs === null ? null : snapshot.streakAgeMs + elapsed,
    buckets: snapshot.window.buckets.map((b) => ({ ...b, ageMs: b.ageMs + elapsed })),
    openRemainingMs: 0,
    openReason: 'restore' as TransitionReason,
    forcedNote: '',
    forcedUntilRemainingMs: null,
  };
  switch (snapshot.state) {
    case 'closed':
    case 'metrics_only':
    case 'disabled':
      return { ...base, kind: snapshot.state };
    case 'half_open':
      return { ...base, kind: 'open', stateAgeMs: 0 };
    case 'open': {
      const open = snapshot.open ?? { remainingMs: 0, reason: 'restore' };
      const cap =
        open.reason === 'manual'
          ? Number.POSITIVE_INFINITY
          : Math.max(config.recoveryBackoff.maxMs, config.maxRetryAfterMs);
      return {
        ...base,
        kind: 'open',
        openRemainingMs: Math.min(cap, Math.max(0, open.remainingMs - elapsed)),
        openReason: open.reason,
      };
    }
    case 'forced_open': {
      const forced = snapshot.forced ?? {
        note: '',
        holds: 0,
        sticky: true,
        untilRemainingMs: null,
      };
      const until =
        forced.holds > 0 || forced.untilRemainingMs === null
          ? null
          : Math.max(0, forced.untilRemainingMs - elapsed);
      return {
        ...base,
        kind: 'forced_open',
        forcedNote: forced.note,
        forcedUntilRemainingMs: until,
      };
    }
  }
}

/** Validates an untrusted snapshot (from disk or another process) and returns it typed. */
export function parseBreakerSnapshot(value: unknown): BreakerSnapshot {
  const s = obj(value, 'snapshot');
  if (s.v !== BREAKER_SNAPSHOT_VERSION) {
    bad('snapshot.v', `must be ${BREAKER_SNAPSHOT_VERSION}`, s.v);
  }
  if (typeof s.key !== 'string') bad('snapshot.key', 'must be a string', s.key);
  const state = s.state;
  if (typeof state !== 'string' || !(BREAKER_STATE_KINDS as readonly string[]).includes(state)) {
    bad('snapshot.state', `must be one of ${BREAKER_STATE_KINDS.join(', ')}`, state);
  }
  nonNegative(s, 'epoch', 'snapshot', true);
  nonNegative(s, 'attempt', 'snapshot', true);
  finiteNumber(s, 'savedAtWallMs', 'snapshot');
  nonNegative(s, 'stateAgeMs', 'snapshot');
  nonNegative(s, 'consecutive', 'snapshot', true);
  if (s.streakAgeMs !== null) nonNegative(s, 'streakAgeMs', 'snapshot');
  const window = obj(s.window, 'snapshot.window');
  nonNegative(window, 'windowMs', 'snapshot.window');
  nonNegative(window, 'bucketMs', 'snapshot.window');
  const buckets = window.buckets;
  if (!Array.isArray(buckets)) bad('snapshot.window.buckets', 'must be an array', buckets);
  (buckets as unknown[]).forEach((b, i) => {
    const path = `snapshot.window.buckets[${i}]`;
    const bucket = obj(b, path);
    nonNegative(bucket, 'ageMs', path);
    nonNegative(bucket, 'calls', path, true);
    nonNegative(bucket, 'failures', path, true);
    nonNegative(bucket, 'slow', path, true);
  });
  if (s.open !== null) {
    const open = obj(s.open, 'snapshot.open');
    nonNegative(open, 'remainingMs', 'snapshot.open');
    if (typeof open.reason !== 'string') {
      bad('snapshot.open.reason', 'must be a string', open.reason);
    }
  }
  if (s.forced !== null) {
    const forced = obj(s.forced, 'snapshot.forced');
    if (typeof forced.note !== 'string') {
      bad('snapshot.forced.note', 'must be a string', forced.note);
    }
    nonNegative(forced, 'holds', 'snapshot.forced', true);
    if (typeof forced.sticky !== 'boolean') {
      bad('snapshot.forced.sticky', 'must be a boolean', forced.sticky);
    }
    if (forced.untilRemainingMs !== null) {
      nonNegative(forced, 'untilRemainingMs', 'snapshot.forced');
    }
  }
  return value as BreakerSnapshot;
}

function obj(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    bad(path, 'must be an object', value);
  }
  return value as Record<string, unknown>;
}

function finiteNumber(o: Record<string, unknown>, name: string, parent: string): number {
  const value = o[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    bad(`${parent}.${name}`, 'must be a finite number', value);
  }
  return value;
}

function nonNegative(o: Record<string, unknown>, name: string, parent: string, int = false): void {
  const value = finiteNumber(o, name, parent);
  if (value < 0 || (int && !Number.isSafeInteger(value))) {
    bad(`${parent}.${name}`, int ? 'must be an integer >= 0' : 'must be >= 0', value);
  }
}

function bad(path: string, rule: string, value: unknown): never {
  throw new BreakerSnapshotError(`${path} ${rule}, got ${describeValue(value)}`);
}
