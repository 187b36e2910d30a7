/**
 * The alert payload: what a webhook receives as JSON and what the Slack message is written from.
 * It is its own contract, independent of breaker internals, so the sidecar (one breaker) and the
 * controller (a policy's view over many sidecars) can both produce it and receivers never see an
 * engine type change.
 */
import type { AlertEvent as PolicyAlertEvent } from '../policy/policy-schema.ts';

/** Which transition an alert reports; the same vocabulary as `spec.alerting.on`. */
export type AlertEventKind = 'opened' | 'halfOpen' | 'closed' | 'allTargetsOpen';

/** Every alert event kind, in a stable order. */
export const ALERT_EVENT_KINDS: readonly AlertEventKind[] = Object.freeze([
  'opened',
  'halfOpen',
  'closed',
  'allTargetsOpen',
]);

// The policy's `on` list and this payload must speak the same vocabulary; fails to compile otherwise.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;
/** Compile-time proof that alert kinds and `spec.alerting.on` agree. */
export type AlertKindsAgree = Expect<Same<AlertEventKind, PolicyAlertEvent>>;

/** Who raised the alert. */
export interface AlertSource {
  /** `sidecar` in standalone mode, `controller` when aggregated over a policy's sidecars. */
  readonly kind: 'sidecar' | 'controller';
  /** Pod name, hostname or controller replica: whatever lets an operator find the emitter. */
  readonly id: string;
}

/** Numbers behind the transition; each is present only when the source knows it. */
export interface AlertCounts {
  /** Failures in a row that tripped the circuit (for `consecutive_failures`). */
  readonly consecutiveFailures?: number;
  /** Failures inside the rolling window when the transition happened. */
  readonly windowFailures?: number;
  /** Completed calls inside the rolling window when the transition happened. */
  readonly windowCalls?: number;
  /** How many times this circuit has opened in its current flapping streak (backoff attempt). */
  readonly openings?: number;
  /** Sidecars of the policy that report this circuit (controller alerts). */
  readonly sidecars?: number;
  /** Of those, how many see it open (controller alerts). */
  readonly openSidecars?: number;
  /** Requests refused because every target was open, since the previous alert look (`allTargetsOpen`, controller alerts). */
  readonly refusedRequests?: number;
}

/** One alert. Plain JSON data: the webhook body is exactly `JSON.stringify(alert)`. */
export interface AlertEvent {
  /** The transition: `opened`, `halfOpen`, `closed` (recovered) or `allTargetsOpen` (no fallback left). */
  readonly event: AlertEventKind;
  /** The AICircuitPolicy that governs the circuit. */
  readonly policy: { readonly namespace: string; readonly name: string };
  /** Upstream name from the policy (`openai`, `anthropic`, ...). */
  readonly upstream: string;
  /** Endpoint class of the circuit (`chat`, `embeddings`, ...), or `all` when keyed by upstream. */
  readonly endpoint: string;
  /** Model of the circuit when the policy keys breakers by model. */
  readonly model?: string;
  /** State before the transition, as in the metrics (`closed`, `open`, `half_open`, `forced_open`, ...). */
  readonly fromState: string;
  /** State after the transition; for `allTargetsOpen`, the state of the requested upstream's circuit. */
  readonly toState: string;
  /** Machine reason of the transition (`consecutive_failures`, `failure_rate`, `probe_failure`, `force_open`, ...). */
  readonly reason: string;
  /** Class of the last failure before opening (`server_error`, `overloaded`, `rate_limited`, `total_timeout`, ...). */
  readonly lastFailure?: string;
  /** Operator's note for manual transitions (force open / closed). */
  readonly note?: string;
  /** Numbers behind the transition. */
  readonly counts: AlertCounts;
  /** Length of the open period just started (`opened`), or of the one that ended (`halfOpen`). */
  readonly openForMs?: number;
  /** Time from the first opening to recovery (`closed`): how long the outage lasted. */
  readonly outageDurationMs?: number;
  /** ISO time when a probe will be allowed again (`opened`, `allTargetsOpen`). */
  readonly retryAt?: string;
  /** ISO time of the transition (wall clock of the source). */
  readonly at: string;
  /** Who raised it. */
  readonly source: AlertSource;
}

/**
 * The dedup key: one circuit (policy, upstream, endpoint, model) and one transition kind.
 * Joined with a separator that cannot occur in Kubernetes names or endpoint classes.
 */
export function alertDedupKey(alert: AlertEvent): string {
  return `${alert.policy.namespace}\u0000${alert.policy.name}\u0000${alert.upstream}\u0000${alert.endpoint}\u0000${alert.model ?? ''}\u0000${alert.event}`;
}
