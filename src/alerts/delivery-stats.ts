/**
 * The dispatcher's counters: what `enqueue` admitted or refused, and per target kind what became
 * of each delivery. The queues bump the counters as things happen; the gauges (queued, in flight)
 * are read from the queues when a snapshot is taken, so they cannot drift.
 */
import type { AlertTargetKind, AlertTargetRef } from './alert-target.ts';

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

/** The monotonic counters of one target kind, bumped by its queues. */
export interface DeliveryCounters {
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  timedOut: number;
}

/** What `enqueue` decided, counted (monotonic). */
export interface AdmissionCounters {
  accepted: number;
  invalid: number;
  filtered: number;
  deduplicated: number;
}

/** The gauges of one target's queue. */
export interface QueueGauges {
  readonly ref: AlertTargetRef;
  /** Deliveries waiting (queued or between retries). */
  readonly queued: number;
  readonly inFlight: number;
}

/** Every counter of one dispatcher. */
export class DeliveryStats {
  readonly admission: AdmissionCounters = {
    accepted: 0,
    invalid: 0,
    filtered: 0,
    deduplicated: 0,
  };
  readonly #byKind: Record<AlertTargetKind, DeliveryCounters> = {
    webhook: newCounters(),
    slack: newCounters(),
  };

  /** The counters the queues of `kind` bump. */
  countersOf(kind: AlertTargetKind): DeliveryCounters {
    return this.#byKind[kind];
  }

  /** The counters, with the gauges summed over `queues` (retired ones included). */
  snapshot(queues: Iterable<QueueGauges>): AlertDispatcherStats {
    const gauges: Record<AlertTargetKind, { queued: number; inFlight: number }> = {
      webhook: { queued: 0, inFlight: 0 },
      slack: { queued: 0, inFlight: 0 },
    };
    for (const queue of queues) {
      const gauge = gauges[queue.ref.kind];
      gauge.queued += queue.queued;
      gauge.inFlight += queue.inFlight;
    }
    return {
      ...this.admission,
      targets: {
        webhook: { ...this.#byKind.webhook, ...gauges.webhook },
        slack: { ...this.#byKind.slack, ...gauges.slack },
      },
    };
  }
}

function newCounters(): DeliveryCounters {
  return { sent: 0, failed: 0, retried: 0, dropped: 0, timedOut: 0 };
}
