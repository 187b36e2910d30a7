/**
 * The controller's alerting: one dispatcher per policy (each policy names its own receivers,
 * event filter and dedup window), configured from every reconcile and fed with policy-level
 * transitions. Receiver URLs come resolved in the snapshot (Secrets) or from the controller's
 * own environment (`env`); they never leave the dispatchers.
 */
import {
  AlertDispatcher,
  alertTargetsOf,
  fingerprintUrl,
  type AlertEvent,
} from '../../alerts/index.ts';
import type { CredentialRef } from '../../policy/snapshot.ts';
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
      void dispatcher.close({ deadlineMs: 1000 });
    }
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
