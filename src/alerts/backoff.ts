/**
 * Retry delays: exponential backoff with full jitter (a uniform draw between 0 and the
 * exponential ceiling), so many sidecars that lost the same receiver at once do not retry in
 * lockstep and hammer it when it comes back.
 */
import {
  backoffCeilingMs as sharedCeilingMs,
  fullJitterMs,
  type BackoffSettings,
} from '../shared/backoff.ts';

/** Ceiling of the delay before retry number `retry` (1 = after the first failed attempt). */
export function backoffCeilingMs(retry: number, settings: BackoffSettings): number {
  return sharedCeilingMs(retry, settings.initialMs, settings.maxMs);
}

export function retryDelayMs(
  retry: number,
  settings: BackoffSettings,
  random: () => number,
  retryAfterMs?: number,
): number {
  const jittered = fullJitterMs(backoffCeilingMs(retry, settings), random);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, settings.maxMs));
}
