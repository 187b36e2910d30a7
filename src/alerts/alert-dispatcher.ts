/**
 * Delivers alerts to every configured receiver in the background. The caller (a breaker event
 * listener in the sidecar, the aggregating controller) only calls `enqueue`, which is O(1),
 * synchronous and never throws: alerting must never slow down or break the request path. Each
 * target has its own bounded queue, concurrency bound and per-request timeout, so a receiver
 * that is dead or hangs costs a counter and a log line, and never delays the other receivers.
 */
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { Emitter, type Listener } from '../shared/emitter.ts';
import {
  ALERT_EVENT_KINDS,
  alertDedupKey,
  type AlertEvent,
  type AlertEventKind,
} from './alert-event.ts';
import type {
  AlertDelivery,
  AlertNotifier,
  DeliveryError,
  DeliveryOutcome,
} from './alert-notifier.ts';
import {
  ALERT_TARGET_KINDS,
  fingerprintUrl,
  type AlertTarget,
  type AlertTargetKind,
  type AlertTargetRef,
} from './alert-target.ts';
import type { BackoffSettings } from '../shared/backoff.ts';
import { systemTimers, type Timers } from '../shared/timers.ts';
import { retryDelayMs } from './backoff.ts';
import { AlertConfigError } from './errors.ts';
import { RingDeque } from './ring-deque.ts';
import { createSlackNotifier } from './slack-notifier.ts';
import { createWebhookNotifier } from './webhook-notifier.ts';

/** Construction options; every number has a default suited to a sidecar. */
export interface AlertDispatcherOptions {
  readonly logger: Logger;
  /** Monotonic time for the dedup window and log throttling. Default: the system clock. */
  readonly clock?: Clock;
  /** Timers for retries, request timeouts and the close deadline. Default: real timers. */
  readonly timers?: Timers;
  /** Uniform [0, 1) source for backoff jitter. Default: Math.random. */
  readonly random?: () => number;
  /** Id of each alert, sent as `x-aicb-alert-id`. Default: a random UUID. */
  readonly newId?: () => string;
  /** Deliveries waiting per target (queued or between retries); the oldest is dropped beyond it. Default 1000. */
  readonly maxQueue?: number;
  /** Attempts per delivery, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Ceiling of the first retry delay (full jitter below it, doubling per retry). Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Largest retry delay, `Retry-After` included. Default 30 s. */
  readonly maxDelayMs?: number;
  /** One attempt is abandoned (and its connection closed) after this. Default 5 s. */
  readonly requestTimeoutMs?: number;
  /** Attempts in flight per target. Default 2. */
  readonly maxConcurrentPerTarget?: number;
  /** At most one warning per target and kind of problem in this period; the rest are counted. Default 60 s. */
  readonly warnIntervalMs?: number;
  /** Builds a target's notifier. Default: webhook / Slack notifiers over `http`. */
  readonly createNotifier?: (target: AlertTarget) => AlertNotifier;
  /** undici dispatcher for the default notifiers. Default: an Agent owned (and closed) by the dispatcher. */
  readonly http?: Dispatcher;
}

/** What `configure` applies: the policy's `alerting` section with resolved target URLs. */
export interface AlertingConfig {
  /** Transitions that raise an alert; others are counted as filtered. */
  readonly on: readonly AlertEventKind[];
  /** The same transition of the same circuit is sent at most once per window (0 disables dedup). */
  readonly dedupWindowMs: number;
  /** Receivers; URLs are secrets and never leave the dispatcher. */
  readonly targets: readonly AlertTarget[];
}

/** How `configure` treated one target. */
export interface AlertTargetStatus extends AlertTargetRef {
  readonly accepted: boolean;
  /** Why it was not accepted: not an http(s) URL, the same URL twice, or its notifier failed to build. */
  readonly problem?: 'invalid_url' | 'duplicate' | 'notifier_error';
}

/** What `enqueue` did with an alert. */
export type EnqueueResult =
  'queued' | 'filtered' | 'duplicate' | 'no_targets' | 'closed' | 'invalid';

/** Why a delivery was given up without a final attempt. */
export type DropReason = 'queue_full' | 'target_removed' | 'closed';

