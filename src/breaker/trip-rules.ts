import type { AdaptiveTier, BreakerConfig, RateRule } from './breaker-config.ts';

/** Why a closed breaker should open; also the `kind` of a thresholdExceeded event. */
export type TripReason = 'consecutive_failures' | 'failure_rate' | 'slow_call_rate';

/**
 * One "should I open?" strategy, kept apart from the state machine (cockatiel's IBreaker) so each
 * comparison is tested on its own. Inputs are plain numbers so evaluating on the hot path
 * allocates nothing. All comparisons are inclusive and done in integers.
 */
export interface TripRule {
  /** Reason reported when this rule fires. */
  readonly reason: TripReason;
  /** True when the rule says the breaker should open now. */
  fires(consecutive: number, calls: number, failures: number, slow: number): boolean;
  /** The measured value the rule compares: a count for consecutive, a 0..1 share for rates. */
  value(consecutive: number, calls: number, failures: number, slow: number): number;
  /** The threshold the value is compared with, in the same unit as value(). */
  threshold(calls: number): number;
}

/** Inclusive basis-point comparison `part / calls >= bp / 10000`, exact for every integer input. */
export function reachesBasisPoints(part: number, calls: number, basisPoints: number): boolean {
  return part * 10_000 >= basisPoints * calls;
}

/** Share of `part` in `calls`, or NaN below `minimumRequests` (and always with no calls). */
export function rateOrNaN(part: number, calls: number, minimumRequests: number): number {
  return calls === 0 || calls < minimumRequests ? Number.NaN : part / calls;
}

/**
 * Consecutive failures, optionally scaled by traffic: the streak bookkeeping (a streak counts
 * only while its first failure is younger than the window) lives in the breaker; this rule only
 * picks the threshold in force and compares.
 */
export class ConsecutiveFailuresRule implements TripRule {
  readonly reason = 'consecutive_failures' as const;
  readonly #failureThreshold: number;
  readonly #windowMs: number;
  readonly #tiers: readonly AdaptiveTier[];

  constructor(failureThreshold: number, windowMs: number, tiers: readonly AdaptiveTier[]) {
    this.#failureThreshold = failureThreshold;
    this.#windowMs = windowMs;
    this.#tiers = tiers;
  }

  /**
   * Threshold in force for a window holding `calls`: the highest adaptive tier whose volume
   * (calls scaled to per minute, compared in integers) is reached, else failureThreshold.
   * 0 means the rule is off.
   */
  threshold(calls: number): number {
    let threshold = this.#failureThreshold;
    for (const tier of this.#tiers) {
      // calls * 60000 / windowMs >= minRequestsPerMinute, without a division.
      if (calls * 60_000 >= tier.minRequestsPerMinute * this.#windowMs) {
        threshold = tier.failureThreshold;
      } else {
        break;
      }
    }
    return threshold;
  }

  fires(consecutive: number, calls: number): boolean {
    const threshold = this.threshold(calls);
    return threshold > 0 && consecutive >= threshold;
  }

  value(consecutive: number): number {
    return consecutive;
  }
}

/** Failure share of completed calls in the window, once minimumRequests calls completed. */
export class FailureRateRule implements TripRule {
  readonly reason = 'failure_rate' as const;
  readonly #rule: RateRule;

  constructor(rule: RateRule) {
    this.#rule = rule;
  }

  fires(_consecutive: number, calls: number, failures: number): boolean {
    return (
      calls > 0 &&
      calls >= this.#rule.minimumRequests &&
      reachesBasisPoints(failures, calls, this.#rule.basisPoints)
    );
  }

  value(_consecutive: number, calls: number, failures: number): number {
    return calls === 0 ? Number.NaN : failures / calls;
  }

  threshold(): number {
    return this.#rule.basisPoints / 10_000;
  }
}

/** Slow share of completed calls in the window (slow = duration strictly above durationMs). */
export class SlowCallRateRule implements TripRule {
  readonly reason = 'slow_call_rate' as const;
  readonly #rule: RateRule;

  constructor(rule: RateRule) {
    this.#rule = rule;
  }

  fires(_consecutive: number, calls: number, _failures: number, slow: number): boolean {
    return (
      calls > 0 &&
      calls >= this.#rule.minimumRequests &&
      reachesBasisPoints(slow, calls, this.#rule.basisPoints)
    );
  }

  value(_consecutive: number, calls: number, _failures: number, slow: number): number {
    return calls === 0 ? Number.NaN : slow / calls;
  }

  threshold(): number {
    return this.#rule.basisPoints / 10_000;
  }
}

/**
 * The rules a config turns on, in the order that names the trip reason when several fire on the
 * same outcome: consecutive > failure_rate > slow_call_rate (Linkerd's unified breaker).
 */
export class TripRules {
  /** The consecutive rule; always present (threshold 0 with no tiers means off). */
  readonly consecutive: ConsecutiveFailuresRule;
  /** Every enabled rule in priority order. */
  readonly all: readonly TripRule[];

  constructor(config: BreakerConfig) {
    this.consecutive = new ConsecutiveFailuresRule(
      config.failureThreshold,
      config.windowMs,
      config.adaptive,
    );
    const all: TripRule[] = [this.consecutive];
    if (config.failureRate !== null) all.push(new FailureRateRule(config.failureRate));
    if (config.slowCall !== null) all.push(new SlowCallRateRule(config.slowCall));
    this.all = all;
  }

  /** The first rule that fires, or undefined when the breaker should stay closed. */
  firing(consecutive: number, calls: number, failures: number, slow: number): TripRule | undefined {
    for (const rule of this.all) {
      if (rule.fires(consecutive, calls, failures, slow)) return rule;
    }
    return undefined;
  }
}
