/**
 * Retry delays: exponential backoff with full jitter (a uniform draw between 0 and the
 * exponential ceiling), so many sidecars that lost the same receiver at once do not retry in
 * lockstep and hammer it when it comes back.
 */
import { backoffCeilingMs as sharedCeilingMs, fullJitterMs } from '../shared/backoff.ts';

/** Backoff settings, in milliseconds. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay. */
  readonly baseDelayMs: number;
  /** No delay ever exceeds this. */
  readonly maxDelayMs: number;
}

/** Ceiling of the delay before retry number `retry` (1 = after the first failed attempt). */
export function backoffCeilingMs(retry: number, options: BackoffOptions): number {
  return sharedCeilingMs(retry, options.baseDelayMs, options.maxDelayMs);
}

export function retryDelayMs(
  retry: number,
  options: BackoffOptions,
  random: () => number,
  retryAfterMs?: number,
): number {
  const jittered = fullJitterMs(backoffCeilingMs(retry, options), random);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, options.maxDelayMs));
}