/** One delivery event, for metrics and tests. Never contains a URL. */
export interface AlertDeliveryResult {
  readonly target: AlertTargetRef;
  /** `retrying` after a failed attempt that will be retried; the others are final. */
  readonly outcome: 'sent' | 'retrying' | 'failed' | 'dropped';
  /** The alert's id (`x-aicb-alert-id`). */
  readonly deliveryId: string;
  readonly alert: AlertEvent;
  /** Attempts made so far (0 when dropped before the first). */
  readonly attempt: number;
  readonly status?: number;
  readonly error?: DeliveryError;
  /** Receiver error token (Slack's `invalid_payload`, ...). */
  readonly detail?: string;
  /** Delay before the next attempt (`retrying`). */
  readonly retryInMs?: number;
  /** Why it was dropped (`dropped`). */
  readonly dropReason?: DropReason;
}

/** Counters (monotonic) and gauges of one target kind. */
export interface AlertTargetKindStats {
  /** Deliveries a receiver acknowledged with 2xx. */
  readonly sent: number;
  /** Deliveries given up: a permanent refusal (non-429 4xx) or attempts exhausted. */
  readonly failed: number;
  /** Retries scheduled after a retryable failure. */
  readonly retried: number;
  /** Deliveries discarded unsent: queue overflow, target removed by a reload, close deadline. */
  readonly dropped: number;
  /** Attempts abandoned at the per-request timeout (each also counts as retried or failed). */
  readonly timedOut: number;
  /** Gauge: deliveries waiting (queued or between retries). */
  readonly queued: number;
  /** Gauge: attempts in flight. */
  readonly inFlight: number;
}

/** Snapshot of the dispatcher's counters; the data plane exports them as metrics. */
export interface AlertDispatcherStats {
  /** Alerts accepted for delivery (after the `on` filter and dedup). */
  readonly accepted: number;
  /** Alerts refused as malformed (a caller bug: missing policy, upstream or endpoint). */
  readonly invalid: number;
  /** Alerts whose event is not in `on`. */
  readonly filtered: number;
  /** Alerts suppressed as a repeat within the dedup window. */
  readonly deduplicated: number;
  /** Per target kind. */
  readonly targets: Readonly<Record<AlertTargetKind, AlertTargetKindStats>>;
}

interface Delivery {
  readonly id: string;
  readonly alert: AlertEvent;
  /** Attempts made so far. */
  attempt: number;
  cancelRetry: (() => void) | undefined;
}

interface Attempt {
  readonly delivery: Delivery;
  readonly controller: AbortController;
  cancelTimeout: () => void;
  settled: boolean;
}

interface WarnThrottle {
  lastAtMs: number | undefined;
  suppressed: number;
}

interface TargetState {
  ref: AlertTargetRef;
  readonly notifier: AlertNotifier;
  readonly ready: RingDeque<Delivery>;
  /** Deliveries waiting for their retry timer; insertion order is age order. */
  readonly waiting: Set<Delivery>;
  readonly inFlight: Set<Attempt>;
  /** Removed by a reload: in-flight attempts may finish, nothing is retried or started. */
  removed: boolean;
  readonly warnings: Record<'overflow' | 'failure', WarnThrottle>;
}

interface MutableKindStats {
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  timedOut: number;
}

// Bounds the dedup memory when a fleet has many circuits; the oldest key is forgotten first.
const MAX_DEDUP_KEYS = 10_000;

const DEFAULTS = {
  maxQueue: 1000,
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  requestTimeoutMs: 5000,
  maxConcurrentPerTarget: 2,
  warnIntervalMs: 60_000,
  closeDeadlineMs: 5000,
} as const;

const TIMEOUT_OUTCOME: DeliveryOutcome = { ok: false, retryable: true, error: 'timeout' };
const THROWN_OUTCOME: DeliveryOutcome = { ok: false, retryable: true, error: 'network' };

/** Fans alerts out to webhook and Slack targets with retries, dedup and bounded memory. */
export class AlertDispatcher {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #newId: () => string;
  readonly #maxQueue: number;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffSettings;
  readonly #requestTimeoutMs: number;
  readonly #maxConcurrent: number;
  readonly #warnIntervalMs: number;
  readonly #createNotifier: (target: AlertTarget) => AlertNotifier;
  readonly #sharedHttp: Dispatcher | undefined;
  #ownedHttp: Agent | undefined;

