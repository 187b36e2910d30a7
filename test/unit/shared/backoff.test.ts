import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, equalJitterMs, fullJitterMs } from '../../../src/shared/backoff.ts';

describe('capped exponential backoff', () => {
  it('starts at the base, doubles per retry and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((r) => backoffCeilingMs(r, 100, 1000))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    // Retry 0 or a negative count is treated as the first retry.
    expect(backoffCeilingMs(0, 100, 1000)).toBe(100);
    expect(backoffCeilingMs(-3, 100, 1000)).toBe(100);
  });

  it('never overflows for absurd retry counts', () => {
    expect(backoffCeilingMs(1e9, 100, 30_000)).toBe(30_000);
    expect(backoffCeilingMs(Number.MAX_SAFE_INTEGER, 1, 5)).toBe(5);
  });

  it('full jitter stays in [0, ceiling) whatever the random source returns', () => {
    expect(fullJitterMs(1000, () => 0)).toBe(0);
    expect(fullJitterMs(1000, () => 0.5)).toBe(500);
    expect(fullJitterMs(1000, () => 0.9999)).toBe(999);
    for (const bad of [1, 2, -1, Number.NaN]) {
      const delay = fullJitterMs(1000, () => bad);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(1000);
    }
  });

  it('equal jitter stays in [ceiling / 2, ceiling]', () => {
    expect(equalJitterMs(1000, () => 0)).toBe(500);
    expect(equalJitterMs(1000, () => 0.5)).toBe(750);
    expect(equalJitterMs(1000, () => 1)).toBe(1000);
    expect(equalJitterMs(1000, () => Number.NaN)).toBe(500);
    expect(equalJitterMs(1000, () => 7)).toBeLessThanOrEqual(1000);
  });
});
