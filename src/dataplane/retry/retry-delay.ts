/**
 * Whether and when to retry a failed attempt on the same target (`spec.retry`): only the listed
 * failure kinds, at most `attempts` times, after an exponential backoff with full jitter (so
 * clients that failed together do not retry together), honouring a provider's Retry-After up to
 * a cap beyond which moving down the chain beats sleeping, and only while the budget allows.
 * The caller ensures nothing has reached the app yet. Pure: randomness and budget are passed in.
 */
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import { backoffCeilingMs, fullJitterMs } from '../../shared/backoff.ts';
import type { FailureReason } from '../classify-outcome.ts';

/** The compiled `spec.retry`. */
export type RetryConfig = PolicySnapshot['retry'];

/** The backoff settings the delay formula needs. */
export type BackoffConfig = Pick<RetryConfig, 'backoffBaseMs' | 'backoffMaxMs'>;

/**
 * Why a failed attempt is not retried; bounded, used as a metric label. `circuit_open` is decided
 * by the caller (the failure just opened the target's circuit), the others by retryPlan.
 */
export type NoRetryReason =
  | 'not_retryable'
  | 'attempts_exhausted'
  | 'retry_after_too_long'
  | 'budget_exhausted'
  | 'circuit_open';

/** The decision for one failed attempt. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly why: NoRetryReason };

// Refusals are shared constants: deciding not to retry allocates nothing.
const NOT_RETRYABLE: RetryDecision = Object.freeze({ retry: false, why: 'not_retryable' });
const ATTEMPTS_EXHAUSTED: RetryDecision = Object.freeze({
  retry: false,
  why: 'attempts_exhausted',
});
const RETRY_AFTER_TOO_LONG: RetryDecision = Object.freeze({
  retry: false,
  why: 'retry_after_too_long',
});
const BUDGET_EXHAUSTED: RetryDecision = Object.freeze({ retry: false, why: 'budget_exhausted' });

/**
 * Delay before retry number `attempt` (1 = the first retry): full jitter over an exponential
 * ceiling, `random() × min(max, base × 2^(attempt−1))`, whole milliseconds. Full jitter spreads
 * a crowd of synchronized failures over the whole interval, which empties a brown-out fastest.
 */
export function retryDelayMs(
  attempt: number,
  backoff: BackoffConfig,
  random: () => number,
): number {
  return fullJitterMs(
    backoffCeilingMs(attempt, backoff.backoffBaseMs, backoff.backoffMaxMs),
    random,
  );
}

/**
 * The decision after attempt number `attempt` (1 = the first try) failed for `reason`. Checks
 * run cheapest and most final first; the budget is asked last, and only when the retry would
 * otherwise happen, because asking spends it.
 */
export function retryPlan(
  reason: FailureReason,
  retryAfterMs: number | undefined,
  attempt: number,
  config: RetryConfig,
  budgetAllows: () => boolean,
  random: () => number = Math.random,
): RetryDecision {
  // Every retryable kind is a failure reason; widening the list lets it be searched by one.
  const retryable: readonly FailureReason[] = config.retryOn;
  if (!retryable.includes(reason)) return NOT_RETRYABLE;
  if (attempt > config.attempts) return ATTEMPTS_EXHAUSTED;
  const wait = retryAfterMs === undefined ? 0 : Math.max(0, retryAfterMs);
  // Sleeping longer than the cap would hold the app's request hostage to one provider; the
  // fallback chain is the faster answer.
  if (wait > config.maxRetryAfterMs) return RETRY_AFTER_TOO_LONG;
  if (!budgetAllows()) return BUDGET_EXHAUSTED;
  return { retry: true, delayMs: Math.max(retryDelayMs(attempt, config, random), wait) };
}
