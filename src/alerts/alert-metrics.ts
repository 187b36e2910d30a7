/**
 * The alert delivery metrics (`aicb_alert*`), registered wherever alerts are sent: the sidecar in
 * standalone mode and the controller in a cluster. The counts live in the dispatchers and are read
 * at scrape time, so delivery never waits on metrics and the series cannot drift from the stats.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertDispatcherStats } from './delivery-stats.ts';

/** The four alert series; `stats` returns undefined while nothing sends alerts here. */
export function registerAlertMetrics(
  registry: Registry,
  stats: () => AlertDispatcherStats | undefined,
): void {
  const alerts = new Counter<'target' | 'result'>({
    name: 'aicb_alerts_total',
    help: 'Alert deliveries by target kind and result (sent, failed, dropped).',
    labelNames: ['target', 'result'] as const,
    registers: [registry],
    collect: () => {
      const s = stats();
      if (s === undefined) return;
      alerts.reset();
      for (const [target, t] of Object.entries(s.targets)) {
        alerts.inc({ target, result: 'sent' }, t.sent);
        alerts.inc({ target, result: 'failed' }, t.failed);
        alerts.inc({ target, result: 'dropped' }, t.dropped);
      }
    },
  });
  const retries = new Counter<'target' | 'cause'>({
    name: 'aicb_alert_retries_total',
    help: 'Alert delivery retries (and timeouts among them) by target kind.',
    labelNames: ['target', 'cause'] as const,
    registers: [registry],
    collect: () => {
      const s = stats();
      if (s === undefined) return;
      retries.reset();
      for (const [target, t] of Object.entries(s.targets)) {
        retries.inc({ target, cause: 'any' }, t.retried);
        retries.inc({ target, cause: 'timeout' }, t.timedOut);
      }
    },
  });
  const suppressed = new Counter<'reason'>({
    name: 'aicb_alerts_suppressed_total',
    help: 'Alerts not sent: a repeat within the dedup window, an event not in alerting.events, or malformed.',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect: () => {
      const s = stats();
      if (s === undefined) return;
      suppressed.reset();
      suppressed.inc({ reason: 'duplicate' }, s.deduplicated);
      suppressed.inc({ reason: 'filtered' }, s.filtered);
      suppressed.inc({ reason: 'invalid' }, s.invalid);
    },
  });
  const queue = new Gauge<'target'>({
    name: 'aicb_alert_queue_depth',
    help: 'Alerts waiting or in flight, by target kind.',
    labelNames: ['target'] as const,
    registers: [registry],
    collect: () => {
      const s = stats();
      if (s === undefined) return;
      for (const [target, t] of Object.entries(s.targets))
        queue.set({ target }, t.queued + t.inFlight);
    },
  });
}
