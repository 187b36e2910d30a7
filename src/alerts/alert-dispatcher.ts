/**
 * Delivers alerts to every configured receiver in the background. The caller (a breaker event
 * listener in the sidecar, the aggregating controller) only calls `enqueue`, which is O(1),
 * synchronous and never throws: alerting must never slow down or break the request path. Each
 * target has its own bounded queue, concurrency bound and per-request timeout, so a receiver
 * that is dead or hangs costs a counter and a log line, and never delays the other receivers.
 *
 * This module fans out; the parts live beside it: alert-filter.ts (the `on` filter and dedup),
 * target-set.ts (targets across reloads), target-queue.ts (one target's queue, retries and
 * drops), delivery-attempt.ts (one attempt and its timeout), delivery-stats.ts (the counters)
 * and dispatcher-options.ts (options and defaults).
 */
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { Emitter, type Listener } from '../shared/emitter.ts';
import { systemTimers, type Timers } from '../shared/timers.ts';
import type { AlertEvent, AlertEventKind } from './alert-event.ts';
import { AlertFilter, checkFilterConfig, isAlertShaped } from './alert-filter.ts';
import type { AlertNotifier } from './alert-notifier.ts';
import type { AlertTarget } from './alert-target.ts';
import { DeliveryStats, type AlertDispatcherStats } from './delivery-stats.ts';
import {
  closeDeadlineMsOf,
  queueSettingsOf,
  type AlertDispatcherOptions,
} from './dispatcher-options.ts';
import { createSlackNotifier } from './slack-notifier.ts';
import { TargetQueue, type AlertDeliveryResult, type QueueContext } from './target-queue.ts';
import { checkTargetKinds, TargetSet, type AlertTargetStatus } from './target-set.ts';
import { createWebhookNotifier } from './webhook-notifier.ts';

/** What `configure` applies: the policy's `alerting` section with resolved target URLs. */
export interface AlertingConfig {
  /** Transitions that raise an alert; others are counted as filtered. */
  readonly on: readonly AlertEventKind[];
  /** The same transition of the same circuit is sent at most once per window (0 disables dedup). */
  readonly dedupWindowMs: number;
  /** Receivers; URLs are secrets and never leave the dispatcher. */
  readonly targets: readonly AlertTarget[];
}

/** What `enqueue` did with an alert. */
export type EnqueueResult =
  'queued' | 'filtered' | 'duplicate' | 'no_targets' | 'closed' | 'invalid';

/** Fans alerts out to webhook and Slack targets with retries, dedup and bounded memory. */
export class AlertDispatcher {
  readonly #logger: Logger;
  readonly #timers: Timers;
  readonly #newId: () => string;
  readonly #queueContext: QueueContext;
  readonly #createNotifier: (target: AlertTarget) => AlertNotifier;
  readonly #sharedHttp: Dispatcher | undefined;
  #ownedHttp: Agent | undefined;

  readonly #filter: AlertFilter;
  readonly #targets = new TargetSet();
  readonly #stats = new DeliveryStats();
  readonly #results: Emitter<AlertDeliveryResult>;
  #pumpScheduled = false;

  #closing = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  constructor(options: AlertDispatcherOptions) {
    this.#logger = options.logger;
    const clock: Clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#newId = options.newId ?? randomUUID;
    const settings = queueSettingsOf(options);
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
    this.#filter = new AlertFilter(clock);
    this.#queueContext = {
      settings,
      logger: this.#logger,
      clock,
      timers: this.#timers,
      random: options.random ?? Math.random,
      results: this.#results,
      onSettled: (queue) => {
        this.#targets.settled(queue);
        this.#checkDrained();
      },
    };
  }

  /**
   * Replaces the filter, the dedup window and the targets (hot reload). A target whose kind and
   * URL are unchanged keeps its queue and attempts; a removed one drops what waits and lets
   * attempts in flight finish. Unusable targets are reported, not thrown.
   */
  configure(config: AlertingConfig): readonly AlertTargetStatus[] {
    checkFilterConfig(config.on, config.dedupWindowMs);
    checkTargetKinds(config.targets);
    this.#filter.configure(config.on, config.dedupWindowMs);
    if (this.#closing) {
      this.#logger.debug('alert targets not configured: the dispatcher is closing');
      return [];
    }

    const statuses = this.#targets.replace(
      config.targets,
      (target, ref) =>
        new TargetQueue(
          ref,
          this.#createNotifier(target),
          this.#stats.countersOf(ref.kind),
          this.#queueContext,
        ),
    );
    const rejected = statuses.filter((s) => !s.accepted);
    if (rejected.length > 0) {
      this.#logger.warn({ targets: rejected }, 'alert targets skipped');
    }
    this.#logger.info(
      { targets: statuses.filter((s) => s.accepted), on: this.#filter.on },
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
    const counts = this.#stats.admission;
    try {
      if (this.#closing) return 'closed';
      if (!isAlertShaped(alert)) {
        counts.invalid++;
        this.#logger.error('alert not enqueued: malformed alert');
        return 'invalid';
      }
      if (!this.#filter.wants(alert)) {
        counts.filtered++;
        return 'filtered';
      }
      if (this.#targets.size === 0) return 'no_targets';
      if (this.#filter.isDuplicate(alert)) {
        counts.deduplicated++;
        return 'duplicate';
      }
      counts.accepted++;
      const id = this.#newId();
      for (const target of this.#targets.active()) target.push(id, alert);
      this.#schedulePump();
      return 'queued';
    } catch (error) {
      // Nothing above should throw; if it does, the request path must still not see it.
      counts.invalid++;
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
    return this.#stats.snapshot(this.#targets.all());
  }

  /**
   * Stops taking alerts and delivers what is queued, retries included, until `deadlineMs`
   * (default 5 s); then aborts what is left, counting it as dropped. Idempotent.
   */
  close(options: { readonly deadlineMs?: number } = {}): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#closing = true;
    const deadlineMs = closeDeadlineMsOf(options.deadlineMs);
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
    const { maxConcurrent, requestTimeoutMs } = this.#queueContext.settings;
    // Our own pool keeps alert traffic away from the proxy's upstream pools and its timeouts.
    this.#ownedHttp ??= new Agent({
      connections: maxConcurrent,
      connectTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
    });
    return this.#ownedHttp;
  }

  // Starting requests is deferred to a microtask so enqueue stays O(1) and a burst is batched.
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      for (const target of this.#targets.active()) target.pump();
    });
  }

  /** Close deadline passed: give up everything still waiting or in flight. */
  #abandonAll(): void {
    let abandoned = 0;
    for (const target of this.#targets.all()) abandoned += target.abandon();
    if (abandoned > 0) {
      this.#logger.warn({ abandoned }, 'alerts not delivered before the close deadline');
    }
  }

  #checkDrained(): void {
    if (this.#onDrained === undefined) return;
    for (const target of this.#targets.all()) {
      if (target.queued + target.inFlight > 0) return;
    }
    this.#onDrained();
  }
}

// Only the class name: messages of errors raised around URLs may quote them.
function errorNameOf(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