  #on = new Set<AlertEventKind>();
  #dedupWindowMs = 0;
  /** Key -> monotonic time it was last accepted; insertion order is time order. */
  readonly #lastAccepted = new Map<string, number>();
  /** Keyed by kind and URL, so a reload that keeps a URL keeps its queue. */
  #targets = new Map<string, TargetState>();
  /** Removed by a reload but with attempts still in flight. */
  readonly #retired = new Set<TargetState>();
  #pumpScheduled = false;

  #accepted = 0;
  #invalid = 0;
  #filtered = 0;
  #deduplicated = 0;
  readonly #kindStats: Record<AlertTargetKind, MutableKindStats> = {
    webhook: { sent: 0, failed: 0, retried: 0, dropped: 0, timedOut: 0 },
    slack: { sent: 0, failed: 0, retried: 0, dropped: 0, timedOut: 0 },
  };
  readonly #results: Emitter<AlertDeliveryResult>;

  #closing = false;
  /** The close deadline passed: nothing is retried any more. */
  #abandoning = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  constructor(options: AlertDispatcherOptions) {
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#newId = options.newId ?? randomUUID;
    this.#maxQueue = intAtLeast('maxQueue', options.maxQueue ?? DEFAULTS.maxQueue, 1);
    this.#maxAttempts = intAtLeast('maxAttempts', options.maxAttempts ?? DEFAULTS.maxAttempts, 1);
    const baseDelayMs = intAtLeast('baseDelayMs', options.baseDelayMs ?? DEFAULTS.baseDelayMs, 0);
    const maxDelayMs = intAtLeast(
      'maxDelayMs',
      options.maxDelayMs ?? Math.max(DEFAULTS.maxDelayMs, baseDelayMs),
      baseDelayMs,
    );
    this.#backoff = { initialMs: baseDelayMs, maxMs: maxDelayMs };
    this.#requestTimeoutMs = intAtLeast(
      'requestTimeoutMs',
      options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      1,
    );
    this.#maxConcurrent = intAtLeast(
      'maxConcurrentPerTarget',
      options.maxConcurrentPerTarget ?? DEFAULTS.maxConcurrentPerTarget,
      1,
    );
    this.#warnIntervalMs = intAtLeast(
      'warnIntervalMs',
      options.warnIntervalMs ?? DEFAULTS.warnIntervalMs,
      0,
    );
    this.#sharedHttp = options.http;
    this.#createNotifier =
      options.createNotifier ??
      ((target) =>
        target.kind === 'slack'
          ? createSlackNotifier(target.url, { http: this.#http() })
          : createWebhookNotifier(target.url, { http: this.#http() }));
    this.#results = new Emitter((error) => {
      this.#logger.error({ err: errorNameOf(error) }, 'alert result listener threw');
    });
  }

  /**
   * Replaces the filter, the dedup window and the targets (hot reload). A target whose kind and
   * URL are unchanged keeps its queue and attempts; a removed one drops what waits and lets
   * attempts in flight finish. Unusable targets are reported, not thrown.
   */
  configure(config: AlertingConfig): readonly AlertTargetStatus[] {
    for (const event of config.on) {
      if (!ALERT_EVENT_KINDS.includes(event)) {
        throw new AlertConfigError(`alerts: unknown event in on: ${JSON.stringify(event)}`);
      }
    }
    if (!Number.isFinite(config.dedupWindowMs) || config.dedupWindowMs < 0) {
      throw new AlertConfigError(
        `alerts: dedupWindowMs must be a finite number >= 0, got ${config.dedupWindowMs}`,
      );
    }
    for (const target of config.targets) {
      if (!ALERT_TARGET_KINDS.includes(target.kind)) {
        throw new AlertConfigError(`alerts: unknown target kind ${JSON.stringify(target.kind)}`);
      }
    }
    this.#on = new Set(config.on);
    this.#dedupWindowMs = config.dedupWindowMs;
    if (this.#closing) {
      this.#logger.debug('alert targets not configured: the dispatcher is closing');
      return [];
    }

    const statuses: AlertTargetStatus[] = [];
    const next = new Map<string, TargetState>();
    const positions: Record<AlertTargetKind, number> = { webhook: 0, slack: 0 };
    for (const target of config.targets) {
      const position = positions[target.kind]++;
      const ref: AlertTargetRef = {
        kind: target.kind,
        index: target.index ?? position,
        fingerprint: fingerprintUrl(target.url),
      };
      const key = `${target.kind}\u0000${target.url}`;
      if (!isHttpUrl(target.url)) {
        statuses.push({ ...ref, accepted: false, problem: 'invalid_url' });
        continue;
      }
      if (next.has(key)) {
        statuses.push({ ...ref, accepted: false, problem: 'duplicate' });
        continue;
      }
      const existing = this.#targets.get(key);
      if (existing !== undefined) {
        existing.ref = ref;
        next.set(key, existing);
      } else {
        let notifier: AlertNotifier;
        try {
          notifier = this.#createNotifier(target);
        } catch {
          statuses.push({ ...ref, accepted: false, problem: 'notifier_error' });
          continue;
        }
        next.set(key, newTargetState(ref, notifier));
      }
      statuses.push({ ...ref, accepted: true });
    }
    for (const [key, old] of this.#targets) {
      if (!next.has(key)) this.#retire(old);
    }
    this.#targets = next;

    const rejected = statuses.filter((s) => !s.accepted);
    if (rejected.length > 0) {
      this.#logger.warn({ targets: rejected }, 'alert targets skipped');
    }
    this.#logger.info(
      { targets: statuses.filter((s) => s.accepted), on: [...this.#on] },
      'alert targets configured',
    );
    this.#schedulePump();
    this.#checkDrained();
    return statuses;
  }

  /**
   * Takes an alert for background delivery to every target. Synchronous, O(1) (targets are at
   * most a handful), never throws, never waits. Keep the object unchanged afterwards: it is
   * serialized at delivery time.
   */
  enqueue(alert: AlertEvent): EnqueueResult {
    try {
      if (this.#closing) return 'closed';
      if (!isAlertShaped(alert)) {
        this.#invalid++;
        this.#logger.error('alert not enqueued: malformed alert');
        return 'invalid';
      }
      if (!this.#on.has(alert.event)) {
        this.#filtered++;
        return 'filtered';
      }
      if (this.#targets.size === 0) return 'no_targets';
      if (this.#isDuplicate(alert)) {
        this.#deduplicated++;
        return 'duplicate';
      }
      this.#accepted++;
      const id = this.#newId();
      for (const target of this.#targets.values()) {
        this.#push(target, { id, alert, attempt: 0, cancelRetry: undefined });
      }
      this.#schedulePump();
      return 'queued';
    } catch (error) {
      // Nothing above should throw; if it does, the request path must still not see it.
      this.#invalid++;
      this.#logger.error({ err: errorNameOf(error) }, 'alert not enqueued');
      return 'invalid';
    }
  }

  /** Subscribes to delivery results; the returned function unsubscribes. Free without listeners. */
  onResult(listener: Listener<AlertDeliveryResult>): () => void {
    return this.#results.subscribe(listener);
  }

  /** Current counters and gauges by target kind. */
  stats(): AlertDispatcherStats {
    const gauges: Record<AlertTargetKind, { queued: number; inFlight: number }> = {
      webhook: { queued: 0, inFlight: 0 },
      slack: { queued: 0, inFlight: 0 },
    };
    for (const target of this.#allTargets()) {
      const gauge = gauges[target.ref.kind];
      gauge.queued += target.ready.size + target.waiting.size;
      gauge.inFlight += target.inFlight.size;
    }
    return {
      accepted: this.#accepted,
      invalid: this.#invalid,
      filtered: this.#filtered,
      deduplicated: this.#deduplicated,
      targets: {
        webhook: { ...this.#kindStats.webhook, ...gauges.webhook },
        slack: { ...this.#kindStats.slack, ...gauges.slack },
      },
    };
  }

  /**
   * Stops taking alerts and delivers what is queued, retries included, until `deadlineMs`
   * (default 5 s); then aborts what is left, counting it as dropped. Idempotent.
   */
  close(options: { readonly deadlineMs?: number } = {}): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#closing = true;
    const deadlineMs = intAtLeast('deadlineMs', options.deadlineMs ?? DEFAULTS.closeDeadlineMs, 0);
    const drained = new Promise<boolean>((resolve) => {
      const cancelDeadline = this.#timers.setTimeout(() => {
        this.#onDrained = undefined;
        this.#abandonAll();
        resolve(false);
      }, deadlineMs);
      this.#onDrained = () => {
        this.#onDrained = undefined;
        cancelDeadline();
        resolve(true);
      };
      this.#checkDrained();
    });
    this.#closed = drained.then(async (clean) => {
      const agent = this.#ownedHttp;
      if (agent === undefined) return;
      try {
        await (clean ? agent.close() : agent.destroy());
      } catch {
        // Closing sockets of a dead receiver can fail; there is nothing left to deliver.
      }
    });
    return this.#closed;
  }

  #http(): Dispatcher {
    if (this.#sharedHttp !== undefined) return this.#sharedHttp;
    // Our own pool keeps alert traffic away from the proxy's upstream pools and its timeouts.
    this.#ownedHttp ??= new Agent({
      connections: this.#maxConcurrent,
      connectTimeout: this.#requestTimeoutMs,
      headersTimeout: this.#requestTimeoutMs,
      bodyTimeout: this.#requestTimeoutMs,
    });
    return this.#ownedHttp;
  }

  #isDuplicate(alert: AlertEvent): boolean {
    const windowMs = this.#dedupWindowMs;
    if (windowMs <= 0) return false;
    const nowMs = this.#clock.nowMs();
    // Forget expired keys from the oldest end: each key is deleted once, so this is amortized O(1).
    for (const [key, atMs] of this.#lastAccepted) {
      if (nowMs - atMs < windowMs) break;
      this.#lastAccepted.delete(key);
    }
    const key = alertDedupKey(alert);
    const lastMs = this.#lastAccepted.get(key);
    if (lastMs !== undefined && nowMs - lastMs < windowMs) return true;
    // Re-insert so the map stays in time order.
    this.#lastAccepted.delete(key);
    this.#lastAccepted.set(key, nowMs);
    if (this.#lastAccepted.size > MAX_DEDUP_KEYS) {
      const oldest = this.#lastAccepted.keys().next();
      if (oldest.done !== true) this.#lastAccepted.delete(oldest.value);
    }
    return false;
  }

  #push(target: TargetState, delivery: Delivery): void {
    if (target.ready.size + target.waiting.size >= this.#maxQueue) this.#dropOldest(target);
    target.ready.pushBack(delivery);
  }

  #dropOldest(target: TargetState): void {
    let victim = target.ready.shift();
    if (victim === undefined) {
      const waitingFirst = target.waiting.values().next();
      if (waitingFirst.done === true) return;
      victim = waitingFirst.value;
      target.waiting.delete(victim);
      victim.cancelRetry?.();
    }
    this.#drop(target, victim, 'queue_full');
    this.#warn(
      target,
      'overflow',
      { maxQueue: this.#maxQueue },
      'alert queue full, dropped the oldest alert',
    );
  }

  #drop(target: TargetState, delivery: Delivery, reason: DropReason): void {
    this.#kindStats[target.ref.kind].dropped++;
    if (this.#results.size > 0) {
      this.#results.emit({
        target: target.ref,
        outcome: 'dropped',
        deliveryId: delivery.id,
        alert: delivery.alert,
        attempt: delivery.attempt,
        dropReason: reason,
      });
    }
  }

  // Starting requests is deferred to a microtask so enqueue stays O(1) and a burst is batched.
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      for (const target of this.#targets.values()) this.#pump(target);
    });
  }

  #pump(target: TargetState): void {
    while (!target.removed && target.inFlight.size < this.#maxConcurrent) {
      const delivery = target.ready.shift();
      if (delivery === undefined) return;
      this.#start(target, delivery);
    }
  }

  #start(target: TargetState, delivery: Delivery): void {
    delivery.attempt++;
    const attempt: Attempt = {
      delivery,
      controller: new AbortController(),
      cancelTimeout: noop,
      settled: false,
    };
    target.inFlight.add(attempt);
    // Our own timer rather than undici's alone: it also bounds custom notifiers and the body
    // read, and frees the concurrency slot at once even if the notifier ignores the signal.
    attempt.cancelTimeout = this.#timers.setTimeout(() => {
      if (attempt.settled) return;
      attempt.controller.abort();
      this.#kindStats[target.ref.kind].timedOut++;
      this.#settle(target, attempt, TIMEOUT_OUTCOME);
    }, this.#requestTimeoutMs);
    const request: AlertDelivery = {
      alert: delivery.alert,
      id: delivery.id,
      attempt: delivery.attempt,
    };
    let pending: Promise<DeliveryOutcome>;
    try {
      pending = target.notifier.send(request, attempt.controller.signal);
    } catch {
      pending = Promise.resolve(THROWN_OUTCOME);
    }
    pending.then(
      (outcome) => {
        this.#settle(target, attempt, outcome);
      },
      () => {
        this.#settle(target, attempt, THROWN_OUTCOME);
      },
    );
  }

  #settle(target: TargetState, attempt: Attempt, outcome: DeliveryOutcome): void {
    if (attempt.settled) return;
    attempt.settled = true;
    attempt.cancelTimeout();
    target.inFlight.delete(attempt);
    const { delivery } = attempt;
    const stats = this.#kindStats[target.ref.kind];
    if (outcome.ok) {
      stats.sent++;
      this.#logger.debug(
        { ...this.#logFields(target, delivery), status: outcome.status },
        'alert delivered',
      );
      this.#emit(target, delivery, 'sent', { status: outcome.status });
    } else if (target.removed || this.#abandoning) {
      this.#drop(target, delivery, target.removed ? 'target_removed' : 'closed');
    } else if (outcome.retryable && delivery.attempt < this.#maxAttempts) {
      this.#scheduleRetry(target, delivery, outcome);
    } else {
      stats.failed++;
      this.#warn(
        target,
        'failure',
        {
          ...this.#logFields(target, delivery),
          ...failureFields(outcome),
          permanent: !outcome.retryable,
        },
        outcome.retryable
          ? 'alert delivery failed after retries'
          : 'alert receiver refused the alert',
      );
      this.#emit(target, delivery, 'failed', failureFields(outcome));
    }
    if (target.removed && target.inFlight.size === 0) this.#retired.delete(target);
    this.#pump(target);
    this.#checkDrained();
  }

  #scheduleRetry(
    target: TargetState,
    delivery: Delivery,
    outcome: Extract<DeliveryOutcome, { ok: false }>,
  ): void {
    const delayMs = retryDelayMs(
      delivery.attempt,
      this.#backoff,
      this.#random,
      outcome.retryAfterMs,
    );
    this.#kindStats[target.ref.kind].retried++;
    target.waiting.add(delivery);
    delivery.cancelRetry = this.#timers.setTimeout(() => {
      delivery.cancelRetry = undefined;
      // Gone already when dropped by overflow, a reload or close.
      if (!target.waiting.delete(delivery)) return;
      // Back to the front: it is older than anything queued behind it.
      target.ready.pushFront(delivery);
      this.#pump(target);
    }, delayMs);
    this.#logger.debug(
      { ...this.#logFields(target, delivery), ...failureFields(outcome), retryInMs: delayMs },
      'alert delivery will be retried',
    );
    this.#emit(target, delivery, 'retrying', { ...failureFields(outcome), retryInMs: delayMs });
  }

  /** Close deadline passed: give up everything still waiting or in flight. */
  #abandonAll(): void {
    this.#abandoning = true;
    let abandoned = 0;
    for (const target of this.#allTargets()) {
      abandoned += target.ready.size + target.waiting.size + target.inFlight.size;
      this.#discardWaiting(target, 'closed');
      for (const attempt of [...target.inFlight]) {
        attempt.controller.abort();
        this.#settle(target, attempt, { ok: false, retryable: false, error: 'aborted' });
      }
    }
    if (abandoned > 0) {
      this.#logger.warn({ abandoned }, 'alerts not delivered before the close deadline');
    }
  }

  /** Removed by a reload: drop what waits; attempts in flight may still deliver. */
  #retire(target: TargetState): void {
    target.removed = true;
    this.#discardWaiting(target, 'target_removed');
    if (target.inFlight.size > 0) this.#retired.add(target);
  }

  #discardWaiting(target: TargetState, reason: DropReason): void {
    for (
      let delivery = target.ready.shift();
      delivery !== undefined;
      delivery = target.ready.shift()
    ) {
      this.#drop(target, delivery, reason);
    }
    for (const delivery of target.waiting) {
      delivery.cancelRetry?.();
      this.#drop(target, delivery, reason);
    }
    target.waiting.clear();
  }

  #checkDrained(): void {
    if (this.#onDrained === undefined) return;
    for (const target of this.#allTargets()) {
      if (target.ready.size + target.waiting.size + target.inFlight.size > 0) return;
    }
    this.#onDrained();
  }

  *#allTargets(): IterableIterator<TargetState> {
    yield* this.#targets.values();
    yield* this.#retired;
  }

  #emit(
    target: TargetState,
    delivery: Delivery,
    outcome: 'sent' | 'retrying' | 'failed',
    extra: Partial<Pick<AlertDeliveryResult, 'status' | 'error' | 'detail' | 'retryInMs'>>,
  ): void {
    if (this.#results.size === 0) return;
    this.#results.emit({
      target: target.ref,
      outcome,
      deliveryId: delivery.id,
      alert: delivery.alert,
      attempt: delivery.attempt,
      ...extra,
    });
  }

  /** Logs at most one warning per target and problem per interval, with the count it held back. */
  #warn(
    target: TargetState,
    problem: 'overflow' | 'failure',
    fields: Record<string, unknown>,
    message: string,
  ): void {
    const throttle = target.warnings[problem];
    const nowMs = this.#clock.nowMs();
    if (throttle.lastAtMs !== undefined && nowMs - throttle.lastAtMs < this.#warnIntervalMs) {
      throttle.suppressed++;
      return;
    }
    this.#logger.warn(
      { target: target.ref, ...fields, suppressedSinceLastWarning: throttle.suppressed },
      message,
    );
    throttle.lastAtMs = nowMs;
    throttle.suppressed = 0;
  }

  #logFields(target: TargetState, delivery: Delivery): Record<string, unknown> {
    const { alert } = delivery;
    return {
      target: target.ref,
      alertId: delivery.id,
      event: alert.event,
      policy: `${alert.policy.namespace}/${alert.policy.name}`,
      upstream: alert.upstream,
      endpoint: alert.endpoint,
      attempt: delivery.attempt,
    };
  }
}

