/**
 * Capped exponential backoff, the one formula behind every retry loop in the product (alert
 * delivery, Kubernetes watches and status writes, upstream retries, the sidecar's controller
 * stream). Callers pick the jitter: full jitter (anywhere in [0, ceiling)) where many clients must
 * not retry in step, equal jitter (the upper half) where a minimum pause matters more.
 */

/** Capped exponential backoff settings in milliseconds: the one shape every retry loop takes. */
export interface BackoffSettings {
  /** Ceiling of the first retry's delay. */
  readonly initialMs: number;
  /** No delay ever exceeds this. */
  readonly maxMs: number;
}

/**
 * The delay ceiling before retry number `retry` (1 = the first retry): `baseMs`, doubling per
 * retry, never above `maxMs`. The exponent is clamped so absurd counts cannot overflow.
 */
export function backoffCeilingMs(retry: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(Math.floor(retry) - 1, 0), 52);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/** A random draw clamped to [0, 1): a faulty random source cannot produce the ceiling or more. */
function unit(random: () => number): number {
  const value = random();
  if (!(value > 0)) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}

/** Full jitter: an integer delay in [0, ceiling). */
export function fullJitterMs(ceilingMs: number, random: () => number): number {
  return Math.floor(unit(random) * ceilingMs);
}

/** Equal jitter: a delay in [ceiling / 2, ceiling], rounded. */
export function equalJitterMs(ceilingMs: number, random: () => number): number {
  return Math.round(ceilingMs / 2 + (unit(random) * ceilingMs) / 2);
}
