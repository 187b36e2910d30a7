/**
 * Every Prometheus metric the controller exports (docs/metrics.md lists them; a test keeps the
 * list honest). Labels are fixed vocabularies only.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../shared/process-metrics.ts';
import { registerAlertMetrics, type AlertDispatcherStats } from '../alerts/index.ts';

export class ControllerMetrics {
  readonly registry = new Registry();

  readonly reconciles = new Counter({
    name: 'aicb_controller_reconciles_total',
    help: 'Reconcile passes, by result (ok, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'aicb_controller_reconcile_duration_seconds',
    help: 'Time one reconcile pass takes (validate, compile, assign, push).',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  readonly streamClients = new Gauge({
    name: 'aicb_controller_stream_clients',
    help: 'Sidecars connected to this controller.',
    registers: [this.registry],
  });

  readonly pushes = new Counter({
    name: 'aicb_controller_pushes_total',
    help: 'Snapshots sent to sidecars (only when a pod’s compiled policy changed).',
    registers: [this.registry],
  });

  readonly acks = new Counter({
    name: 'aicb_controller_acks_total',
    help: 'Snapshot acknowledgements from sidecars, by result (accepted, rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly propagation = new Histogram({
    name: 'aicb_controller_propagation_seconds',
    help: 'From seeing a policy change to a sidecar acknowledging the resulting snapshot.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
    registers: [this.registry],
  });

  readonly releases = new Counter({
    name: 'aicb_controller_releases_total',
    help: 'Sidecars told that no policy governs their pod any more (they pass requests through).',
    registers: [this.registry],
  });

  readonly releasedSidecars = new Gauge({
    name: 'aicb_controller_released_sidecars',
    help: 'Connected sidecars that no policy governs (passing requests through unchanged).',
    registers: [this.registry],
  });

  readonly fleetPushes = new Counter({
    name: 'aicb_controller_fleet_pushes_total',
    help: 'Shared-fleet openings forwarded to other sidecars of a policy.',
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'aicb_controller_leader',
    help: '1 while this replica holds the leader lease (writes status, events and alerts).',
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'aicb_controller_auth_failures_total',
    help: 'Sidecar requests refused at authentication, by reason (no_token, rejected, not_pod_bound, unknown_pod, not_injected).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly injections = new Counter({
    name: 'aicb_controller_injections_total',
    help: 'Pod admissions seen by the injector, by result (injected, skipped, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /**
   * Where the alert delivery counts are read at scrape time: the leader sends the policies'
   * alerts in a cluster, so a dead receiver shows in its aicb_alerts_total.
   */
  alertStats: (() => AlertDispatcherStats) | undefined;

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    registerAlertMetrics(this.registry, () => this.alertStats?.());
    if (options.collectProcessMetrics ?? true) collectProcessMetrics(this.registry);
  }
}