// A cheap check of what delivery and dedup read, for callers outside the type system.
function isAlertShaped(alert: AlertEvent): boolean {
  const value = alert as Partial<AlertEvent> | null;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof value.event === 'string' &&
    typeof value.policy?.namespace === 'string' &&
    typeof value.policy.name === 'string' &&
    typeof value.upstream === 'string' &&
    typeof value.endpoint === 'string'
  );
}

function newTargetState(ref: AlertTargetRef, notifier: AlertNotifier): TargetState {
  return {
    ref,
    notifier,
    ready: new RingDeque(),
    waiting: new Set(),
    inFlight: new Set(),
    removed: false,
    warnings: {
      overflow: { lastAtMs: undefined, suppressed: 0 },
      failure: { lastAtMs: undefined, suppressed: 0 },
    },
  };
}

function failureFields(
  outcome: DeliveryOutcome,
): Partial<Pick<AlertDeliveryResult, 'status' | 'error' | 'detail'>> {
  if (outcome.ok) return { status: outcome.status };
  return {
    error: outcome.error,
    ...(outcome.status === undefined ? {} : { status: outcome.status }),
    ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
  };
}

function isHttpUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    // The TypeError quotes the input, which is the secret: never let it out.
    return false;
  }
}

function intAtLeast(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new AlertConfigError(`alerts: ${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

// Only the class name: messages of errors raised around URLs may quote them.
function errorNameOf(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function noop(): void {
  // Placeholder until the real timeout is scheduled.
}
