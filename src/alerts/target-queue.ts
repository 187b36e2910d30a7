/**
 * One target's deliveries: a bounded queue (the oldest is dropped beyond it), a bound on attempts
 * in flight, retries with backoff, and drops when a reload removes the target or the close
 * deadline passes. A receiver that is dead or hangs fills only its own queue, so it never delays
 * the other targets.
 */
import type { BackoffSettings } from '../shared/backoff.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import type { Emitter } from '../shared/emitter.ts';
import type { Timers } from '../shared/timers.ts';
import type { AlertEvent } from './alert-event.ts';
import type { AlertNotifier, DeliveryError, DeliveryOutcome } from './alert-notifier.ts';
import type { AlertTargetRef } from './alert-target.ts';
import { retryDelayMs } from './backoff.ts';
import { DeliveryAttempt } from './delivery-attempt.ts';
import type { DeliveryCounters } from './delivery-stats.ts';
import { RingDeque } from './ring-deque.ts';
import { WarnThrottle } from './warn-throttle.ts';

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

/** How hard one target is tried; the dispatcher's options, checked. */
export interface QueueSettings {
  /** Deliveries waiting (queued or between retries); the oldest is dropped beyond it. */
  readonly maxQueue: number;
  /** Attempts per delivery, the first included. */
  readonly maxAttempts: number;
  readonly backoff: BackoffSettings;
  readonly requestTimeoutMs: number;
  /** Attempts in flight. */
  readonly maxConcurrent: number;
  /** At most one warning per kind of problem in this period. */
  readonly warnIntervalMs: number;
}

/** What a queue shares with its dispatcher. */
export interface QueueContext {
  readonly settings: QueueSettings;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: () => number;
  readonly results: Emitter<AlertDeliveryResult>;
  /** After every settled attempt, once the queue has started what it can. */
  readonly onSettled: (queue: TargetQueue) => void;
}

interface Delivery {
  readonly id: string;
  readonly alert: AlertEvent;
  /** Attempts made so far. */
  attempt: number;
  cancelRetry: (() => void) | undefined;
}

export class TargetQueue {
  /** Updated by a reload that keeps the target (its position may change). */
  ref: AlertTargetRef;
  readonly #notifier: AlertNotifier;
  readonly #counters: DeliveryCounters;
  readonly #c: QueueContext;
  readonly #ready = new RingDeque<Delivery>();
  /** Deliveries waiting for their retry timer; insertion order is age order. */
  readonly #waiting = new Set<Delivery>();
  readonly #inFlight = new Set<DeliveryAttempt>();
  readonly #warnings: WarnThrottle<'overflow' | 'failure'>;
  /** Removed by a reload: in-flight attempts may finish, nothing is retried or started. */
  #removed = false;
  /** The close deadline passed: nothing is retried any more. */
  #abandoning = false;

