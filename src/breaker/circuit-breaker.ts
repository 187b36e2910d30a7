import { systemClock, type Clock } from '../shared/clock.ts';
import type { BreakerConfig } from './breaker-config.ts';
import { describeValue, validateBreakerConfig } from './breaker-config-validation.ts';
import { DEFAULT_BREAKER_CONFIG } from './breaker-defaults.ts';
import { BreakerCounters, type BreakerStats } from './breaker-counters.ts';
import { BreakerEvents } from './breaker-events.ts';
import {
  parseBreakerSnapshot,
  planRestore,
  BREAKER_SNAPSHOT_VERSION,
  type BreakerSnapshot,
  type RestorePlan,
} from './breaker-snapshot.ts';
import {
  closedState,
  sharedTicket,
  type BreakerState,
  type BreakerStateKind,
  type ClosedState,
  type HalfOpenState,
  type OpenState,
  type TransitionReason,
} from './breaker-state.ts';
import type {
  OutcomeClass,
  Outcome,
  Rejection,
  RejectionReason,
  Ticket,
} from './breaker-ticket.ts';
import { BreakerConfigError, BreakerSnapshotError, IllegalTransitionError } from './errors.ts';
import {
  forcedOpenState,
  forcedRetryAfterMs,
  holdHandle,
  lapsedAtMs,
  parseForceOpenOptions,
  withClaim,
  withoutHold,
  type ForcedClaim,
  type ForceOpenOptions,
  type HoldHandle,
} from './forced-claims.ts';
import { HalfOpenTrial, type TrialVerdict } from './half-open-trial.ts';
import { openDurationMs, type RandomSource } from './open-duration.ts';
import { RollingWindow } from './rolling-window.ts';
import { rateOrNaN, TripRules, type TripRule } from './trip-rules.ts';

/** How to build one breaker; everything is optional except in tests that need control. */
export interface CircuitBreakerOptions {
  /** Key shown in events, tickets and snapshots (default "default"). */
  readonly key?: string;
  /** Resolved settings (default DEFAULT_BREAKER_CONFIG); validated on construction. */
  readonly config?: BreakerConfig;
  /** Time source: monotonic nowMs for all durations, wallMs only for timestamps. */
  readonly clock?: Clock;
  /** Random source for jitter, in [0, 1) (default Math.random). */
  readonly random?: RandomSource;
  /** Event hub to publish to (a registry shares one across its breakers). */
  readonly events?: BreakerEvents;
}

/** Effective state plus the numbers that metrics, health and status read. */
export interface BreakerStatus {
  readonly key: string;
  /** Effective state: an open breaker past its deadline reads as half_open. */
  readonly state: BreakerStateKind;
  /** True when the effective state differs from the stored one until the next admission. */
  readonly pendingTransition: boolean;
  readonly epoch: number;
  /** Backoff attempt (0 once a closed breaker has been calm for attemptResetAfterMs). */
  readonly attempt: number;
  /** Monotonic deadline of an open state, else null. */
  readonly openUntilMs: number | null;
  /** Time left in an open state (0 otherwise or when due). */
  readonly openRemainingMs: number;
  /** Current consecutive-failure streak (0 once the streak has aged out of the window). */
  readonly consecutive: number;
  /** Consecutive threshold in force (adaptive tiers applied; 0 = off). */
  readonly failureThreshold: number;
  readonly windowCalls: number;
  readonly windowFailures: number;
  readonly windowSuccesses: number;
  readonly windowSlow: number;
  /** failures / calls in the window; NaN below the failure-rate minimum (or with no calls). */
  readonly failureRate: number;
  /** slow / calls in the window; NaN below the slow-call minimum (or with no calls). */
  readonly slowCallRate: number;
  readonly probesInFlight: number;
  readonly probeSuccesses: number;
  readonly probeFailures: number;
  /** Operator claims while forced_open, else null. */
  readonly forced: {
    readonly note: string;
    readonly holds: number;
    readonly untilMs: number | null;
  } | null;
}

/** Arguments of the outcome being applied, in one object each breaker reuses (closed path: 0 B). */
interface OutcomeReport {
  cls: OutcomeClass;
  durationMs: number;
  retryAfterMs: number;
  soft: boolean;
}

