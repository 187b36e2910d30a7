import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { FailureReason } from '../../../src/dataplane/classify-outcome.ts';
import {
  retryDelayMs,
  retryPlan,
  type RetryConfig,
  type RetryDecision,
} from '../../../src/dataplane/retry/retry-delay.ts';

const config: RetryConfig = {
  attempts: 2,
  retryOn: ['overloaded', 'rate_limited', 'connect_timeout', 'connection_error'],
  backoffBaseMs: 200,
  backoffMaxMs: 2000,
  maxRetryAfterMs: 2000,
  budget: { percent: 20, windowMs: 10_000, minRetries: 3 },
};

describe('retryDelayMs', () => {
  it('doubles the ceiling per retry up to the maximum', () => {
    const top = () => 0.999_999_9;
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, config, top))).toEqual([
      199, 399, 799, 1599, 1999, 1999,
    ]);
    expect(retryDelayMs(1, config, () => 0)).toBe(0);
    expect(retryDelayMs(3, config, () => 0.5)).toBe(400);
  });

  it('stays within [0, min(max, base × 2^(n−1))] for any attempt and draw (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (base, max, attempt, draw) => {
          const delay = retryDelayMs(
            attempt,
            { backoffBaseMs: base, backoffMaxMs: max },
            () => draw,
          );
          const ceiling = Math.min(max, base * 2 ** (attempt - 1));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  it('spreads delays over the whole interval (full jitter)', () => {
    const delays = Array.from({ length: 2000 }, () => retryDelayMs(4, config, Math.random));
    expect(Math.min(...delays)).toBeLessThan(160);
    expect(Math.max(...delays)).toBeGreaterThan(1440);
  });
});

describe('retryPlan', () => {
  const half = () => 0.5;
  const yes = () => true;
  const no = () => false;

  it.each<[string, FailureReason, number | undefined, number, () => boolean, RetryDecision]>([
    [
      'a listed kind, first failure',
      'overloaded',
      undefined,
      1,
      yes,
      { retry: true, delayMs: 100 },
    ],
    [
      'the second retry backs off further',
      'connection_error',
      undefined,
      2,
      yes,
      { retry: true, delayMs: 200 },
    ],
    [
      'a kind not listed',
      'server_error',
      undefined,
      1,
      yes,
      { retry: false, why: 'not_retryable' },
    ],
    [
      'never listable: auth errors',
      'auth_error',
      undefined,
      1,
      yes,
      { retry: false, why: 'not_retryable' },
    ],
    [
      'never listable: idle timeouts',
      'idle_timeout',
      undefined,
      1,
      yes,
      { retry: false, why: 'not_retryable' },
    ],
    [
      'after the last allowed retry',
      'overloaded',
      undefined,
      3,
      yes,
      { retry: false, why: 'attempts_exhausted' },
    ],
    [
      'Retry-After longer than backoff wins',
      'rate_limited',
      1500,
      1,
      yes,
      { retry: true, delayMs: 1500 },
    ],
    [
      'backoff longer than Retry-After wins',
      'rate_limited',
      50,
      1,
      yes,
      { retry: true, delayMs: 100 },
    ],
    [
      'Retry-After at the cap is waited for',
      'rate_limited',
      2000,
      1,
      yes,
      { retry: true, delayMs: 2000 },
    ],
    [
      'Retry-After past the cap falls over',
      'rate_limited',
      2001,
      1,
      yes,
      { retry: false, why: 'retry_after_too_long' },
    ],
    [
      'a negative Retry-After counts as none',
      'rate_limited',
      -5,
      1,
      yes,
      { retry: true, delayMs: 100 },
    ],
    [
      'the budget is spent',
      'overloaded',
      undefined,
      1,
      no,
      { retry: false, why: 'budget_exhausted' },
    ],
  ])('%s', (_name, reason, retryAfterMs, attempt, budgetAllows, decision) => {
    expect(retryPlan(reason, retryAfterMs, attempt, config, budgetAllows, half)).toEqual(decision);
  });

  it('retries nothing when attempts is 0', () => {
    const plan = retryPlan('overloaded', undefined, 1, { ...config, attempts: 0 }, yes, half);
    expect(plan).toEqual({ retry: false, why: 'attempts_exhausted' });
  });

  it('asks the budget (which spends it) only for a retry that would otherwise happen', () => {
    const budget = vi.fn(() => true);
    retryPlan('server_error', undefined, 1, config, budget, half);
    retryPlan('overloaded', undefined, 3, config, budget, half);
    retryPlan('rate_limited', 60_000, 1, config, budget, half);
    expect(budget).not.toHaveBeenCalled();
    retryPlan('overloaded', undefined, 1, config, budget, half);
    expect(budget).toHaveBeenCalledTimes(1);
  });

  it('never waits past the larger of the backoff ceiling and the Retry-After cap (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...config.retryOn),
        fc.option(fc.integer({ min: -1000, max: 5000 }), { nil: undefined }),
        fc.integer({ min: 1, max: 4 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (reason, retryAfterMs, attempt, draw) => {
          const plan = retryPlan(reason, retryAfterMs, attempt, config, yes, () => draw);
          if (plan.retry) {
            expect(plan.delayMs).toBeLessThanOrEqual(
              Math.max(config.backoffMaxMs, config.maxRetryAfterMs),
            );
            expect(plan.delayMs).toBeGreaterThanOrEqual(Math.max(0, retryAfterMs ?? 0));
          } else {
            expect(['attempts_exhausted', 'retry_after_too_long']).toContain(plan.why);
          }
        },
      ),
    );
  });
});
