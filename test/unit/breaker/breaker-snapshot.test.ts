import { describe, expect, it } from 'vitest';
import { C3, Harness, R5 } from './breaker-harness.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import {
  parseBreakerSnapshot,
  planRestore,
  type BreakerSnapshot,
} from '../../../src/breaker/breaker-snapshot.ts';
import { CircuitBreaker } from '../../../src/breaker/circuit-breaker.ts';
import { BreakerSnapshotError } from '../../../src/breaker/errors.ts';

const closedSnapshot: BreakerSnapshot = {
  v: 1,
  key: 'k',
  state: 'closed',
  epoch: 4,
  attempt: 2,
  savedAtWallMs: 1_000_000,
  stateAgeMs: 10_000,
  consecutive: 1,
  streakAgeMs: 500,
  window: {
    windowMs: 20_000,
    bucketMs: 1_000,
    buckets: [{ ageMs: 500, calls: 3, failures: 1, slow: 0 }],
  },
  open: null,
  forced: null,
};

describe('breaker snapshots', () => {
  it('round-trip through JSON with the window shifted by the elapsed wall time', () => {
    const source = new Harness(R5);
    source.at(0).fail();
    source.at(3_000).succeed(5_000);
    source.at(4_000);
    const json = JSON.stringify(source.breaker.snapshot());
    // Restored 10 s of wall time later in another process.
    const clock = new ManualClock(50_000, source.clock.wallMs() + 10_000);
    const restored = new CircuitBreaker({ key: 'k', config: R5, clock });
    restored.restore(JSON.parse(json));
    expect(restored.getState()).toMatchObject({ windowCalls: 2, windowFailures: 1, windowSlow: 1 });
    clock.advance(6_000); // the t=0 outcome is now 20 s old
    expect(restored.getState()).toMatchObject({ windowCalls: 1, windowFailures: 0 });
    clock.advance(3_000);
    expect(restored.getState().windowCalls).toBe(0);
  });

  it('voids tickets issued before the restore', () => {
    const h = new Harness(C3);
    const before = h.admit();
    h.breaker.restore(h.breaker.snapshot());
    h.breaker.recordFailure(before);
    expect(h.breaker.getState().consecutive).toBe(0);
    expect(h.log.of('outcome').at(-1)).toMatchObject({ late: true });
  });

  it('restores the attempt decay clock of a closed breaker', () => {
    const config = { ...C3, attemptResetAfterMs: 60_000 };
    const restored = new Harness(config);
    restored.breaker.restore({
      ...closedSnapshot,
      savedAtWallMs: restored.clock.wallMs() - 45_000,
    });
    // 10 s in closed before the snapshot plus 45 s elapsed: 5 s to go before the attempt decays.
    expect(restored.breaker.getState().attempt).toBe(2);
    restored.at(5_000);
    expect(restored.breaker.getState().attempt).toBe(0);
  });

  it('caps a restored open period, except one opened by hand', () => {
    const open = (reason: 'consecutive_failures' | 'manual'): BreakerSnapshot => ({
      ...closedSnapshot,
      state: 'open',
      open: { remainingMs: 7 * 24 * 3_600_000, reason },
    });
    expect(planRestore(open('consecutive_failures'), 0, C3).openRemainingMs).toBe(300_000);
    expect(planRestore(open('manual'), 0, C3).openRemainingMs).toBe(7 * 24 * 3_600_000);
    expect(planRestore(open('manual'), 3_600_000, C3).openRemainingMs).toBe(
      6 * 24 * 3_600_000 + 23 * 3_600_000,
    );
  });

  it('turns hold handles into one sticky claim and ages a forced deadline', () => {
    const held: BreakerSnapshot = {
      ...closedSnapshot,
      state: 'forced_open',
      forced: { note: 'x', holds: 2, sticky: false, untilRemainingMs: null },
    };
    expect(planRestore(held, 0, C3)).toMatchObject({
      kind: 'forced_open',
      forcedUntilRemainingMs: null,
    });
    const timed: BreakerSnapshot = {
      ...held,
      forced: { note: 'x', holds: 0, sticky: true, untilRemainingMs: 10_000 },
    };
    expect(planRestore(timed, 4_000, C3).forcedUntilRemainingMs).toBe(6_000);

    const h = new Harness(C3);
    h.breaker.restore({ ...timed, savedAtWallMs: h.clock.wallMs() - 12_000 });
    expect(h.state).toBe('closed'); // the claim lapsed while the process was down
    expect(h.log.of('reset')).toEqual([{ key: 'k', reason: 'force_expired' }]);
  });

  it('treats a wall clock that went backwards as no time elapsed', () => {
    const plan = planRestore(
      { ...closedSnapshot, state: 'open', open: { remainingMs: 3_000, reason: 'failure_rate' } },
      -60_000,
      C3,
    );
    expect(plan.openRemainingMs).toBe(3_000);
  });

  it('rejects malformed snapshots quoting the bad field', () => {
    const cases: [unknown, string][] = [
      [null, 'snapshot must be an object, got null'],
      [{ ...closedSnapshot, v: 2 }, 'snapshot.v must be 1, got 2'],
      [
        { ...closedSnapshot, state: 'ajar' },
        'snapshot.state must be one of closed, open, half_open, forced_open, metrics_only, disabled, got "ajar"',
      ],
      [{ ...closedSnapshot, attempt: -1 }, 'snapshot.attempt must be an integer >= 0, got -1'],
      [
        { ...closedSnapshot, savedAtWallMs: 'now' },
        'snapshot.savedAtWallMs must be a finite number, got "now"',
      ],
      [
        {
          ...closedSnapshot,
          window: {
            ...closedSnapshot.window,
            buckets: [{ ageMs: 1, calls: 1.5, failures: 0, slow: 0 }],
          },
        },
        'snapshot.window.buckets[0].calls must be an integer >= 0, got 1.5',
      ],
      [
        { ...closedSnapshot, open: { remainingMs: -1, reason: 'manual' } },
        'snapshot.open.remainingMs must be >= 0, got -1',
      ],
    ];
    for (const [value, message] of cases) {
      expect(() => parseBreakerSnapshot(value)).toThrow(message);
    }
    expect(() => parseBreakerSnapshot({ ...closedSnapshot, v: 2 })).toThrow(BreakerSnapshotError);
    const h = new Harness(C3);
    expect(() => {
      h.breaker.restore({ ...closedSnapshot, key: 'other' });
    }).toThrow('snapshot.key must be "k", got "other"');
    expect(parseBreakerSnapshot(closedSnapshot)).toBe(closedSnapshot);
  });
});
