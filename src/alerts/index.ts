/**
 * Alerts on circuit transitions: webhook and Slack notifiers behind a background dispatcher.
 * Used by the sidecar in standalone mode and by the controller (once per policy transition).
 * Imports only src/shared, policy types, node built-ins, undici and (for its metrics) prom-client.
 */

/** The alert payload (the webhook JSON), its event kinds, source and counts. */
export type { AlertCounts, AlertEvent, AlertEventKind, AlertSource } from './alert-event.ts';
/** Every alert event kind, in a stable order. */
export { ALERT_EVENT_KINDS } from './alert-event.ts';
/** The dedup key of an alert: circuit (policy, upstream, endpoint, model) plus event. */
export { alertDedupKey } from './alert-event.ts';

/** A target with its resolved URL, its printable reference, and unresolved policy references. */
export type {
  AlertTarget,
  AlertTargetKind,
  AlertTargetRef,
  UnresolvedAlertTarget,
} from './alert-target.ts';
/** Every target kind, in a stable order (one stats entry per kind). */
export { ALERT_TARGET_KINDS } from './alert-target.ts';
/** Builds targets from a snapshot's `alerting` section with the caller's credential resolver. */
export { alertTargetsOf } from './alert-target.ts';
/** Short sha256 of a URL, to name a target in logs without revealing it. */
export { fingerprintUrl } from './alert-target.ts';

/** The dispatcher, its options, configuration, results and stats. */
export type { AlertingConfig, EnqueueResult } from './alert-dispatcher.ts';
export type { AlertDispatcherOptions } from './dispatcher-options.ts';
export type { AlertTargetStatus } from './target-set.ts';
export type { AlertDeliveryResult, DropReason } from './target-queue.ts';
export type { AlertDispatcherStats, AlertTargetKindStats } from './delivery-stats.ts';
/** Fans alerts out to targets in the background: dedup, filter, bounded queues, retries, timeouts. */
export { AlertDispatcher } from './alert-dispatcher.ts';

/** The notifier seam: one attempt to one receiver, reported as a value. */
export type {
  AlertDelivery,
  AlertNotifier,
  DeliveryError,
  DeliveryOutcome,
} from './alert-notifier.ts';
/** Generic JSON webhook notifier (body = the alert JSON). */
export { createWebhookNotifier, type HttpNotifierOptions } from './webhook-notifier.ts';
/** Slack incoming-webhook notifier and the pure message builder behind it. */
export { createSlackNotifier, slackMessageOf, type SlackMessage } from './slack-notifier.ts';
/** Human duration used in messages (`2m13s`). */
export { formatDurationMs } from './slack-notifier.ts';

/** The aicb_alert* delivery metrics, read from a dispatcher's stats at scrape time. */
export { registerAlertMetrics } from './alert-metrics.ts';

/** Option out of range (`AICB_INVALID_ALERT_CONFIG`). */
export { AlertConfigError } from './errors.ts';
