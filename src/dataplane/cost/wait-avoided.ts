/**
 * How long calls to an upstream took when they failed, so a request the open circuit fails fast
 * can be credited with the upstream time it did not spend waiting. The figure is measured, never
 * invented: no estimate exists until a failure of that upstream was seen.
 */

/** Failures remembered per upstream: enough to smooth one outlier, few enough to follow a change. */
export const FAILURE_SAMPLES = 16;

/** The last failure durations of one upstream, with their running sum. */
interface Ring {
  readonly samples: Float64Array;
  next: number;
  count: number;
  sum: number;
}

/**
 * Mean duration of each upstream's last `FAILURE_SAMPLES` failed calls. A plain mean over a
 * small ring rather than an EWMA: "time not spent waiting" is summed over requests, and the mean
 * of recent failures is the unbiased per-request figure for that sum; it needs no smoothing
 * constant to justify, and it keeps the failures that opened a circuit (an open circuit sends
 * no calls, so nothing displaces them) until probes replace them. O(1) per record, fixed memory.
 */
export class FailureLatency {
  readonly #rings = new Map<string, Ring>();

  /** Records the duration of one failed call (connect to failure), in milliseconds. */
  record(upstream: string, durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) return;
    let ring = this.#rings.get(upstream);
    if (ring === undefined) {
      ring = { samples: new Float64Array(FAILURE_SAMPLES), next: 0, count: 0, sum: 0 };
      this.#rings.set(upstream, ring);
    }
    const evicted = ring.count === FAILURE_SAMPLES ? (ring.samples[ring.next] ?? 0) : 0;
    ring.samples[ring.next] = durationMs;
    ring.next = (ring.next + 1) % FAILURE_SAMPLES;
    if (ring.count < FAILURE_SAMPLES) ring.count++;
    ring.sum += durationMs - evicted;
    // A running sum drifts with floating-point error; recompute it once per lap of the ring.
    if (ring.next === 0) ring.sum = ring.samples.reduce((a, b) => a + b, 0);
  }

  /** The mean of the upstream's recent failure durations; undefined until one was recorded. */
  estimateMs(upstream: string): number | undefined {
    const ring = this.#rings.get(upstream);
    return ring === undefined || ring.count === 0 ? undefined : ring.sum / ring.count;
  }

  /** Forgets upstreams a new policy no longer names, so memory follows the policy. */
  retain(upstreams: ReadonlySet<string>): void {
    for (const name of this.#rings.keys()) if (!upstreams.has(name)) this.#rings.delete(name);
  }
}
