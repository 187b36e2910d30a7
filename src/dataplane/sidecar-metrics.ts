/**
 * Every Prometheus metric the sidecar exports, in one place (docs/metrics.md lists the same set;
 * a test keeps them equal). Label values come only from the policy (upstream names, endpoint
 * classes) or from fixed vocabularies, never from raw client input, so cardinality is bounded.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../shared/process-metrics.ts';
import type { AlertDispatcherStats } from '../alerts/index.ts';

/** Numeric value of `circuit_breaker_state`, as the reference dashboards expect. */
export const STATE_GAUGE_VALUE = {
  closed: 0,
  metrics_only: 0,
  disabled: 0,
  half_open: 0.5,
  open: 1,
  forced_open: 1,
} as const;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class SidecarMetrics {
  readonly registry = new Registry();

  /**
   * Where the state gauge is read from at scrape time: the circuits' effective states, the same
   * reading /health makes, so an open circuit whose period is over shows 0.5 in both.
   */
  circuitStates:
    | (() => readonly {
        upstream: string;
        endpoint: string;
        state: keyof typeof STATE_GAUGE_VALUE;
      }[])
    | undefined;

  readonly circuitState = new Gauge({
    name: 'circuit_breaker_state',
    help: 'Circuit state per upstream and endpoint class: 0 closed, 0.5 half-open, 1 open (forced open included).',
    labelNames: ['provider', 'endpoint'] as const,
    registers: [this.registry],
    collect: () => {
      const states = this.circuitStates?.();
      if (states === undefined) return;
      // Rebuilt on every scrape: a removed upstream's series goes, a configured one is there
      // from the first policy on, before any traffic.
      this.circuitState.reset();
      for (const s of states) {
        this.circuitState.set(
          { provider: s.upstream, endpoint: s.endpoint },
          STATE_GAUGE_VALUE[s.state],
        );
      }
    },
  });

  readonly circuitFailures = new Counter({
    name: 'circuit_breaker_failures_total',
    help: 'Upstream calls classified as failures, by reason.',
    labelNames: ['provider', 'endpoint', 'reason'] as const,
    registers: [this.registry],
  });

  readonly circuitStateChanges = new Counter({
    name: 'circuit_breaker_state_changes_total',
    help: 'Circuit state transitions.',
    labelNames: ['provider', 'from_state', 'to_state'] as const,
    registers: [this.registry],
  });

  readonly circuitOpenings = new Counter({
    name: 'aicb_circuit_openings_total',
    help: 'Outages: a closed circuit opened (re-trips from half-open belong to the same outage).',
    labelNames: ['provider', 'endpoint'] as const,
    registers: [this.registry],
  });

  readonly circuitOpenDuration = new Histogram({
    name: 'aicb_circuit_open_duration_seconds',
    help: 'How long circuits stayed open, from opening to closing again (one observation per outage).',
    labelNames: ['provider', 'endpoint'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    registers: [this.registry],
  });

  readonly requests = new Counter({
    name: 'aicb_requests_total',
    help: 'Requests received from the app, by requested upstream, endpoint class and result.',
    labelNames: ['provider', 'endpoint', 'result'] as const,
    registers: [this.registry],
  });

  readonly fallbacks = new Counter({
    name: 'aicb_fallbacks_total',
    help: 'Attempts on a fallback target, by requested upstream, target and result.',
    labelNames: ['from', 'to', 'result'] as const,
    registers: [this.registry],
  });

  readonly connectionLimited = new Counter({
    name: 'aicb_connection_limited_total',
    help: "Calls refused because every connection the upstream's maxConnections allows was busy.",
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly shortCircuited = new Counter({
    name: 'aicb_short_circuited_total',
    help: 'Attempts not sent because the target circuit was open (no upstream call, no cost).',
    labelNames: ['provider', 'endpoint', 'reason'] as const,
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'aicb_upstream_duration_seconds',
    help: 'Duration of upstream calls from dispatch to the end of the response.',
    labelNames: ['provider', 'endpoint', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly timeToFirstByte = new Histogram({
    name: 'aicb_time_to_first_byte_seconds',
    help: 'Time from dispatch to the first response byte of an upstream call.',
    labelNames: ['provider', 'endpoint'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'aicb_tokens_total',
    help: 'Tokens reported by providers, by upstream that answered, model (priced or named in the policy, else "other") and kind (input, output).',
    labelNames: ['provider', 'model', 'kind'] as const,
    registers: [this.registry],
  });

  readonly cost = new Counter({
    name: 'aicb_cost_usd_total',
    help: 'Estimated cost in USD of answered calls (usage x the policy price table), by upstream and model.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });

  readonly fallbackCost = new Counter({
    name: 'aicb_fallback_cost_usd_total',
    help: 'Estimated cost in USD of answers served by a fallback, by requested and serving upstream.',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });

  readonly fallbackRequestedCost = new Counter({
    name: 'aicb_fallback_requested_cost_usd_total',
    help: 'What the same fallback answers would have cost on the requested model (same token counts).',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });

  readonly waitAvoided = new Counter({
    name: 'aicb_wait_avoided_seconds_total',
    help: 'Upstream time short-circuited requests did not spend waiting: each rejection adds the mean time-to-failure of the last failed calls to that upstream.',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'aicb_retries_total',
    help: 'Retry decisions after a failed attempt: retried, or why not (attempts_exhausted, retry_after_too_long, budget_exhausted, not_retryable, circuit_open).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });

  readonly configReloads = new Counter({
    name: 'aicb_config_reloads_total',
    help: 'Policy loads by result (applied, rejected, unchanged).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly configInfo = new Gauge({
    name: 'aicb_config_info',
    help: 'The policy in force (value 1), labelled with its name and the first 12 characters of its hash.',
    labelNames: ['policy', 'hash'] as const,
    registers: [this.registry],
  });

  /** Where alert counters are read from at scrape time (set when alerting runs here). */
  alertStats: (() => AlertDispatcherStats) | undefined;

  readonly alerts = new Counter({
    name: 'aicb_alerts_total',
    help: 'Alert deliveries by target kind and result (sent, failed, dropped).',
    labelNames: ['target', 'result'] as const,
    registers: [this.registry],
    collect: () => {
      const stats = this.alertStats?.();
      if (stats === undefined) return;
      this.alerts.reset();
      for (const [target, s] of Object.entries(stats.targets)) {
        this.alerts.inc({ target, result: 'sent' }, s.sent);
        this.alerts.inc({ target, result: 'failed' }, s.failed);
        this.alerts.inc({ target, result: 'dropped' }, s.dropped);
      }
    },
  });

  readonly alertRetries = new Counter({
    name: 'aicb_alert_retries_total',
    help: 'Alert delivery retries (and timeouts among them) by target kind.',
    labelNames: ['target', 'cause'] as const,
    registers: [this.registry],
    collect: () => {
      const stats = this.alertStats?.();
      if (stats === undefined) return;
      this.alertRetries.reset();
      for (const [target, s] of Object.entries(stats.targets)) {
        this.alertRetries.inc({ target, cause: 'any' }, s.retried);
        this.alertRetries.inc({ target, cause: 'timeout' }, s.timedOut);
      }
    },
  });

  readonly alertsSuppressed = new Counter({
    name: 'aicb_alerts_suppressed_total',
    help: 'Alerts not sent: a repeat within the dedup window, an event not in alerting.events, or malformed.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
    collect: () => {
      const stats = this.alertStats?.();
      if (stats === undefined) return;
      this.alertsSuppressed.reset();
      this.alertsSuppressed.inc({ reason: 'duplicate' }, stats.deduplicated);
      this.alertsSuppressed.inc({ reason: 'filtered' }, stats.filtered);
      this.alertsSuppressed.inc({ reason: 'invalid' }, stats.invalid);
    },
  });

  readonly alertQueue = new Gauge({
    name: 'aicb_alert_queue_depth',
    help: 'Alerts waiting or in flight, by target kind.',
    labelNames: ['target'] as const,
    registers: [this.registry],
    collect: () => {
      const stats = this.alertStats?.();
      if (stats === undefined) return;
      for (const [target, s] of Object.entries(stats.targets))
        this.alertQueue.set({ target }, s.queued + s.inFlight);
    },
  });

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics ?? true) collectProcessMetrics(this.registry);
  }
}

/** Names of every metric declared above (process_* and nodejs_* defaults excluded). */
export function declaredMetricNames(metrics: SidecarMetrics): string[] {
  return metrics.registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((name) => !name.startsWith('process_') && !name.startsWith('nodejs_'))
    .sort();
}
