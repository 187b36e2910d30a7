/**
 * Retry delays for calls to the API server: capped exponential growth with jitter, so many
 * controllers (or many watches in one controller) that failed together do not retry in lockstep.
 */

/** Backoff settings in milliseconds. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay. */
  readonly initialMs: number;
  /** No delay ever exceeds this. */
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 = after the first failure): a uniform draw from the
 * upper half of the exponential ceiling. Half is fixed so a burst of failures still slows down;
 * half is random so retries spread out.
 */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (draw * ceiling) / 2);
}

/** Rejects settings that would spin (zero or negative) or never retry, quoting the bad value. */
export function checkBackoffOptions(where: string, options: BackoffOptions): BackoffOptions {
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
