/**
 * Sends each connected sidecar the snapshot reconcile assigned to its pod: after every pass to
 * every session (the hub skips pods that already have that version), and at once to a sidecar
 * that just connected. A sidecar whose pod no policy selects any more (its policy was deleted,
 * or its labels changed) is released: it stops enforcing and passes requests through.
 */
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/create-logger.ts';
import type { ControllerMetrics } from '../controller-metrics.ts';
import type { ReconcilePass } from '../reconcile/reconcile-loop.ts';
import type { ReconcileResult } from '../reconcile/reconcile.ts';
import type { SidecarHub } from './sidecar-hub.ts';

export interface SnapshotFanoutOptions {
  readonly hub: SidecarHub;
  readonly clock: Clock;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly result: () => ReconcileResult | undefined;
  /** Asks for a reconcile (a pod the last pass did not know connected). */
  readonly reconcile: () => void;
  /**
   * Whether "no policy selects this pod" can be trusted: not before the policies were listed
   * once, or every sidecar would be released by a controller that just started.
   */
  readonly canRelease: () => boolean;
}

export class SnapshotFanout {
  readonly #o: SnapshotFanoutOptions;

  constructor(options: SnapshotFanoutOptions) {
    this.#o = options;
  }

  /** After a pass: every session gets its pod's snapshot unless it already runs it. */
  deliver(pass: ReconcilePass): void {
    const released: string[] = [];
    for (const session of this.#o.hub.sessions()) {
      const assignment = pass.result.pods.get(session.pod);
      if (assignment !== undefined) {
        if (this.#o.hub.pushSnapshot(session.pod, assignment.snapshot, pass.changedAtWallMs))
          this.#o.metrics.pushes.inc();
      } else if (this.#release(pass.result, session.pod)) {
        released.push(session.pod);
      }
    }
    this.countReleased();
    if (released.length > 0) {
      // One line per pass, not per pod: deleting a policy of a thousand pods is one event.
      this.#o.logger.warn(
        { sidecars: released.length, pods: released.slice(0, 10) },
        'no policy governs these pods any more: their sidecars now pass requests through unchanged',
      );
    }
  }

  /** A sidecar just connected: its snapshot now, or a reconcile that includes its pod. */
  connected(pod: string): void {
    const result = this.#o.result();
    const assignment = result?.pods.get(pod);
    if (assignment !== undefined) {
      if (this.#o.hub.pushSnapshot(pod, assignment.snapshot, this.#o.clock.wallMs()))
        this.#o.metrics.pushes.inc();
      this.countReleased();
      return;
    }
    if (result !== undefined && this.#release(result, pod)) {
      this.countReleased();
      this.#o.logger.info(
        { pod },
        'no policy governs this pod: its sidecar passes requests through',
      );
      return;
    }
    this.#o.reconcile();
  }

  #release(result: ReconcileResult, pod: string): boolean {
    if (!result.ungoverned.has(pod) || !this.#o.canRelease()) return false;
    if (!this.#o.hub.release(pod)) return false;
    this.#o.metrics.releases.inc();
    return true;
  }

  /** Refreshes the gauge of released sidecars (after pushes, releases and disconnects). */
  countReleased(): void {
    this.#o.metrics.releasedSidecars.set(this.#o.hub.sessions().filter((s) => s.released).length);
  }
}
