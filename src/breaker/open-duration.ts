import type { BreakerConfig } from './breaker-config.ts';

/** Uniform random source in [0, 1); injected so tests and benches are deterministic. */
export type RandomSource = () => number;

/**
 * Upper bound of the open period for the `attempt`-th consecutive open (1-based):
 * min(maxMs, base * multiplier^(attempt - 1)), in whole ms. Attempts below 1 count as 1.
 */
export function backoffCapMs(
  baseMs: number,
  multiplier: number,
  maxMs: number,
  attempt: number,
): number {
  const exponent = Math.max(0, attempt - 1);
  const grown = baseMs * multiplier ** exponent;
  return Math.min(maxMs, Math.floor(grown));
}

/**
 * Jitter applied downwards after the cap: cap * (1 - jitter * U[0,1)), rounded up to whole ms.
 * The result stays in [cap * (1 - jitter), cap], so the cap is never exceeded and retries still
 * spread when every breaker sits at the cap (resilience4j caps after jitter and loses it).
 */
export function jitterDownMs(capMs: number, jitter: number, random: RandomSource): number {
  if (jitter === 0 || capMs === 0) return capMs;
  const u = Math.min(Math.max(random(), 0), 1);
  return Math.min(capMs, Math.ceil(capMs * (1 - jitter * u)));
}

/** A Retry-After hint clamped to [0, maxRetryAfterMs]; NaN and negatives count as no hint. */
export function clampRetryAfterMs(retryAfterMs: number, maxRetryAfterMs: number): number {
  return retryAfterMs > 0 ? Math.min(retryAfterMs, maxRetryAfterMs) : 0;
}

/**
 * How long the breaker stays open when it opens for the `attempt`-th time in a row:
 * max(jittered backoff, clamped Retry-After). Retry-After extends the period, never shortens it.
 */
export function openDurationMs(
  config: BreakerConfig,
  attempt: number,
  retryAfterMs: number,
  random: RandomSource,
): number {
  const { multiplier, maxMs, jitter } = config.recoveryBackoff;
  const cap = backoffCapMs(config.recoveryTimeoutMs, multiplier, maxMs, attempt);
  const backoff = jitterDownMs(cap, jitter, random);
  return Math.max(backoff, clampRetryAfterMs(retryAfterMs, config.maxRetryAfterMs));
}