  constructor(
    ref: AlertTargetRef,
    notifier: AlertNotifier,
    counters: DeliveryCounters,
    context: QueueContext,
  ) {
    this.ref = ref;
    this.#notifier = notifier;
    this.#counters = counters;
    this.#c = context;
    this.#warnings = new WarnThrottle(
      context.logger,
      context.clock,
      context.settings.warnIntervalMs,
    );
  }

  get removed(): boolean {
    return this.#removed;
  }

  /** Deliveries waiting (queued or between retries). */
  get queued(): number {
    return this.#ready.size + this.#waiting.size;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Queues a new delivery, dropping the oldest waiting one when full. Starts nothing: see `pump`. */
  push(id: string, alert: AlertEvent): void {
    if (this.queued >= this.#c.settings.maxQueue) this.#dropOldest();
    this.#ready.pushBack({ id, alert, attempt: 0, cancelRetry: undefined });
  }

  /** Starts queued deliveries up to the concurrency bound. */
  pump(): void {
    while (!this.#removed && this.#inFlight.size < this.#c.settings.maxConcurrent) {
      const delivery = this.#ready.shift();
      if (delivery === undefined) return;
      this.#start(delivery);
    }
  }

  /** Removed by a reload: drop what waits; attempts in flight may still deliver. */
  retire(): void {
    this.#removed = true;
    this.#discardWaiting('target_removed');
  }

  /** Close deadline passed: gives up everything waiting or in flight; returns how many. */
  abandon(): number {
    this.#abandoning = true;
    const abandoned = this.queued + this.#inFlight.size;
    this.#discardWaiting('closed');
    for (const attempt of [...this.#inFlight]) attempt.abort();
    return abandoned;
  }

  #dropOldest(): void {
    let victim = this.#ready.shift();
    if (victim === undefined) {
      const waitingFirst = this.#waiting.values().next();
      if (waitingFirst.done === true) return;
      victim = waitingFirst.value;
      this.#waiting.delete(victim);
      victim.cancelRetry?.();
    }
    this.#drop(victim, 'queue_full');
    this.#warn(
      'overflow',
      { maxQueue: this.#c.settings.maxQueue },
      'alert queue full, dropped the oldest alert',
    );
  }

  #drop(delivery: Delivery, reason: DropReason): void {
    this.#counters.dropped++;
    if (this.#c.results.size > 0) {
      this.#c.results.emit({
        target: this.ref,
        outcome: 'dropped',
        deliveryId: delivery.id,
        alert: delivery.alert,
        attempt: delivery.attempt,
        dropReason: reason,
      });
    }
  }

  #start(delivery: Delivery): void {
    delivery.attempt++;
    const attempt = new DeliveryAttempt((outcome, timedOut) => {
      this.#settle(attempt, delivery, outcome, timedOut);
    });
    this.#inFlight.add(attempt);
    attempt.start(
      this.#notifier,
      { alert: delivery.alert, id: delivery.id, attempt: delivery.attempt },
      this.#c.timers,
      this.#c.settings.requestTimeoutMs,
    );
  }

  #settle(
    attempt: DeliveryAttempt,
    delivery: Delivery,
    outcome: DeliveryOutcome,
    timedOut: boolean,
  ): void {
    if (timedOut) this.#counters.timedOut++;
    this.#inFlight.delete(attempt);
    if (outcome.ok) {
      this.#counters.sent++;
      this.#c.logger.debug(
        { ...this.#logFields(delivery), status: outcome.status },
        'alert delivered',
      );
      this.#emit(delivery, 'sent', { status: outcome.status });
    } else if (this.#removed || this.#abandoning) {
      this.#drop(delivery, this.#removed ? 'target_removed' : 'closed');
    } else if (outcome.retryable && delivery.attempt < this.#c.settings.maxAttempts) {
      this.#scheduleRetry(delivery, outcome);
    } else {
      this.#counters.failed++;
      this.#warn(
        'failure',
        {
          ...this.#logFields(delivery),
          ...failureFields(outcome),
          permanent: !outcome.retryable,
        },
        outcome.retryable
          ? 'alert delivery failed after retries'
          : 'alert receiver refused the alert',
      );
      this.#emit(delivery, 'failed', failureFields(outcome));
    }
    this.pump();
    this.#c.onSettled(this);
  }

  #scheduleRetry(delivery: Delivery, outcome: Extract<DeliveryOutcome, { ok: false }>): void {
    const delayMs = retryDelayMs(
      delivery.attempt,
      this.#c.settings.backoff,
      this.#c.random,
      outcome.retryAfterMs,
    );
    this.#counters.retried++;
    this.#waiting.add(delivery);
    delivery.cancelRetry = this.#c.timers.setTimeout(() => {
      delivery.cancelRetry = undefined;
      // Gone already when dropped by overflow, a reload or close.
      if (!this.#waiting.delete(delivery)) return;
      // Back to the front: it is older than anything queued behind it.
      this.#ready.pushFront(delivery);
      this.pump();
    }, delayMs);
    this.#c.logger.debug(
      { ...this.#logFields(delivery), ...failureFields(outcome), retryInMs: delayMs },
      'alert delivery will be retried',
    );
    this.#emit(delivery, 'retrying', { ...failureFields(outcome), retryInMs: delayMs });
  }

  #discardWaiting(reason: DropReason): void {
    for (
      let delivery = this.#ready.shift();
      delivery !== undefined;
      delivery = this.#ready.shift()
    ) {
      this.#drop(delivery, reason);
    }
    for (const delivery of this.#waiting) {
      delivery.cancelRetry?.();
      this.#drop(delivery, reason);
    }
    this.#waiting.clear();
  }

  #emit(
    delivery: Delivery,
    outcome: 'sent' | 'retrying' | 'failed',
    extra: Partial<Pick<AlertDeliveryResult, 'status' | 'error' | 'detail' | 'retryInMs'>>,
  ): void {
    if (this.#c.results.size === 0) return;
    this.#c.results.emit({
      target: this.ref,
      outcome,
      deliveryId: delivery.id,
      alert: delivery.alert,
      attempt: delivery.attempt,
      ...extra,
    });
  }

  #warn(problem: 'overflow' | 'failure', fields: Record<string, unknown>, message: string): void {
    this.#warnings.warn(problem, { target: this.ref, ...fields }, message);
  }

  #logFields(delivery: Delivery): Record<string, unknown> {
    const { alert } = delivery;
    return {
      target: this.ref,
      alertId: delivery.id,
      event: alert.event,
      policy: `${alert.policy.namespace}/${alert.policy.name}`,
      upstream: alert.upstream,
      endpoint: alert.endpoint,
      attempt: delivery.attempt,
    };
  }
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
