import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BREAKER_CONFIG } from '../../../src/breaker/breaker-defaults.ts';
import {
  backoffCapMs,
  clampRetryAfterMs,
  jitterDownMs,
  openDurationMs,
} from '../../../src/breaker/open-duration.ts';

const backoff = fc
  .record({
    baseMs: fc.integer({ min: 0, max: 600_000 }),
    extraMs: fc.integer({ min: 0, max: 3_600_000 }),
    multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    attempt: fc.integer({ min: 1, max: 200 }),
  })
  .map((b) => ({ ...b, maxMs: b.baseMs + b.extraMs }));

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('open duration', () => {
  it('never exceeds the cap and jitters only downwards, within [cap * (1 - jitter), cap] (property)', () => {
    fc.assert(
      fc.property(backoff, unit, (b, u) => {
        const cap = backoffCapMs(b.baseMs, b.multiplier, b.maxMs, b.attempt);
        const d = jitterDownMs(cap, b.jitter, () => u);
        expect(cap).toBeLessThanOrEqual(b.maxMs);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeLessThanOrEqual(cap);
        expect(d).toBeGreaterThanOrEqual(cap * (1 - b.jitter));
      }),
    );
  });

  it('grows monotonically with the attempt until the cap (property)', () => {
    fc.assert(
      fc.property(backoff, (b) => {
        const here = backoffCapMs(b.baseMs, b.multiplier, b.maxMs, b.attempt);
        const next = backoffCapMs(b.baseMs, b.multiplier, b.maxMs, b.attempt + 1);
        expect(next).toBeGreaterThanOrEqual(here);
        expect(backoffCapMs(b.baseMs, b.multiplier, b.maxMs, 1)).toBe(Math.min(b.maxMs, b.baseMs));
      }),
    );
  });

  it('is base * multiplier^(attempt - 1) below the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((k) => backoffCapMs(5_000, 2, 60_000, k))).toEqual([
      5_000, 10_000, 20_000, 40_000, 60_000, 60_000,
    ]);
    expect(backoffCapMs(5_000, 1.5, 60_000, 2)).toBe(7_500);
    expect(backoffCapMs(5_000, 2, 60_000, 0)).toBe(5_000);
    expect(backoffCapMs(5_000, 2, 60_000, 10_000)).toBe(60_000);
  });

  it('is extended, never shortened, by a clamped Retry-After (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: -1e9, max: 1e12, noNaN: true }),
        unit,
        (attempt, retryAfterMs, u) => {
          const config = DEFAULT_BREAKER_CONFIG;
          const plain = openDurationMs(config, attempt, 0, () => u);
          const d = openDurationMs(config, attempt, retryAfterMs, () => u);
          expect(d).toBeGreaterThanOrEqual(plain);
          expect(d).toBeLessThanOrEqual(Math.max(plain, config.maxRetryAfterMs));
          if (retryAfterMs > plain && retryAfterMs <= config.maxRetryAfterMs) {
            expect(d).toBe(retryAfterMs);
          }
        },
      ),
    );
  });

  it('treats NaN and negative Retry-After as no hint', () => {
    expect(clampRetryAfterMs(Number.NaN, 300_000)).toBe(0);
    expect(clampRetryAfterMs(-5, 300_000)).toBe(0);
    expect(clampRetryAfterMs(10_000_000, 300_000)).toBe(300_000);
  });

  it('keeps jitter at the cap with a random source that misbehaves', () => {
    expect(jitterDownMs(60_000, 0.2, () => 1.5)).toBe(48_000);
    expect(jitterDownMs(60_000, 0.2, () => -1)).toBe(60_000);
    expect(jitterDownMs(60_000, 0, () => 0.7)).toBe(60_000);
  });
});
