/**
 * Retry delays: exponential backoff with full jitter (a uniform draw between 0 and the
 * exponential ceiling), so many sidecars that lost the same receiver at once do not retry in
 * lockstep and hammer it when it comes back.
 */

/** Backoff settings, in milliseconds. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay. */
  readonly baseDelayMs: number;
  /** No delay ever exceeds this. */
  readonly maxDelayMs: number;
}

/** Ceiling of the delay before retry number `retry` (1 = after the first failed attempt). */
export function backoffCeilingMs(retry: number, options: BackoffOptions): number {
  // Math.min before the power would overflow to Infinity for large retry counts anyway; clamp the exponent.
  const exponent = Math.min(Math.max(retry - 1, 0), 52);
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
}

/**
 * Delay before retry number `retry`: `floor(random() * ceiling)`, in [0, ceiling). A receiver's
 * `Retry-After` raises it (never above `maxDelayMs`): the receiver knows best when it is back.
 */
export function retryDelayMs(
  retry: number,
  options: BackoffOptions,
  random: () => number,
  retryAfterMs?: number,
): number {
  const jittered = Math.floor(clampUnit(random()) * backoffCeilingMs(retry, options));
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, options.maxDelayMs));
}

// An injected random source outside [0, 1) must not produce negative or oversized delays.
function clampUnit(value: number): number {
  if (!(value > 0)) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}
