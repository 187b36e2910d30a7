/**
 * One bucket of a window as seen from "now": how long ago it started and what it holds. Used by
 * snapshots (relative ages survive a restart) and by re-bucketing on a config change.
 */
export interface WindowBucket {
  readonly ageMs: number;
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

/**
 * Time-bucketed outcome counters {calls, failures, slow} over the last `windowMs` of monotonic
 * time, split into `bucketCount` buckets aligned to the clock origin.
 *
 * A bucket expires when `bucketStart + windowMs <= now`; every read and write first expires what
 * is due, so an idle gap never leaves stale counts (cockatiel's one-rotation-per-push bug), and no
 * timer is needed. Memory is three typed arrays of `bucketCount` slots plus running totals
 * (subtract on expiry), so a record and a read are O(1) amortised, never a per-call array, and a
 * gap longer than the window clears everything in O(bucketCount).
 */
export class RollingWindow {
  /** Length of the window in ms. */
  readonly windowMs: number;
  /** Number of buckets; the window slides in steps of windowMs / bucketCount. */
  readonly bucketCount: number;
  readonly #calls: Float64Array;
  readonly #failures: Float64Array;
  readonly #slow: Float64Array;
  #totalCalls = 0;
  #totalFailures = 0;
  #totalSlow = 0;
  /** Index of the newest bucket (floor(now * bucketCount / windowMs)); slots hold (head - n, head]. */
  #head = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, bucketCount: number) {
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
      throw new RangeError(`RollingWindow: windowMs must be an integer >= 1, got ${windowMs}`);
    }
    if (!Number.isSafeInteger(bucketCount) || bucketCount < 1 || bucketCount > windowMs) {
      throw new RangeError(
        `RollingWindow: bucketCount must be an integer in 1..${windowMs}, got ${bucketCount}`,
      );
    }
    this.windowMs = windowMs;
    this.bucketCount = bucketCount;
    this.#calls = new Float64Array(bucketCount);
    this.#failures = new Float64Array(bucketCount);
    this.#slow = new Float64Array(bucketCount);
  }

  /** Bucket width in ms (may be fractional when windowMs is not a multiple of bucketCount). */
  get bucketMs(): number {
    return this.windowMs / this.bucketCount;
  }

  /** Slots held in memory; constant for the life of the window (asserted by the memory tests). */
  get slotCount(): number {
    return this.#calls.length;
  }

  /** Index of the bucket that contains monotonic time `nowMs`. */
  bucketIndexAt(nowMs: number): number {
    return Math.floor((nowMs * this.bucketCount) / this.windowMs);
  }

  /** Counts one completed outcome at `nowMs`. */
  add(nowMs: number, failed: boolean, slow: boolean): void {
    this.advance(nowMs);
    // A clock that went backwards lands in the newest bucket rather than corrupting an old one.
    const slot = this.#slotOf(this.#head);
    this.#calls[slot] = (this.#calls[slot] ?? 0) + 1;
    this.#totalCalls += 1;
    if (failed) {
      this.#failures[slot] = (this.#failures[slot] ?? 0) + 1;
      this.#totalFailures += 1;
    }
    if (slow) {
      this.#slow[slot] = (this.#slow[slot] ?? 0) + 1;
      this.#totalSlow += 1;
    }
  }

  /** Completed calls still inside the window at `nowMs`. */
  calls(nowMs: number): number {
    this.advance(nowMs);
    return this.#totalCalls;
  }

  /** Failures still inside the window at `nowMs`. */
  failures(nowMs: number): number {
    this.advance(nowMs);
    return this.#totalFailures;
  }

  /** Slow calls still inside the window at `nowMs`. */
  slow(nowMs: number): number {
    this.advance(nowMs);
    return this.#totalSlow;
  }

  /** Expires every bucket whose start + windowMs <= nowMs. Never moves backwards. */
  advance(nowMs: number): void {
    const index = this.bucketIndexAt(nowMs);
    const head = this.#head;
    if (index <= head) return;
    if (index - head >= this.bucketCount) {
      this.clear();
    } else {
      for (let b = head + 1; b <= index; b++) this.#zero(this.#slotOf(b));
    }
    this.#head = index;
  }

  /** Drops every count in O(bucketCount). */
  clear(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.#totalCalls = 0;
    this.#totalFailures = 0;
    this.#totalSlow = 0;
  }

  /** The non-empty live buckets at `nowMs`, oldest first, with their age relative to nowMs. */
  buckets(nowMs: number): WindowBucket[] {
    this.advance(nowMs);
    const out: WindowBucket[] = [];
    const head = this.#head;
    for (let b = head - this.bucketCount + 1; b <= head; b++) {
      const slot = this.#slotOf(b);
      const calls = this.#calls[slot] ?? 0;
      if (calls === 0) continue;
      out.push({
        ageMs: Math.max(0, nowMs - (b * this.windowMs) / this.bucketCount),
        calls,
        failures: this.#failures[slot] ?? 0,
        slow: this.#slow[slot] ?? 0,
      });
    }
    return out;
  }

  /**
   * Adds counts that were observed `ageMs` before `nowMs` (restore, re-bucketing). Counts that
   * would already have expired are dropped; failures and slow are clamped to calls.
   */
  addAged(nowMs: number, bucket: WindowBucket): void {
    this.advance(nowMs);
    const calls = Math.max(0, Math.floor(bucket.calls));
    if (calls === 0) return;
    const failures = Math.min(calls, Math.max(0, Math.floor(bucket.failures)));
    const slow = Math.min(calls, Math.max(0, Math.floor(bucket.slow)));
    const index = Math.min(this.#head, this.bucketIndexAt(nowMs - Math.max(0, bucket.ageMs)));
    if (index <= this.#head - this.bucketCount) return;
    const slot = this.#slotOf(index);
    this.#calls[slot] = (this.#calls[slot] ?? 0) + calls;
    this.#failures[slot] = (this.#failures[slot] ?? 0) + failures;
    this.#slow[slot] = (this.#slow[slot] ?? 0) + slow;
    this.#totalCalls += calls;
    this.#totalFailures += failures;
    this.#totalSlow += slow;
  }

  #slotOf(index: number): number {
    const n = this.bucketCount;
    return ((index % n) + n) % n;
  }

  #zero(slot: number): void {
    this.#totalCalls -= this.#calls[slot] ?? 0;
    this.#totalFailures -= this.#failures[slot] ?? 0;
    this.#totalSlow -= this.#slow[slot] ?? 0;
    this.#calls[slot] = 0;
    this.#failures[slot] = 0;
    this.#slow[slot] = 0;
  }
}
