/**
 * Retry delays for calls to the API server: capped exponential growth with jitter, so many
 * controllers (or many watches in one controller) that failed together do not retry in lockstep.
 */
import { backoffCeilingMs, equalJitterMs, type BackoffSettings } from '../../shared/backoff.ts';

/**
 * Delay before retry number `attempt` (1 = after the first failure): a uniform draw from the
 * upper half of the exponential ceiling. Half is fixed so a burst of failures still slows down;
 * half is random so retries spread out.
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffSettings,
  random: () => number = Math.random,
): number {
  return equalJitterMs(backoffCeilingMs(attempt, options.initialMs, options.maxMs), random);
}

/** Rejects settings that would spin (zero or negative) or never retry, quoting the bad value. */
export function checkBackoffOptions(where: string, options: BackoffSettings): BackoffSettings {
  if (!(options.initialMs > 0) || !Number.isFinite(options.initialMs)) {
    throw new RangeError(`${where}: backoff.initialMs must be > 0, got ${options.initialMs}`);
  }
  if (!(options.maxMs >= options.initialMs) || !Number.isFinite(options.maxMs)) {
    throw new RangeError(
      `${where}: backoff.maxMs must be >= initialMs (${options.initialMs}), got ${options.maxMs}`,
    );
  }
  return options;
}
