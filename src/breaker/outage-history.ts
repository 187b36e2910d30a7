/**
 * Outages: the one model of "this circuit is down" that alerts, metrics, health and status all
 * read, so they can never disagree (they used to keep three trackers with three sets of rules).
 *
 * A circuit is down while it rejects on its own account: `open`, `half_open` (still probing) and
 * `forced_open`. It is up in `closed`, `metrics_only` (forced closed: every call goes through)
 * and `disabled`. An outage starts when a circuit goes from up to down and ends when it goes from
 * down to up, whatever moved it (failures, probes, operator overrides, their expiry); inside an
 * outage a circuit may probe and re-open any number of times. So forcing a circuit open and
 * then closed is one outage of exactly that length, and a later one starts afresh.
 *
 * Pure: it folds the breaker's own `stateChange` events (wall time included), so the sidecar
 * feeds it from its registry and the controller can feed it from any sequence of transitions.
 */
import type { StateChangeEvent } from './breaker-events.ts';
import type { BreakerStateKind } from './breaker-state.ts';
import { Emitter } from '../shared/emitter.ts';

/** Whether a state rejects calls on the circuit's own account. */
export function isDown(state: BreakerStateKind): boolean {
  return state === 'open' || state === 'half_open' || state === 'forced_open';
}

/** What is known of one circuit's outages. */
export interface OutageRecord {
  /** Wall time the current outage began; null while up. */
  readonly currentSinceWallMs: number | null;
  /** Wall time the current or last outage began; null if never down. */
  readonly lastOpenedAtWallMs: number | null;
  /** Wall time the last outage ended; null if none ended yet. */
  readonly lastRecoveredAtWallMs: number | null;
  /** Length of the last outage that ended. */
  readonly lastDurationMs: number | null;
  /** Outages begun since the circuit was first seen (the current one included). */
  readonly outages: number;
}

/**
 * What one transition meant for its circuit's outage. `started` and `ended` bracket an outage;
 * `probing` (to half_open) and `reopened` (a failed probe, or an operator forcing an already
 * open circuit) happen inside one. Transitions between up states mean nothing here.
 */
export type OutageChange =
  | { readonly kind: 'started'; readonly event: StateChangeEvent; readonly record: OutageRecord }
  | { readonly kind: 'probing'; readonly event: StateChangeEvent; readonly record: OutageRecord }
  | { readonly kind: 'reopened'; readonly event: StateChangeEvent; readonly record: OutageRecord }
  | {
      readonly kind: 'ended';
      readonly event: StateChangeEvent;
      readonly record: OutageRecord;
      /** From the transition that started the outage to this one. */
      readonly durationMs: number;
    };

const NEVER: OutageRecord = {
  currentSinceWallMs: null,
  lastOpenedAtWallMs: null,
  lastRecoveredAtWallMs: null,
  lastDurationMs: null,
  outages: 0,
};

export class OutageHistory {
  /** Every outage change, after the record was updated (subscribers may read `get`). */
  readonly changes: Emitter<OutageChange>;
  readonly #records = new Map<string, OutageRecord>();

  constructor(onListenerError?: (error: unknown) => void) {
    this.changes = new Emitter(onListenerError);
  }

  /** The record of a circuit; a circuit never seen down has the empty record. */
  get(key: string): OutageRecord {
    return this.#records.get(key) ?? NEVER;
  }

  /** Drops a circuit that no longer exists (evicted, or its upstream removed). */
  forget(key: string): void {
    this.#records.delete(key);
  }

  /** Folds one transition in and announces what it meant; undefined when nothing. */
  observe(e: StateChangeEvent): OutageChange | undefined {
    const before = this.get(e.key);
    const wasDown = isDown(e.from);
    const nowDown = isDown(e.to);
    let change: OutageChange | undefined;
    if (!wasDown && nowDown) {
      const record: OutageRecord = {
        ...before,
        currentSinceWallMs: e.atWallMs,
        lastOpenedAtWallMs: e.atWallMs,
        outages: before.outages + 1,
      };
      this.#records.set(e.key, record);
      change = { kind: 'started', event: e, record };
    } else if (wasDown && !nowDown) {
      // A circuit restored in a down state has no start on record; its outage is measured from
      // the restore.
      const since = before.currentSinceWallMs ?? e.atWallMs;
      const durationMs = Math.max(0, e.atWallMs - since);
      const record: OutageRecord = {
        ...before,
        currentSinceWallMs: null,
        lastRecoveredAtWallMs: e.atWallMs,
        lastDurationMs: durationMs,
      };
      this.#records.set(e.key, record);
      change = { kind: 'ended', event: e, record, durationMs };
    } else if (wasDown && nowDown) {
      change =
        e.to === 'half_open'
          ? { kind: 'probing', event: e, record: before }
          : { kind: 'reopened', event: e, record: before };
    }
    if (change !== undefined) this.changes.emit(change);
    return change;
  }
}
