/**
 * When each circuit last opened and last recovered, and how long its current outage has lasted:
 * the facts an operator asks first ("since when is it down?", "when did it come back?"). An
 * outage starts when a closed circuit opens and ends when it closes again; re-trips from
 * half-open belong to the same outage.
 */
import type { StateChangeEvent } from '../breaker/breaker-events.ts';

export interface OutageRecord {
  /** Wall time the current or last outage began. */
  lastOpenedAtWallMs: number | null;
  /** Wall time the last outage ended. */
  lastRecoveredAtWallMs: number | null;
  /** Set while an outage lasts. */
  outageStartWallMs: number | null;
}

export type OutageChange =
  | { readonly kind: 'started' }
  | { readonly kind: 'ended'; readonly durationMs: number }
  | { readonly kind: 'none' };

const NONE: OutageChange = { kind: 'none' };

export class OutageHistory {
  readonly #records = new Map<string, OutageRecord>();

  get(key: string): OutageRecord | undefined {
    return this.#records.get(key);
  }

  forget(key: string): void {
    this.#records.delete(key);
  }

  /** Folds one transition in; tells whether an outage started or ended with it. */
  observe(e: StateChangeEvent): OutageChange {
    const record = this.#records.get(e.key) ?? {
      lastOpenedAtWallMs: null,
      lastRecoveredAtWallMs: null,
      outageStartWallMs: null,
    };
    this.#records.set(e.key, record);
    const opened = e.to === 'open' || e.to === 'forced_open';
    if (opened && record.outageStartWallMs === null) {
      record.outageStartWallMs = e.atWallMs;
      record.lastOpenedAtWallMs = e.atWallMs;
      return { kind: 'started' };
    }
    if (
      (e.to === 'closed' || e.to === 'metrics_only' || e.to === 'disabled') &&
      record.outageStartWallMs !== null
    ) {
      const durationMs = e.atWallMs - record.outageStartWallMs;
      record.outageStartWallMs = null;
      record.lastRecoveredAtWallMs = e.atWallMs;
      return { kind: 'ended', durationMs };
    }
    return NONE;
  }
}
