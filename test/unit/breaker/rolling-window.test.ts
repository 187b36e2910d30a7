import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollingWindow } from '../../../src/breaker/rolling-window.ts';

interface Event {
  readonly t: number;
  readonly failed: boolean;
  readonly slow: boolean;
}

/** Brute force over every recorded event: alive while bucketStart + windowMs > now. */
function bruteForce(events: readonly Event[], now: number, windowMs: number, buckets: number) {
  const head = Math.floor((now * buckets) / windowMs);
  const alive = events.filter((e) => Math.floor((e.t * buckets) / windowMs) > head - buckets);
  return {
    calls: alive.length,
    failures: alive.filter((e) => e.failed).length,
    slow: alive.filter((e) => e.slow).length,
  };
}

const geometry = fc
  .record({ bucketMs: fc.integer({ min: 1, max: 50 }), buckets: fc.integer({ min: 1, max: 20 }) })
  .map(({ bucketMs, buckets }) => ({ windowMs: bucketMs * buckets, bucketMs, buckets }));

/** Steps of (time advance, outcome) or reads, with times spanning several windows. */
const steps = (maxGap: number) =>
  fc.array(
    fc.record({
      gap: fc.integer({ min: 0, max: maxGap }),
      read: fc.boolean(),
      failed: fc.boolean(),
      slow: fc.boolean(),
    }),
    { maxLength: 200 },
  );

describe('RollingWindow', () => {
  it('counts exactly the outcomes whose bucket has not expired (property)', () => {
    fc.assert(
      fc.property(
        geometry.chain((g) => fc.tuple(fc.constant(g), steps(g.windowMs * 2))),
        ([g, plan]) => {
          const window = new RollingWindow(g.windowMs, g.buckets);
          const events: Event[] = [];
          let now = 0;
          for (const step of plan) {
            now += step.gap;
            if (!step.read) {
              window.add(now, step.failed, step.slow);
              events.push({ t: now, failed: step.failed, slow: step.slow });
            }
            const expected = bruteForce(events, now, g.windowMs, g.buckets);
            expect(window.calls(now)).toBe(expected.calls);
            expect(window.failures(now)).toBe(expected.failures);
            expect(window.slow(now)).toBe(expected.slow);
          }
        },
      ),
    );
  });

  it('always counts outcomes younger than windowMs - bucketMs and never older than windowMs (property)', () => {
    fc.assert(
      fc.property(
        geometry.chain((g) => fc.tuple(fc.constant(g), steps(g.windowMs))),
        fc.integer({ min: 0, max: 10_000 }),
        ([g, plan], extra) => {
          const window = new RollingWindow(g.windowMs, g.buckets);
          const times: number[] = [];
          let now = 0;
          for (const step of plan) {
            now += step.gap;
            window.add(now, step.failed, step.slow);
            times.push(now);
          }
          const readAt = now + (extra % (g.windowMs + 1));
          const calls = window.calls(readAt);
          const surelyIn = times.filter((t) => readAt - t < g.windowMs - g.bucketMs).length;
          const maybeIn = times.filter((t) => readAt - t < g.windowMs).length;
          expect(calls).toBeGreaterThanOrEqual(surelyIn);
          expect(calls).toBeLessThanOrEqual(maybeIn);
          expect(window.failures(readAt)).toBeLessThanOrEqual(calls);
          expect(window.slow(readAt)).toBeLessThanOrEqual(calls);
          expect(window.failures(readAt)).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it('is empty after an idle gap of windowMs and never negative (property)', () => {
    fc.assert(
      fc.property(
        geometry.chain((g) => fc.tuple(fc.constant(g), steps(g.windowMs * 3))),
        fc.integer({ min: 0, max: 100_000 }),
        ([g, plan], gap) => {
          const window = new RollingWindow(g.windowMs, g.buckets);
          let now = 0;
          for (const step of plan) {
            now += step.gap;
            window.add(now, step.failed, step.slow);
            expect(window.calls(now)).toBeGreaterThan(0);
          }
          const idle = now + g.windowMs + gap;
          expect(window.calls(idle)).toBe(0);
          expect(window.failures(idle)).toBe(0);
          expect(window.slow(idle)).toBe(0);
          expect(window.buckets(idle)).toEqual([]);
        },
      ),
    );
  });

  it('matches the bucket index brute force when windowMs is not a multiple of buckets (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 7, max: 997 }),
        fc.integer({ min: 2, max: 7 }),
        steps(500),
        (windowMs, buckets, plan) => {
          const window = new RollingWindow(windowMs, buckets);
          const events: Event[] = [];
          let now = 0;
          for (const step of plan) {
            now += step.gap;
            window.add(now, step.failed, step.slow);
            events.push({ t: now, failed: step.failed, slow: step.slow });
            expect(window.calls(now)).toBe(bruteForce(events, now, windowMs, buckets).calls);
          }
        },
      ),
    );
  });

  it('re-adding its aged buckets into a fresh window reproduces the counts (property)', () => {
    fc.assert(
      fc.property(
        geometry.chain((g) => fc.tuple(fc.constant(g), steps(g.windowMs))),
        fc.integer({ min: 0, max: 1_000_000 }),
        ([g, plan], origin) => {
          const source = new RollingWindow(g.windowMs, g.buckets);
          let now = 0;
          for (const step of plan) {
            now += step.gap;
            source.add(now, step.failed, step.slow);
          }
          // Another process, another monotonic origin, aligned to a bucket boundary.
          const target = new RollingWindow(g.windowMs, g.buckets);
          const there = origin * g.bucketMs + (now % g.bucketMs);
          for (const bucket of source.buckets(now)) target.addAged(there, bucket);
          expect(target.calls(there)).toBe(source.calls(now));
          expect(target.failures(there)).toBe(source.failures(now));
          expect(target.slow(there)).toBe(source.slow(now));
        },
      ),
    );
  });

  it('holds O(buckets) memory however many outcomes it counts', () => {
    const window = new RollingWindow(30_000, 30);
    for (let i = 0; i < 100_000; i++) window.add(i * 0.25, i % 3 === 0, false);
    expect(window.slotCount).toBe(30);
    expect(window.calls(25_000)).toBe(100_000);
  });

  it('counts a backwards clock reading in the newest bucket', () => {
    const window = new RollingWindow(10_000, 10);
    window.add(5_000, false, false);
    window.add(4_000, true, false);
    expect(window.calls(5_000)).toBe(2);
    expect(window.calls(14_999)).toBe(2);
    expect(window.calls(15_000)).toBe(0);
  });

  it('rejects a geometry it cannot represent, quoting the value', () => {
    expect(() => new RollingWindow(0, 1)).toThrow('windowMs must be an integer >= 1, got 0');
    expect(() => new RollingWindow(10, 11)).toThrow(
      'bucketCount must be an integer in 1..10, got 11',
    );
  });
});
