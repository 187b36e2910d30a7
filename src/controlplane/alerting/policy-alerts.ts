/**
 * The controller's alerting: one dispatcher per policy (each policy names its own receivers,
 * event filter and dedup window), configured from every reconcile and fed with policy-level
 * transitions. Receiver URLs come resolved in the snapshot (Secrets) or from the controller's
 * own environment (`env`); they never leave the dispatchers.
 */
import {
  AlertDispatcher,
  ALERT_TARGET_KINDS,
  alertTargetsOf,
  fingerprintUrl,
  type AlertDispatcherStats,
  type AlertEvent,
  type AlertTargetKindStats,
} from '../../alerts/index.ts';
import type { CredentialRef } from '../../snapshot/snapshot.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/create-logger.ts';
import type { ReconcileResult } from '../reconcile/reconcile.ts';
import type { CircuitTransition } from '../status/circuit-transitions.ts';

export interface PolicyAlertsOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Names the controller replica in alerts. */
  readonly identity: string;
  /** The controller's environment, for alert URLs given as `env` references. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export class PolicyAlerts {
  readonly #o: PolicyAlertsOptions;
  readonly #dispatchers = new Map<string, AlertDispatcher>();
  /** What each dispatcher was last configured with (URLs as fingerprints), to skip repeats. */
  readonly #configured = new Map<string, string>();
  /**
   * Counts of dispatchers closed with their policy: the exported counters are sums over every
   * dispatcher this replica ran, and must not go down when a policy is deleted.
   */
  #retired: AlertDispatcherStats = emptyStats();

  constructor(options: PolicyAlertsOptions) {
    this.#o = options;
  }

  /** Points each policy's dispatcher at the receivers of the snapshot in force. */
  configure(result: ReconcileResult): void {
    for (const [key, verdict] of result.policies) {
      const snapshot = verdict.accepted ? verdict.snapshot : verdict.lastGood;
      if (snapshot === undefined) continue;
      let dispatcher = this.#dispatchers.get(key);
      if (dispatcher === undefined) {
        dispatcher = new AlertDispatcher({ logger: this.#o.logger, clock: this.#o.clock });
        this.#dispatchers.set(key, dispatcher);
      }
      const { targets } = alertTargetsOf(snapshot.alerting, (ref) => this.#resolveUrl(ref));
      const config = {
        on: snapshot.alerting.on,
        dedupWindowMs: snapshot.alerting.dedupWindowMs,
        targets,
      };
      // Every reconcile passes here; reconfiguring (and logging it) only on a real change keeps
      // a busy cluster's log about what changed.
      const signature = JSON.stringify({
        ...config,
        targets: targets.map((t) => [t.kind, t.index, fingerprintUrl(t.url)]),
      });
      if (this.#configured.get(key) === signature) continue;
      this.#configured.set(key, signature);
      dispatcher.configure(config);
    }
    for (const [key, dispatcher] of this.#dispatchers) {
      if (result.policies.has(key)) continue;
      this.#dispatchers.delete(key);
      this.#configured.delete(key);
      void dispatcher.close({ deadlineMs: 1000 }).finally(() => {
        this.#retired = addStats(this.#retired, dispatcher.stats(), false);
      });
    }
  }

  /** Delivery counts over every policy's dispatcher (the controller's aicb_alert* metrics). */
  stats(): AlertDispatcherStats {
    let total = this.#retired;
    for (const d of this.#dispatchers.values()) total = addStats(total, d.stats(), true);
    return total;
  }

  /** Sends the alert of a policy-level transition (filtered and deduplicated per policy). */
  send(transition: CircuitTransition): void {
    const { policy } = transition;
    this.#dispatchers.get(`${policy.namespace}/${policy.name}`)?.enqueue(this.#alertOf(transition));
  }

  async close(): Promise<void> {
    const all = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    this.#configured.clear();
    await Promise.all(all.map((d) => d.close({ deadlineMs: 2000 })));
  }

  #alertOf(t: CircuitTransition): AlertEvent {
    return {
      event: t.event,
      policy: { namespace: t.policy.namespace, name: t.policy.name },
      upstream: t.upstream,
      endpoint: t.endpoint,
      fromState: t.fromState,
      toState: t.toState,
      reason: t.reason,
      counts: t.counts,
      ...(t.outageDurationMs === undefined ? {} : { outageDurationMs: t.outageDurationMs }),
      ...(t.note === undefined ? {} : { note: t.note }),
      ...(t.openForMs === undefined ? {} : { openForMs: t.openForMs }),
      ...(t.retryAtWallMs === undefined
        ? {}
        : { retryAt: new Date(t.retryAtWallMs).toISOString() }),
      at: new Date(t.atWallMs).toISOString(),
      source: { kind: 'controller', id: this.#o.identity },
    };
  }

  /** Alert URLs: Secrets arrive resolved in the snapshot; `env` means the controller's own env. */
  #resolveUrl(ref: CredentialRef): string | null {
    switch (ref.source) {
      case 'value':
        return ref.value;
      case 'env':
        return this.#o.env?.[ref.name] ?? null;
      case 'file':
      case 'secret':
        return null;
    }
  }
}

function emptyStats(): AlertDispatcherStats {
  const zero: AlertTargetKindStats = {
    sent: 0,
    failed: 0,
    retried: 0,
    dropped: 0,
    timedOut: 0,
    queued: 0,
    inFlight: 0,
  };
  return {
    accepted: 0,
    invalid: 0,
    filtered: 0,
    deduplicated: 0,
    targets: Object.fromEntries(ALERT_TARGET_KINDS.map((k) => [k, zero])) as Record<
      (typeof ALERT_TARGET_KINDS)[number],
      AlertTargetKindStats
    >,
  };
}

/** a + b; the gauges (queued, in flight) only from live dispatchers (`live`). */
function addStats(
  a: AlertDispatcherStats,
  b: AlertDispatcherStats,
  live: boolean,
): AlertDispatcherStats {
  const targets = Object.fromEntries(
    ALERT_TARGET_KINDS.map((k) => {
      const x = a.targets[k];
      const y = b.targets[k];
      return [
        k,
        {
          sent: x.sent + y.sent,
          failed: x.failed + y.failed,
          retried: x.retried + y.retried,
          dropped: x.dropped + y.dropped,
          timedOut: x.timedOut + y.timedOut,
          queued: x.queued + (live ? y.queued : 0),
          inFlight: x.inFlight + (live ? y.inFlight : 0),
        },
      ];
    }),
  ) as Record<(typeof ALERT_TARGET_KINDS)[number], AlertTargetKindStats>;
  return {
    accepted: a.accepted + b.accepted,
    invalid: a.invalid + b.invalid,
    filtered: a.filtered + b.filtered,
    deduplicated: a.deduplicated + b.deduplicated,
    targets,
  };
}
