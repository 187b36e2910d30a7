/**
 * Sends each connected sidecar the snapshot reconcile assigned to its pod: after every pass to
 * every session (the hub skips pods that already have that version), and at once to a sidecar
 * that just connected.
 */
import type { Clock } from '../../shared/clock.ts';
import type { ControllerMetrics } from '../controller-metrics.ts';
import type { ReconcilePass } from '../reconcile/reconcile-loop.ts';
import type { ReconcileResult } from '../reconcile/reconcile.ts';
import type { SidecarHub } from './sidecar-hub.ts';

export interface SnapshotFanoutOptions {
  readonly hub: SidecarHub;
  readonly clock: Clock;
  readonly metrics: ControllerMetrics;
  readonly result: () => ReconcileResult | undefined;
  /** Asks for a reconcile (a pod the last pass did not know connected). */
  readonly reconcile: () => void;
}

export class SnapshotFanout {
  readonly #o: SnapshotFanoutOptions;

  constructor(options: SnapshotFanoutOptions) {
    this.#o = options;
  }

  /** After a pass: every session gets its pod's snapshot unless it already runs it. */
  deliver(pass: ReconcilePass): void {
    for (const session of this.#o.hub.sessions()) {
      const assignment = pass.result.pods.get(session.pod);
      if (
        assignment !== undefined &&
        this.#o.hub.pushSnapshot(session.pod, assignment.snapshot, pass.changedAtWallMs)
      ) {
        this.#o.metrics.pushes.inc();
      }
    }
  }

  /** A sidecar just connected: its snapshot now, or a reconcile that includes its pod. */
  connected(pod: string): void {
    const assignment = this.#o.result()?.pods.get(pod);
    if (assignment === undefined) {
      this.#o.reconcile();
      return;
    }
    if (this.#o.hub.pushSnapshot(pod, assignment.snapshot, this.#o.clock.wallMs()))
      this.#o.metrics.pushes.inc();
  }
}