/**
 * The circuit breaker of one key: a synchronous state machine with no timers and no I/O.
 *
 * Admission and permit are one synchronous step (tryAcquire), so probe counts are exact on the
 * event loop. Outcomes come back against the ticket; an outcome from another epoch is late and
 * never decides a transition. Deadlines (open period, probe leases, half-open max duration,
 * forced expiry) are evaluated lazily on the next call into the breaker, at the time they fell
 * due. The closed path of tryAcquire + recordSuccess allocates nothing.
 *
 * Config updates (updateConfig): state, epoch, attempt, streak, window counts and probe tally are
 * kept; new thresholds apply from the next outcome (nothing is re-evaluated on update, so a reload
 * alone never trips); an open period keeps its deadline and probe leases their expiry, the next
 * open period and lease use the new values; a changed window geometry re-buckets the counts by age.
 *
 * Its parts: HalfOpenTrial runs a half-open period (probe limit, leases, verdict; B5),
 * forced-claims.ts the operator's forced-open claims (B6), BreakerCounters the counters (B8),
 * RollingWindow and TripRules the closed-state rules (B3). Every state operation runs through
 * BreakerEvents.batch, so its events are delivered after it has committed (B7).
 */
export class CircuitBreaker {
  /** Key shown in events, tickets and snapshots. */
  readonly key: string;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #trial = new HalfOpenTrial();
  readonly #counters = new BreakerCounters();
  #events: BreakerEvents;
  #config: BreakerConfig;
  #rules: TripRules;
  #window: RollingWindow;
  #slowAboveMs: number;
  #state: BreakerState;
  #consecutive = 0;
  #streakStartMs = 0;
  /** METRICS_ONLY: bit i set while rule i is above its threshold (event once per crossing). */
  #exceeded = 0;
  readonly #report: OutcomeReport = { cls: 'success', durationMs: 0, retryAfterMs: 0, soft: false };

  constructor(options: CircuitBreakerOptions = {}) {
    // Options may come from untyped callers; check them here once, then trust the types.
    const key: unknown = options.key ?? 'default';
    if (typeof key !== 'string' || key === '') {
      throw new BreakerConfigError(`key must be a non-empty string, got ${describeValue(key)}`);
    }
    const random: unknown = options.random ?? Math.random;
    if (typeof random !== 'function') {
      throw new BreakerConfigError(`random must be a function, got ${describeValue(random)}`);
    }
    const clock: Partial<Clock> = options.clock ?? systemClock;
    if (typeof clock.nowMs !== 'function' || typeof clock.wallMs !== 'function') {
      throw new BreakerConfigError('clock must have nowMs() and wallMs()');
    }
    const config = validateBreakerConfig(options.config ?? DEFAULT_BREAKER_CONFIG);
    this.key = key;
    this.#clock = clock as Clock;
    this.#random = random as RandomSource;
    this.#events = options.events ?? new BreakerEvents();
    this.#config = config;
    this.#rules = new TripRules(config);
    this.#window = new RollingWindow(config.windowMs, config.windowBuckets);
    this.#slowAboveMs = config.slowCall?.durationMs ?? Number.POSITIVE_INFINITY;
    this.#state = closedState(key, 1, 0, this.#clock.nowMs());
  }

  /** Event hub this breaker publishes to. */
  get events(): BreakerEvents {
    return this.#events;
  }

  /** Settings in force. */
  get config(): BreakerConfig {
    return this.#config;
  }

  /**
   * Admission and permit in one synchronous step: a Ticket to call the upstream with, or a
   * Rejection to send the caller to its fallback now (never queued). Closed, metrics-only and
   * disabled breakers return their shared frozen ticket without reading the clock.
   */
  tryAcquire(): Ticket | Rejection {
    const state = this.#state;
    if (state.kind === 'closed' || state.kind === 'metrics_only' || state.kind === 'disabled') {
      return state.ticket;
    }
    return this.#events.batch(this, this.#acquireSlow);
  }

  /** Reports a success (2xx, or a 4xx that is the caller's fault); durationMs feeds the slow rule. */
  recordSuccess(ticket: Ticket, durationMs = 0): void {
    this.#settle(ticket, 'success', durationMs, 0, false);
  }

