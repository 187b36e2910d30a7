/**
 * Shared fleet mode (`spec.fleet.mode: shared`): a circuit that opened in one sidecar is opened
 * for the same remaining time in every other sidecar of the policy, so the fleet stops calling a
 * failing upstream after the first sidecar saw it fail. Each sidecar then probes on its own.
 */
import type { Report } from '../../snapshot/sidecar-protocol.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/create-logger.ts';
import type { ControllerMetrics } from '../controller-metrics.ts';
import type { ReconcileResult } from '../reconcile/reconcile.ts';
import type { SidecarHub, SidecarSession } from './sidecar-hub.ts';

export interface FleetFanoutOptions {
  readonly hub: SidecarHub;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
  readonly result: () => ReconcileResult | undefined;
}

export class FleetFanout {
  readonly #o: FleetFanoutOptions;

  constructor(options: FleetFanoutOptions) {
    this.#o = options;
  }

  /** Forwards the openings of one sidecar's report to the other sidecars of its policy. */
  report(session: SidecarSession, report: Report): void {
    const result = this.#o.result();
    const assignment = result?.pods.get(session.pod);
    if (result === undefined || assignment?.snapshot.fleet.mode !== 'shared') return;
    for (const t of report.transitions) {
      // Operator actions stay local; only the breaker's own openings speak for the fleet.
      if (t.to !== 'open' || t.openForMs === null || t.reason === 'manual') continue;
      const pods = this.#o.hub
        .sessions()
        .filter(
          (s) => s.pod !== session.pod && result.pods.get(s.pod)?.policy === assignment.policy,
        )
        .map((s) => s.pod);
      const sent = this.#o.hub.pushFleet(pods, {
        key: t.key,
        // What is left of the open period when the others receive it, never less than 1 ms.
        openForMs: Math.max(1, Math.round(t.openForMs - (this.#o.clock.wallMs() - t.atWallMs))),
        origin: session.pod,
        policyHash: assignment.snapshot.hash,
      });
      this.#o.metrics.fleetPushes.inc(sent);
      if (sent > 0)
        this.#o.logger.info(
          { key: t.key, origin: session.pod, sidecars: sent },
          'shared fleet: circuit opened everywhere',
        );
    }
  }
}
