/**
 * Which alerts are worth sending: the policy's `on` list picks the transitions, and the dedup
 * window sends the same transition of the same circuit at most once per window, so N sidecars
 * that see one outage raise one alert. Every target receives what passes; nothing here is per
 * target.
 */
import type { Clock } from '../shared/clock.ts';
import {
  ALERT_EVENT_KINDS,
  alertDedupKey,
  type AlertEvent,
  type AlertEventKind,
} from './alert-event.ts';
import { AlertConfigError } from './errors.ts';

// Bounds the dedup memory when a fleet has many circuits; the oldest key is forgotten first.
const MAX_DEDUP_KEYS = 10_000;

/** Throws `AlertConfigError` for an unknown event in `on` or a negative or non-finite window. */
export function checkFilterConfig(on: readonly AlertEventKind[], dedupWindowMs: number): void {
  for (const event of on) {
    if (!ALERT_EVENT_KINDS.includes(event)) {
      throw new AlertConfigError(`alerts: unknown event in on: ${JSON.stringify(event)}`);
    }
  }
  if (!Number.isFinite(dedupWindowMs) || dedupWindowMs < 0) {
    throw new AlertConfigError(
      `alerts: dedupWindowMs must be a finite number >= 0, got ${dedupWindowMs}`,
    );
  }
}

/** The `on` filter and the dedup window. Its memory outlives a reload, so a reload never re-sends. */
export class AlertFilter {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  #on = new Set<AlertEventKind>();
  #windowMs = 0;
  /** Key -> monotonic time it was last accepted; insertion order is time order. */
  readonly #lastAccepted = new Map<string, number>();

  constructor(clock: Clock, maxKeys: number = MAX_DEDUP_KEYS) {
    this.#clock = clock;
    this.#maxKeys = maxKeys;
  }

  /** Applies a checked configuration (see `checkFilterConfig`). */
  configure(on: readonly AlertEventKind[], dedupWindowMs: number): void {
    this.#on = new Set(on);
    this.#windowMs = dedupWindowMs;
  }

  /** The events that pass, for logs. */
  get on(): AlertEventKind[] {
    return [...this.#on];
  }

  /** Whether the alert's event is in `on`. */
  wants(alert: AlertEvent): boolean {
    return this.#on.has(alert.event);
  }

  /**
   * Whether the same transition was accepted less than the window ago; when not, remembers this
   * one as accepted now. A window of 0 sends everything and remembers nothing.
   */
  isDuplicate(alert: AlertEvent): boolean {
    const windowMs = this.#windowMs;
    if (windowMs <= 0) return false;
    const nowMs = this.#clock.nowMs();
    // Forget expired keys from the oldest end: each key is deleted once, so this is amortized O(1).
    for (const [key, atMs] of this.#lastAccepted) {
      if (nowMs - atMs < windowMs) break;
      this.#lastAccepted.delete(key);
    }
    const key = alertDedupKey(alert);
    const lastMs = this.#lastAccepted.get(key);
    if (lastMs !== undefined && nowMs - lastMs < windowMs) return true;
    // Re-insert so the map stays in time order.
    this.#lastAccepted.delete(key);
    this.#lastAccepted.set(key, nowMs);
    if (this.#lastAccepted.size > this.#maxKeys) {
      const oldest = this.#lastAccepted.keys().next();
      if (oldest.done !== true) this.#lastAccepted.delete(oldest.value);
    }
    return false;
  }
}

// A cheap check of what delivery and dedup read, for callers outside the type system.
export function isAlertShaped(alert: AlertEvent): boolean {
  const value = alert as Partial<AlertEvent> | null;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof value.event === 'string' &&
    typeof value.policy?.namespace === 'string' &&
    typeof value.policy.name === 'string' &&
    typeof value.upstream === 'string' &&
    typeof value.endpoint === 'string'
  );
}