  /**
   * Reports a failure. retryAfterMs (upstream Retry-After, clamped) extends the open period if
   * this outcome opens the breaker; soft marks a 429-style failure that leaves the streak alone.
   */
  recordFailure(ticket: Ticket, durationMs = 0, retryAfterMs = 0, soft = false): void {
    this.#settle(ticket, 'failure', durationMs, retryAfterMs, soft);
  }

  /** Reports a call that must not count (client went away): releases a probe permit, nothing else. */
  recordIgnored(ticket: Ticket): void {
    this.#settle(ticket, 'ignored', 0, 0, false);
  }

  /** Object form of the three record methods. */
  record(ticket: Ticket, outcome: Outcome): void {
    this.#settle(
      ticket,
      outcome.class,
      outcome.durationMs ?? 0,
      outcome.retryAfterMs ?? 0,
      outcome.soft ?? false,
    );
  }

  /**
   * The effective state and counters. Deadlines that already fell due (probe lease, half-open
   * max duration, forced expiry) are applied first, as a timer would have; the OPEN -> HALF_OPEN
   * move is never made here (it needs a caller to admit as the probe) and reads as half_open with
   * pendingTransition: true.
   */
  getState(): BreakerStatus {
    return this.#events.batch(this, this.#getState);
  }

  #getState(): BreakerStatus {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    const config = this.#config;
    const window = this.#window;
    const calls = window.calls(now);
    const failures = window.failures(now);
    const slow = window.slow(now);
    const pending = state.kind === 'open' && now >= state.openUntilMs;
    return {
      key: this.key,
      state: pending ? 'half_open' : state.kind,
      pendingTransition: pending,
      epoch: state.epoch,
      attempt: this.#effectiveAttempt(state, now),
      openUntilMs: state.kind === 'open' ? state.openUntilMs : null,
      openRemainingMs: state.kind === 'open' ? Math.max(0, state.openUntilMs - now) : 0,
      consecutive: this.#effectiveConsecutive(now),
      failureThreshold: this.#rules.consecutive.threshold(calls),
      windowCalls: calls,
      windowFailures: failures,
      windowSuccesses: calls - failures,
      windowSlow: slow,
      failureRate: rateOrNaN(failures, calls, config.failureRate?.minimumRequests ?? 1),
      slowCallRate: rateOrNaN(slow, calls, config.slowCall?.minimumRequests ?? 1),
      probesInFlight: state.kind === 'half_open' ? this.#trial.inFlight : 0,
      probeSuccesses: state.kind === 'half_open' ? this.#trial.successes : 0,
      probeFailures: state.kind === 'half_open' ? this.#trial.failures : 0,
      forced:
        state.kind === 'forced_open'
          ? { note: state.note, holds: state.holds, untilMs: state.untilMs }
          : null,
    };
  }

  /** Counters since construction for metrics (independent of event listeners). */
  stats(): BreakerStats {
    return this.#counters.stats();
  }

  /**
   * Operator isolation: FORCED_OPEN rejects everything and never half-opens by itself. With
   * `hold: true` it returns a ref-counted handle (the state lasts until every handle is
   * released); without, the claim lasts until release()/reset() or `untilMs`. Forcing an
   * already-forced breaker only adds the claim and emits nothing. Probes in flight become late.
   */
  forceOpen(options: ForceOpenOptions & { readonly hold: true }): HoldHandle;
  forceOpen(options?: ForceOpenOptions): void;
  forceOpen(options: ForceOpenOptions = {}): HoldHandle | undefined {
    return this.#events.batch(this, this.#forceOpen, parseForceOpenOptions(options));
  }

  #forceOpen(claim: ForcedClaim): HoldHandle | undefined {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    let epoch: number;
    if (state.kind === 'forced_open') {
      // Forcing a forced breaker only adds the claim: same epoch, no event (B6).
      epoch = state.epoch;
      this.#state = withClaim(state, claim);
    } else {
      epoch = state.epoch + 1;
      this.#trial.reset();
      this.#commit(forcedOpenState(epoch, state.attempt, now, claim), 'force_open', claim.note);
    }
    if (!claim.hold) return undefined;
    return holdHandle(() => {
      this.#events.batch(this, this.#releaseHold, epoch);
    });
  }

  /** Force-closed (METRICS_ONLY): never rejects, records, reports threshold crossings once each. */
  forceClosed(): void {
    this.#events.batch(this, this.#enterPassThrough, 'metrics_only', 'force_closed');
  }

  /** DISABLED: pure pass-through that records nothing. */
  disable(): void {
    this.#events.batch(this, this.#enterPassThrough, 'disabled', 'disable');
  }

  /**
   * Ends an operator state (forced_open, metrics_only, disabled): CLOSED with a fresh window,
   * attempt 0, and a reset event. Without an operator state there is nothing to release: no-op.
   */
  release(): void {
    this.#events.batch(this, this.#release);
  }

  #release(): void {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const kind = this.#state.kind;
    if (kind !== 'forced_open' && kind !== 'metrics_only' && kind !== 'disabled') return;
    this.#enterClosed(now, 0, 'release');
    this.#publishReset('release');
  }

  /**
   * CLOSED from any state with a fresh window and attempt 0. The epoch moves on, so every ticket,
   * probe lease and pending deadline of before is void: late outcomes decide nothing and no
   * old timer can fire (resilience4j #1039).
   */
  reset(): void {
    this.#events.batch(this, this.#reset);
  }

  #reset(): void {
    this.#enterClosed(this.#clock.nowMs(), 0, 'reset');
    this.#publishReset('reset');
  }

  /**
   * Manual OPEN/FORCED_OPEN -> HALF_OPEN (let probes through now). From closed, metrics_only or
   * disabled it throws AICB_ILLEGAL_TRANSITION; already half-open is a no-op.
   */
  halfOpen(): void {
    this.#events.batch(this, this.#halfOpen);
  }

  #halfOpen(): void {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    switch (state.kind) {
      case 'half_open':
        return;
      case 'open':
      case 'forced_open':
        this.#enterHalfOpen(now, state.attempt, 'manual');
        return;
      case 'closed':
      case 'metrics_only':
      case 'disabled':
        throw new IllegalTransitionError(this.key, state.kind, 'half_open');
    }
  }

  /** Opens for an explicit duration (e.g. fleet-shared open); see openUntil. */
  openFor(durationMs: number): void {
    if (!(durationMs >= 0) || durationMs === Number.POSITIVE_INFINITY) {
      throw new BreakerConfigError(
        `openFor: durationMs must be a finite number >= 0, got ${describeValue(durationMs)}`,
      );
    }
    this.#events.batch(this, this.#openUntil, this.#clock.nowMs() + durationMs);
  }

  /**
   * Opens until a monotonic deadline with the attempt unchanged. While already open it only
   * replaces the deadline (no event). Operator states win: from forced_open, metrics_only or
   * disabled it throws AICB_ILLEGAL_TRANSITION.
   */
  openUntil(deadlineMs: number): void {
    if (!Number.isFinite(deadlineMs)) {
      throw new BreakerConfigError(
        `openUntil: deadlineMs must be a finite number, got ${describeValue(deadlineMs)}`,
      );
    }
    this.#events.batch(this, this.#openUntil, deadlineMs);
  }

  /** Applies a new config without changing state (rule in the class comment). */
  updateConfig(config: BreakerConfig): void {
    validateBreakerConfig(config);
    const now = this.#clock.nowMs();
    const old = this.#config;
    if (config.windowMs !== old.windowMs || config.windowBuckets !== old.windowBuckets) {
      const next = new RollingWindow(config.windowMs, config.windowBuckets);
      for (const bucket of this.#window.buckets(now)) next.addAged(now, bucket);
      this.#window = next;
    }
    this.#config = config;
    this.#rules = new TripRules(config);
    this.#slowAboveMs = config.slowCall?.durationMs ?? Number.POSITIVE_INFINITY;
    this.#exceeded = 0;
  }

  /** Persistable state (B9): relative durations plus the wall-clock time of the snapshot. */
  snapshot(): BreakerSnapshot {
    return this.#events.batch(this, this.#snapshot);
  }

  #snapshot(): BreakerSnapshot {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    const consecutive = this.#effectiveConsecutive(now);
    return {
      v: BREAKER_SNAPSHOT_VERSION,
      key: this.key,
      state: state.kind,
      epoch: state.epoch,
      attempt: state.attempt,
      savedAtWallMs: this.#clock.wallMs(),
      stateAgeMs: Math.max(0, now - state.enteredAtMs),
      consecutive,
      streakAgeMs: consecutive > 0 ? Math.max(0, now - this.#streakStartMs) : null,
      window: {
        windowMs: this.#window.windowMs,
        bucketMs: this.#window.bucketMs,
        buckets: this.#window.buckets(now),
      },
      open:
        state.kind === 'open'
          ? { remainingMs: Math.max(0, state.openUntilMs - now), reason: state.reason }
          : null,
      forced:
        state.kind === 'forced_open'
          ? {
              note: state.note,
              holds: state.holds,
              sticky: state.sticky,
              untilRemainingMs: state.untilMs === null ? null : Math.max(0, state.untilMs - now),
            }
          : null,
    };
  }

  /**
   * Replaces the state with a snapshot taken by this key (possibly in another process), applying
   * B9's rules with the wall time elapsed since it was saved. Tickets issued before are void.
   */
  restore(value: unknown): void {
    const snapshot = parseBreakerSnapshot(value);
    if (snapshot.key !== this.key) {
      throw new BreakerSnapshotError(
        `snapshot.key must be ${describeValue(this.key)}, got ${describeValue(snapshot.key)}`,
      );
    }
    const plan = planRestore(snapshot, this.#clock.wallMs() - snapshot.savedAtWallMs, this.#config);
    this.#events.batch(this, this.#restore, snapshot.epoch, plan);
  }

  #restore(savedEpoch: number, plan: RestorePlan): void {
    const now = this.#clock.nowMs();
    const epoch = Math.max(this.#state.epoch, savedEpoch) + 1;
    const enteredAtMs = now - plan.stateAgeMs;
    this.#trial.reset();
    this.#exceeded = 0;
    this.#window.clear();
    if (plan.kind !== 'disabled') {
      for (const bucket of plan.buckets) this.#window.addAged(now, bucket);
    }
    this.#consecutive = plan.kind === 'disabled' ? 0 : plan.consecutive;
    this.#streakStartMs = now - (plan.streakAgeMs ?? 0);
    const base = { epoch, attempt: plan.attempt, enteredAtMs };
    let next: BreakerState;
    switch (plan.kind) {
      case 'closed':
        next = closedState(this.key, epoch, plan.attempt, enteredAtMs);
        break;
      case 'metrics_only':
      case 'disabled':
        next = Object.freeze({
          ...base,
          kind: plan.kind,
          ticket: sharedTicket(this.key, epoch, plan.kind),
        });
        break;
      case 'open':
        next = Object.freeze({
          ...base,
          kind: 'open',
          openUntilMs: now + plan.openRemainingMs,
          reason: plan.openReason,
        });
        break;
      case 'forced_open':
        // Hold handles do not outlive the process: the forced state comes back as one sticky
        // claim, still releasable (B9).
        next = forcedOpenState(epoch, plan.attempt, enteredAtMs, {
          note: plan.forcedNote,
          untilMs: plan.forcedUntilRemainingMs === null ? null : now + plan.forcedUntilRemainingMs,
          hold: false,
        });
        break;
    }
    this.#commit(next, 'restore');
  }

  /**
   * True when dropping this breaker loses nothing worth keeping: DISABLED, or CLOSED with an
   * empty window and no live streak. OPEN, HALF_OPEN, FORCED_OPEN and METRICS_ONLY never are.
   * Applies due deadlines first (the registry's sweep relies on that).
   */
  isEvictable(): boolean {
    return this.#events.batch(this, this.#isEvictable);
  }

  #isEvictable(): boolean {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const kind = this.#state.kind;
    if (kind === 'disabled') return true;
    return (
      kind === 'closed' && this.#window.calls(now) === 0 && this.#effectiveConsecutive(now) === 0
    );
  }

  /**
   * Stops publishing to the shared hub (the registry calls it on eviction), so an outcome that
   * straggles in after eviction cannot resurrect the key's metric series.
   */
  detach(): void {
    this.#events = new BreakerEvents();
  }

  /** Window internals for the memory tests: slots held, constant for the breaker's life. */
  get windowSlotCount(): number {
    return this.#window.slotCount;
  }

  #acquireSlow(): Ticket | Rejection {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    switch (state.kind) {
      case 'closed':
      case 'metrics_only':
      case 'disabled':
        return state.ticket;
      case 'open':
        if (now >= state.openUntilMs) {
          this.#enterHalfOpen(now, state.attempt, 'open_elapsed');
          return this.#admitProbe(now);
        }
        return this.#reject('open', state.openUntilMs - now, state.epoch);
      case 'half_open':
        if (this.#trial.mayAdmit(this.#config)) return this.#admitProbe(now);
        return this.#reject('half_open_busy', this.#trial.busyRetryAfterMs(now), state.epoch);
      case 'forced_open':
        return this.#reject(
          'forced_open',
          forcedRetryAfterMs(state, now, this.#config.recoveryTimeoutMs),
          state.epoch,
        );
    }
  }

  #admitProbe(now: number): Ticket {
    const expiresAtMs = now + this.#config.probeTimeoutMs;
    const ticket: Ticket = Object.freeze({
      admitted: true,
      key: this.key,
      epoch: this.#state.epoch,
      state: 'half_open',
      isProbe: true,
      leaseExpiresAtMs: expiresAtMs,
    });
    this.#trial.admit(ticket, now, expiresAtMs);
    return ticket;
  }

  #reject(reason: RejectionReason, retryAfterMs: number, epoch: number): Rejection {
    this.#counters.rejection(reason);
    const events = this.#events;
    if (events.has('rejected')) {
      events.publish('rejected', { key: this.key, reason, retryAfterMs, epoch });
    }
    return { admitted: false, key: this.key, reason, retryAfterMs };
  }

  #settle(
    ticket: Ticket,
    cls: OutcomeClass,
    durationMs: number,
    retryAfterMs: number,
    soft: boolean,
  ): void {
    const report = this.#report;
    report.cls = cls;
    report.durationMs = durationMs;
    report.retryAfterMs = retryAfterMs;
    report.soft = soft;
    this.#events.batch(this, this.#applyOutcome, ticket, report);
  }

  #applyOutcome(ticket: Ticket, report: OutcomeReport): void {
    const { cls, durationMs, retryAfterMs, soft } = report;
    const events = this.#events;
    const now = this.#clock.nowMs();
    if (this.#state.kind === 'half_open') this.#settleDeadlines(now);
    const state = this.#state;
    let late = ticket.epoch !== state.epoch;
    if (!late && state.kind === 'disabled') return;
    if (!late && state.kind === 'half_open') {
      late = !ticket.isProbe || !this.#trial.release(ticket);
    }
    const failed = cls === 'failure';
    const slow = cls !== 'ignored' && durationMs > this.#slowAboveMs;
    this.#counters.outcome(cls, slow, late);
    if (events.has('outcome')) {
      events.publish('outcome', {
        key: this.key,
        class: cls,
        soft: failed && soft,
        slow,
        late,
        isProbe: ticket.isProbe,
        durationMs,
        epoch: ticket.epoch,
      });
    }
    if (late) return;
    switch (state.kind) {
      case 'closed':
        if (cls !== 'ignored') this.#recordClosed(state, now, failed, slow, soft, retryAfterMs);
        return;
      case 'metrics_only':
        if (cls !== 'ignored') this.#recordMetricsOnly(now, failed, slow, soft);
        return;
      case 'half_open':
        if (cls !== 'ignored') {
          const verdict = this.#trial.record(failed, now, this.#config);
          if (verdict !== 'continue') {
            this.#decide(
              verdict,
              now,
              verdict === 'close' ? 'probe_success' : 'probe_failure',
              retryAfterMs,
            );
            return;
          }
        }
        this.#checkHalfOpenDeadline(now);
        return;
      case 'open':
      case 'forced_open':
      case 'disabled':
        return;
    }
  }

  /** Window + streak bookkeeping shared by CLOSED and METRICS_ONLY. */
  #feed(now: number, failed: boolean, slow: boolean, soft: boolean): void {
    this.#window.add(now, failed, slow);
    if (!failed) {
      this.#consecutive = 0;
    } else if (!soft) {
      if (this.#consecutive === 0 || now - this.#streakStartMs >= this.#config.windowMs) {
        this.#consecutive = 1;
        this.#streakStartMs = now;
      } else {
        this.#consecutive++;
      }
    }
  }

  #recordClosed(
    state: ClosedState,
    now: number,
    failed: boolean,
    slow: boolean,
    soft: boolean,
    retryAfterMs: number,
  ): void {
    this.#feed(now, failed, slow, soft);
    const rules = this.#rules;
    // On a success with only the consecutive rule there is nothing that could fire.
    if (!failed && rules.all.length === 1) return;
    const window = this.#window;
    const calls = window.calls(now);
    const failures = window.failures(now);
    const slowCount = window.slow(now);
    const rule = rules.firing(this.#consecutive, calls, failures, slowCount);
    if (rule === undefined) return;
    this.#publishThreshold(rule, calls, failures, slowCount, false);
    const config = this.#config;
    const calm = now - state.enteredAtMs >= config.attemptResetAfterMs;
    const attempt = (calm ? 0 : state.attempt) + 1;
    this.#enterOpen(
      now,
      attempt,
      openDurationMs(config, attempt, retryAfterMs, this.#random),
      rule.reason,
    );
  }

  #recordMetricsOnly(now: number, failed: boolean, slow: boolean, soft: boolean): void {
    this.#feed(now, failed, slow, soft);
    const window = this.#window;
    const calls = window.calls(now);
    const failures = window.failures(now);
    const slowCount = window.slow(now);
    const rules = this.#rules.all;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule === undefined) continue;
      const bit = 1 << i;
      if (rule.fires(this.#consecutive, calls, failures, slowCount)) {
        if ((this.#exceeded & bit) === 0) {
          this.#exceeded |= bit;
          this.#publishThreshold(rule, calls, failures, slowCount, true);
        }
      } else {
        this.#exceeded &= ~bit;
      }
    }
  }

  #publishThreshold(
    rule: TripRule,
    calls: number,
    failures: number,
    slow: number,
    metricsOnly: boolean,
  ): void {
    const events = this.#events;
    if (!events.has('thresholdExceeded')) return;
    events.publish('thresholdExceeded', {
      key: this.key,
      kind: rule.reason,
      value: rule.value(this.#consecutive, calls, failures, slow),
      threshold: rule.threshold(calls),
      metricsOnly,
    });
  }

  /** Applies deadlines that fell due: probe leases and half-open max duration, forced expiry. */
  #settleDeadlines(now: number): void {
    const state = this.#state;
    if (state.kind === 'half_open') {
      const trial = this.#trial;
      for (;;) {
        const expired = trial.takeExpired(now);
        if (expired === null) break;
        this.#counters.probeTimeout();
        const events = this.#events;
        if (events.has('probeTimeout')) {
          events.publish('probeTimeout', {
            key: this.key,
            epoch: state.epoch,
            leaseMs: expired.leaseMs,
          });
        }
        const verdict = trial.record(true, expired.expiresAtMs, this.#config);
        if (verdict !== 'continue') {
          const reason = verdict === 'close' ? 'probe_success' : 'probe_timeout';
          this.#decide(verdict, expired.expiresAtMs, reason, 0);
          return;
        }
      }
      this.#checkHalfOpenDeadline(now);
    } else if (state.kind === 'forced_open') {
      const lapsedAt = lapsedAtMs(state, now);
      if (lapsedAt !== null) {
        this.#enterClosed(lapsedAt, 0, 'force_expired');
        this.#publishReset('force_expired');
      }
    }
  }

  #checkHalfOpenDeadline(now: number): void {
    const state = this.#state;
    const maxMs = this.#config.halfOpenMaxDurationMs;
    if (state.kind !== 'half_open' || maxMs <= 0) return;
    const deadline = state.enteredAtMs + maxMs;
    if (now < deadline) return;
    const verdict = this.#trial.deadlineVerdict();
    if (verdict === 'continue') return;
    this.#decide(verdict, Math.max(deadline, this.#trial.lastOutcomeAtMs), 'half_open_deadline', 0);
  }

  /** Leaves HALF_OPEN as the trial says: close keeps the attempt, reopen escalates it. */
  #decide(
    verdict: TrialVerdict,
    atMs: number,
    reason: TransitionReason,
    retryAfterMs: number,
  ): void {
    const state = this.#state as HalfOpenState;
    if (verdict === 'close') {
      this.#enterClosed(atMs, state.attempt, reason);
    } else if (verdict === 'reopen') {
      const attempt = state.attempt + 1;
      const durationMs = openDurationMs(this.#config, attempt, retryAfterMs, this.#random);
      this.#enterOpen(atMs, attempt, durationMs, reason);
    }
  }

  #enterClosed(atMs: number, attempt: number, reason: TransitionReason): void {
    this.#window.clear();
    this.#consecutive = 0;
    this.#exceeded = 0;
    this.#trial.reset();
    this.#commit(closedState(this.key, this.#state.epoch + 1, attempt, atMs), reason);
  }

  /** The window and streak stay readable (frozen) while open; closing starts them afresh. */
  #enterOpen(atMs: number, attempt: number, durationMs: number, reason: TransitionReason): void {
    this.#trial.reset();
    const next: OpenState = Object.freeze({
      kind: 'open',
      epoch: this.#state.epoch + 1,
      attempt,
      enteredAtMs: atMs,
      openUntilMs: atMs + durationMs,
      reason,
    });
    this.#commit(next, reason);
  }

  #enterHalfOpen(now: number, attempt: number, reason: TransitionReason): void {
    this.#trial.reset();
    const next: HalfOpenState = Object.freeze({
      kind: 'half_open',
      epoch: this.#state.epoch + 1,
      attempt,
      enteredAtMs: now,
    });
    this.#commit(next, reason);
  }

  #enterPassThrough(kind: 'metrics_only' | 'disabled', reason: TransitionReason): void {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    if (state.kind === kind) return;
    const epoch = state.epoch + 1;
    this.#window.clear();
    this.#consecutive = 0;
    this.#exceeded = 0;
    this.#trial.reset();
    this.#commit(
      Object.freeze({
        kind,
        epoch,
        attempt: state.attempt,
        enteredAtMs: now,
        ticket: sharedTicket(this.key, epoch, kind),
      }),
      reason,
    );
  }

  #openUntil(deadlineMs: number): void {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    switch (state.kind) {
      case 'open':
        this.#state = Object.freeze({ ...state, openUntilMs: deadlineMs, reason: 'manual' });
        return;
      case 'closed':
      case 'half_open':
        this.#enterOpen(now, state.attempt, Math.max(0, deadlineMs - now), 'manual');
        return;
      case 'forced_open':
      case 'metrics_only':
      case 'disabled':
        throw new IllegalTransitionError(this.key, state.kind, 'open');
    }
  }

  /** Commits the new state object, then counts and announces the transition if the kind changed. */
  #commit(next: BreakerState, reason: TransitionReason, note?: string): void {
    const from = this.#state;
    this.#state = next;
    if (from.kind === next.kind) return;
    this.#counters.transition(from.kind, next.kind);
    const events = this.#events;
    if (!events.has('stateChange')) return;
    const event = {
      key: this.key,
      from: from.kind,
      to: next.kind,
      reason,
      epoch: next.epoch,
      attempt: next.attempt,
      atWallMs: this.#clock.wallMs(),
    };
    if (next.kind === 'open') {
      events.publish('stateChange', {
        ...event,
        openUntilMs: next.openUntilMs,
        openForMs: next.openUntilMs - next.enteredAtMs,
      });
    } else if (note !== undefined) {
      events.publish('stateChange', { ...event, note });
    } else {
      events.publish('stateChange', event);
    }
  }

  #publishReset(reason: 'reset' | 'release' | 'force_expired'): void {
    const events = this.#events;
    if (events.has('reset')) events.publish('reset', { key: this.key, reason });
  }

  #releaseHold(epoch: number): void {
    const now = this.#clock.nowMs();
    this.#settleDeadlines(now);
    const state = this.#state;
    // A hold from an earlier forced period (released or reset since) has nothing to drop.
    if (state.kind !== 'forced_open' || state.epoch !== epoch) return;
    const next = withoutHold(state, now);
    if (next !== null) {
      this.#state = next;
      return;
    }
    this.#enterClosed(now, 0, 'release');
    this.#publishReset('release');
  }

  #effectiveAttempt(state: BreakerState, now: number): number {
    if (state.kind === 'closed' && now - state.enteredAtMs >= this.#config.attemptResetAfterMs) {
      return 0;
    }
    return state.attempt;
  }

  #effectiveConsecutive(now: number): number {
    if (this.#consecutive === 0) return 0;
    return now - this.#streakStartMs >= this.#config.windowMs ? 0 : this.#consecutive;
  }
}
