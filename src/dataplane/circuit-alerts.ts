/**
 * Standalone mode's alerting: turns this sidecar's circuit transitions (and "every target open"
 * moments on the request path) into alerts for src/alerts, which delivers them in the
 * background. In a cluster the controller alerts instead, once per policy transition.
 */
import {
  AlertDispatcher,
  alertTargetsOf,
  type AlertEvent,
  type AlertEventKind,
} from '../alerts/index.ts';
import type { OutageChange } from '../breaker/outage-history.ts';
import type { PolicySnapshot } from '../snapshot/snapshot.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { parseKey } from './circuits.ts';
import type { SidecarRuntime } from './sidecar-runtime.ts';

export class CircuitAlerts {
  readonly dispatcher: AlertDispatcher;
  readonly #runtime: SidecarRuntime;
  readonly #clock: Clock;
  readonly #sourceId: string;
  readonly #unsubscribe: () => void;

  constructor(options: {
    runtime: SidecarRuntime;
    clock: Clock;
    logger: Logger;
    sourceId: string;
  }) {
    this.#runtime = options.runtime;
    this.#clock = options.clock;
    this.#sourceId = options.sourceId;
    this.dispatcher = new AlertDispatcher({ logger: options.logger, clock: options.clock });
    this.#unsubscribe = options.runtime.circuits.outages.changes.subscribe((change) => {
      this.#onOutageChange(change);
    });
  }

  /**
   * Points the dispatcher at the policy's targets (on every policy load). A target whose URL
   * cannot be read is left out; the load warnings (load-warnings.ts) name its variable or file.
   */
  configure(snapshot: PolicySnapshot): void {
    const { targets } = alertTargetsOf(
      snapshot.alerting,
      (ref) => this.#runtime.resolve(ref) ?? null,
    );
    this.dispatcher.configure({
      on: snapshot.alerting.on,
      dedupWindowMs: snapshot.alerting.dedupWindowMs,
      targets,
    });
  }

  /** Called by the request path when every target of a chain was open: nothing could answer. */
  allTargetsOpen(upstream: string, endpoint: string, attempts: string): void {
    this.#send('allTargetsOpen', upstream, endpoint, undefined, {
      fromState: 'open',
      toState: 'open',
      reason: 'all_targets_open',
      note: attempts,
      counts: {},
    });
  }

  close(): Promise<void> {
    this.#unsubscribe();
    return this.dispatcher.close();
  }

  /** One alert per outage change of the one outage model (src/breaker/outage-history.ts). */
  #onOutageChange(change: OutageChange): void {
    const e = change.event;
    const { upstream, endpoint, model } = parseKey(e.key);
    const status = this.#runtime.circuits.registry.peek(e.key)?.getState();
    const counts = {
      ...(status === undefined
        ? {}
        : {
            consecutiveFailures: status.consecutive,
            windowFailures: status.windowFailures,
            windowCalls: status.windowCalls,
          }),
    };
    const kind: AlertEventKind =
      change.kind === 'probing' ? 'halfOpen' : change.kind === 'ended' ? 'closed' : 'opened';
    this.#send(kind, upstream, endpoint, model, {
      fromState: e.from,
      toState: e.to,
      reason: e.reason,
      counts,
      ...(e.note === undefined ? {} : { note: e.note }),
      ...(e.openForMs === undefined
        ? {}
        : { openForMs: e.openForMs, retryAt: new Date(e.atWallMs + e.openForMs).toISOString() }),
      ...(change.kind === 'ended' ? { outageDurationMs: change.durationMs } : {}),
    });
  }

  #send(
    event: AlertEventKind,
    upstream: string,
    endpoint: string,
    model: string | undefined,
    detail: Pick<AlertEvent, 'fromState' | 'toState' | 'reason' | 'counts'> &
      Partial<Pick<AlertEvent, 'note' | 'openForMs' | 'retryAt' | 'outageDurationMs'>>,
  ): void {
    const snapshot = this.#runtime.snapshot;
    if (snapshot === undefined) return;
    this.dispatcher.enqueue({
      event,
      policy: { namespace: snapshot.policy.namespace, name: snapshot.policy.name },
      upstream,
      endpoint,
      ...(model === undefined ? {} : { model }),
      ...detail,
      at: new Date(this.#clock.wallMs()).toISOString(),
      source: { kind: 'sidecar', id: this.#sourceId },
    });
  }
}
