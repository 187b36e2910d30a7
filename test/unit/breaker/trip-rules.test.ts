import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BREAKER_CONFIG } from '../../../src/breaker/breaker-defaults.ts';
import {
  ConsecutiveFailuresRule,
  FailureRateRule,
  SlowCallRateRule,
  TripRules,
  rateOrNaN,
  reachesBasisPoints,
  type TripRule,
} from '../../../src/breaker/trip-rules.ts';

describe('trip rules', () => {
  it('the failure-rate rule fires first at exactly ceil(bp * calls / 10000) failures (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (bp, calls) => {
          // Exact rational arithmetic in BigInt as the reference.
          const needed = Number((BigInt(bp) * BigInt(calls) + 9_999n) / 10_000n);
          const rule: TripRule = new FailureRateRule({ basisPoints: bp, minimumRequests: 0 });
          expect(rule.fires(0, calls, needed, 0)).toBe(true);
          expect(rule.fires(0, calls, needed - 1, 0)).toBe(false);
        },
      ),
    );
  });

  it('compares percentages with two decimals exactly where doubles do not', () => {
    // 7 % of 100 calls: 7 >= 0.07 * 100 is false in IEEE doubles.
    expect(reachesBasisPoints(7, 100, 700)).toBe(true);
    expect(reachesBasisPoints(7, 20, 3_500)).toBe(true);
    expect(reachesBasisPoints(3, 20, 1_500)).toBe(true);
    expect(reachesBasisPoints(6, 100, 700)).toBe(false);
  });

  it('rate rules wait for minimumRequests, inclusive', () => {
    const rule: TripRule = new FailureRateRule({ basisPoints: 1_000, minimumRequests: 10 });
    expect(rule.fires(0, 9, 9, 0)).toBe(false);
    expect(rule.fires(0, 10, 1, 0)).toBe(true);
    expect(rule.fires(0, 10, 0, 0)).toBe(false);
    const slow = new SlowCallRateRule({ basisPoints: 5_000, minimumRequests: 5 });
    expect(slow.fires(0, 5, 5, 2)).toBe(false);
    expect(slow.fires(0, 5, 0, 3)).toBe(true);
    expect(slow.value(0, 5, 0, 3)).toBe(0.6);
  });

  it('consecutive threshold 0 turns the rule off', () => {
    const rule = new ConsecutiveFailuresRule(0, 60_000, []);
    expect(rule.fires(1_000_000, 10)).toBe(false);
    expect(new ConsecutiveFailuresRule(3, 60_000, []).fires(3, 3)).toBe(true);
    expect(new ConsecutiveFailuresRule(3, 60_000, []).fires(2, 3)).toBe(false);
  });

  it('adaptive tiers: the highest tier whose per-minute volume is reached replaces the threshold (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (volumes, windowMs, calls) => {
          const sorted = [...volumes].sort((a, b) => a - b);
          const tiers = sorted.map((v, i) => ({
            minRequestsPerMinute: v,
            failureThreshold: 10 + i,
          }));
          const rule = new ConsecutiveFailuresRule(5, windowMs, tiers);
          const perMinute = (calls * 60_000) / windowMs;
          const reached = tiers.filter((t) => perMinute >= t.minRequestsPerMinute).at(-1);
          expect(rule.threshold(calls)).toBe(reached?.failureThreshold ?? 5);
        },
      ),
    );
  });

  it('adaptive tier boundary is inclusive and computed in integers', () => {
    // 60 s window: 100 calls = 100 per minute exactly.
    const rule = new ConsecutiveFailuresRule(5, 60_000, [
      { minRequestsPerMinute: 100, failureThreshold: 20 },
    ]);
    expect(rule.threshold(99)).toBe(5);
    expect(rule.threshold(100)).toBe(20);
    // 10 s window: 17 calls = 102 per minute.
    const short = new ConsecutiveFailuresRule(5, 10_000, [
      { minRequestsPerMinute: 102, failureThreshold: 20 },
    ]);
    expect(short.threshold(16)).toBe(5);
    expect(short.threshold(17)).toBe(20);
  });

  it('names the trip reason by priority: consecutive > failure rate > slow', () => {
    const rules = new TripRules({
      ...DEFAULT_BREAKER_CONFIG,
      failureThreshold: 2,
      failureRate: { basisPoints: 5_000, minimumRequests: 2 },
      slowCall: { basisPoints: 5_000, minimumRequests: 2, durationMs: 100 },
    });
    expect(rules.firing(2, 2, 2, 2)?.reason).toBe('consecutive_failures');
    expect(rules.firing(1, 2, 2, 2)?.reason).toBe('failure_rate');
    expect(rules.firing(0, 2, 0, 2)?.reason).toBe('slow_call_rate');
    expect(rules.firing(0, 2, 0, 0)).toBeUndefined();
  });

  it('reports a rate as NaN below the minimum and with no calls', () => {
    expect(rateOrNaN(0, 0, 0)).toBeNaN();
    expect(rateOrNaN(3, 4, 5)).toBeNaN();
    expect(rateOrNaN(3, 5, 5)).toBe(0.6);
  });
});
