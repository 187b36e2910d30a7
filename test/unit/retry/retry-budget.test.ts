import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RETRY_BUDGET_BUCKETS,
  RetryBudget,
  type RetryBudgetConfig,
} from '../../../src/dataplane/retry/retry-budget.ts';
import { ManualClock } from '../../../src/shared/clock.ts';

const WINDOW = 10_000;
const BUCKET = WINDOW / RETRY_BUDGET_BUCKETS;

function budget(config: Partial<RetryBudgetConfig> = {}, clock = new ManualClock()) {
  const full: RetryBudgetConfig = { percent: 20, windowMs: WINDOW, minRetries: 0, ...config };
  return { clock, budget: new RetryBudget(full, clock) };
}

function grant(b: RetryBudget, tries: number): number {
  let granted = 0;
  for (let i = 0; i < tries; i++) if (b.tryRetry()) granted++;
  return granted;
}

describe('RetryBudget', () => {
  it('allows the percentage of requests in the window, rounded down', () => {
    const { budget: b } = budget({ percent: 20 });
    for (let i = 0; i < 100; i++) b.recordRequest();
    expect(grant(b, 50)).toBe(20);
    expect(b.state()).toEqual({ requests: 100, retries: 20, allowed: 20 });

    const { budget: small } = budget({ percent: 20 });
    for (let i = 0; i < 9; i++) small.recordRequest();
    expect(grant(small, 5)).toBe(1);
  });

  it('allows minRetries even without traffic, and the larger of the two', () => {
    const { budget: b } = budget({ percent: 10, minRetries: 3 });
    expect(grant(b, 10)).toBe(3);
    for (let i = 0; i < 50; i++) b.recordRequest();
    // 10% of 50 = 5 retries in all, 3 of them already granted.
    expect(grant(b, 10)).toBe(2);
  });

  it('counts requests until exactly one window of buckets has passed', () => {
    const { clock, budget: b } = budget({ percent: 50 });
    for (let i = 0; i < 10; i++) b.recordRequest(); // bucket [0, 1000)
    clock.set(WINDOW - 1); // last bucket of the same window
    expect(b.state().requests).toBe(10);
    clock.set(WINDOW); // bucket 0 has slid out
    expect(b.state()).toEqual({ requests: 0, retries: 0, allowed: 0 });
    expect(b.tryRetry()).toBe(false);
  });

  it('keeps a count made late in a bucket only until that bucket leaves the window', () => {
    const { clock, budget: b } = budget({ percent: 100 });
    clock.set(BUCKET - 1);
    b.recordRequest();
    expect(b.tryRetry()).toBe(true);
    expect(b.tryRetry()).toBe(false);
    clock.set(WINDOW - 1);
    expect(b.state()).toEqual({ requests: 1, retries: 1, allowed: 1 });
    clock.set(WINDOW);
    expect(b.state()).toEqual({ requests: 0, retries: 0, allowed: 0 });
  });

  it('lets granted retries expire with their bucket, freeing the budget', () => {
    const { clock, budget: b } = budget({ percent: 50 });
    for (let i = 0; i < 4; i++) b.recordRequest();
    expect(grant(b, 5)).toBe(2);
    clock.set(5 * BUCKET);
    for (let i = 0; i < 4; i++) b.recordRequest();
    expect(grant(b, 5)).toBe(2); // 8 requests → 4 retries, 2 used
    clock.set(WINDOW); // the first 4 requests and 2 retries leave
    expect(b.state()).toEqual({ requests: 4, retries: 2, allowed: 2 });
    expect(b.tryRetry()).toBe(false);
  });

  it('clears a slot reused a lap later', () => {
    const { clock, budget: b } = budget({ percent: 100 });
    clock.set(5 * BUCKET);
    b.recordRequest();
    clock.set(WINDOW + 5 * BUCKET); // same slot, next lap
    b.recordRequest();
    expect(b.state().requests).toBe(1);
  });

  it('applies a new percentage at once and restarts counting when the window changes', () => {
    const { budget: b } = budget({ percent: 10 });
    for (let i = 0; i < 10; i++) b.recordRequest();
    expect(grant(b, 5)).toBe(1);
    b.configure({ percent: 50, windowMs: WINDOW, minRetries: 0 });
    expect(grant(b, 5)).toBe(4);
    b.configure({ percent: 50, windowMs: 2 * WINDOW, minRetries: 0 });
    expect(b.state()).toEqual({ requests: 0, retries: 0, allowed: 0 });
  });

  it('works from any clock origin, such as performance.now() hours in', () => {
    const { budget: b } = budget({ percent: 100 }, new ManualClock(7_654_321.5));
    b.recordRequest();
    expect(b.tryRetry()).toBe(true);
    expect(b.tryRetry()).toBe(false);
  });

  it('agrees with a naive log of timestamps for any sequence (property)', () => {
    type Op = { kind: 'advance'; ms: number } | { kind: 'request' } | { kind: 'retry' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.nat(3 * BUCKET).map((ms) => ({ kind: 'advance' as const, ms })),
      fc.constant({ kind: 'request' as const }),
      fc.constant({ kind: 'retry' as const }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        fc.nat(3),
        (ops, percent, minRetries) => {
          const { clock, budget: b } = budget({ percent, minRetries });
          const requests: number[] = [];
          const retries: number[] = [];
          const inWindow = (times: number[]) => {
            const epoch = Math.floor(clock.nowMs() / BUCKET);
            return times.filter((t) => Math.floor(t / BUCKET) > epoch - RETRY_BUDGET_BUCKETS)
              .length;
          };
          for (const o of ops) {
            if (o.kind === 'advance') clock.advance(o.ms);
            else if (o.kind === 'request') {
              b.recordRequest();
              requests.push(clock.nowMs());
            } else {
              const allowed = Math.max(
                minRetries,
                Math.floor((percent * inWindow(requests)) / 100),
              );
              const expected = inWindow(retries) < allowed;
              expect(b.tryRetry()).toBe(expected);
              if (expected) retries.push(clock.nowMs());
            }
          }
        },
      ),
    );
  });
});
