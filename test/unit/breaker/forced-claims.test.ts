// Forced-open claims on their own (B6): option checks, how claims merge, when the last one ends
// the forced state, and the hold handle. The breaker's transitions are covered elsewhere.
import { describe, expect, it } from 'vitest';
import { BreakerConfigError } from '../../../src/breaker/errors.ts';
import {
  forcedOpenState,
  forcedRetryAfterMs,
  holdHandle,
  lapsedAtMs,
  parseForceOpenOptions,
  withClaim,
  withoutHold,
  type ForceOpenOptions,
} from '../../../src/breaker/forced-claims.ts';

const HOLD = { note: 'incident', untilMs: null, hold: true } as const;
const UNTIL_RELEASED = { note: 'maintenance', untilMs: null, hold: false } as const;
const sticky = (untilMs: number) => ({ note: 'window', untilMs, hold: false });

describe('parseForceOpenOptions', () => {
  it('defaults to a sticky claim until released, noted "manual"', () => {
    expect(parseForceOpenOptions({})).toEqual({ note: 'manual', untilMs: null, hold: false });
    expect(parseForceOpenOptions({ reason: 'x', untilMs: 5, hold: false })).toEqual({
      note: 'x',
      untilMs: 5,
      hold: false,
    });
  });

  it('rejects a non-string reason, a NaN deadline, and a hold with a deadline', () => {
    const bad: unknown[] = [{ reason: 42 }, { untilMs: Number.NaN }, { untilMs: '5' }];
    for (const options of bad) {
      expect(() => parseForceOpenOptions(options as ForceOpenOptions)).toThrow(BreakerConfigError);
    }
    expect(() => parseForceOpenOptions({ hold: true, untilMs: 5 })).toThrow(/cannot be combined/);
  });
});

describe('forced-open claims', () => {
  it('the first claim decides the note; a hold starts with one hold and no deadline', () => {
    const held = forcedOpenState(3, 2, 100, HOLD);
    expect(held).toMatchObject({ kind: 'forced_open', epoch: 3, attempt: 2, enteredAtMs: 100 });
    expect(held).toMatchObject({ note: 'incident', holds: 1, sticky: false, untilMs: null });
    expect(Object.isFrozen(held)).toBe(true);
    expect(forcedOpenState(3, 2, 100, sticky(900))).toMatchObject({
      holds: 0,
      sticky: true,
      untilMs: 900,
    });
  });

  it('merges sticky deadlines: the later one wins, "until released" wins over any', () => {
    const first = forcedOpenState(1, 0, 0, sticky(1_000));
    expect(withClaim(first, sticky(500)).untilMs).toBe(1_000);
    expect(withClaim(first, sticky(2_000)).untilMs).toBe(2_000);
    expect(withClaim(first, UNTIL_RELEASED).untilMs).toBeNull();
    expect(withClaim(forcedOpenState(1, 0, 0, UNTIL_RELEASED), sticky(2_000)).untilMs).toBeNull();
  });

  it('adding a claim keeps epoch and note; a hold leaves the deadline alone', () => {
    const first = forcedOpenState(4, 0, 0, sticky(1_000));
    const held = withClaim(first, HOLD);
    expect(held).toMatchObject({
      epoch: 4,
      note: 'window',
      holds: 1,
      sticky: true,
      untilMs: 1_000,
    });
    const stickyOnHold = withClaim(forcedOpenState(4, 0, 0, HOLD), sticky(700));
    expect(stickyOnHold).toMatchObject({ holds: 1, sticky: true, untilMs: 700 });
  });

  it('the last hold ends the state; another hold or a live sticky claim keeps it', () => {
    const twoHolds = withClaim(forcedOpenState(1, 0, 0, HOLD), HOLD);
    const oneHold = withoutHold(twoHolds, 10);
    expect(oneHold).toMatchObject({ holds: 1 });
    expect(oneHold === null ? null : withoutHold(oneHold, 10)).toBeNull();

    const holdAndSticky = withClaim(forcedOpenState(1, 0, 0, HOLD), sticky(1_000));
    expect(withoutHold(holdAndSticky, 999)).toMatchObject({ holds: 0, sticky: true });
    expect(withoutHold(holdAndSticky, 1_000)).toBeNull();
    expect(
      withoutHold(withClaim(forcedOpenState(1, 0, 0, HOLD), UNTIL_RELEASED), 1e9),
    ).toMatchObject({ holds: 0 });
  });

  it('releasing a hold when none is outstanding changes nothing', () => {
    const state = forcedOpenState(1, 0, 0, UNTIL_RELEASED);
    expect(withoutHold(state, 10)).toBe(state);
  });

  it('only a sticky deadline with no hold lapses, dated at the deadline', () => {
    expect(lapsedAtMs(forcedOpenState(1, 0, 100, sticky(1_000)), 999)).toBeNull();
    expect(lapsedAtMs(forcedOpenState(1, 0, 100, sticky(1_000)), 5_000)).toBe(1_000);
    // A deadline already past when forced lapses at the moment it was forced.
    expect(lapsedAtMs(forcedOpenState(1, 0, 100, sticky(50)), 5_000)).toBe(100);
    expect(lapsedAtMs(withClaim(forcedOpenState(1, 0, 0, sticky(1_000)), HOLD), 5_000)).toBeNull();
    expect(lapsedAtMs(forcedOpenState(1, 0, 0, UNTIL_RELEASED), 1e9)).toBeNull();
  });

  it('Retry-After is the time to a lone sticky deadline, else the recovery timeout', () => {
    expect(forcedRetryAfterMs(forcedOpenState(1, 0, 0, sticky(1_000)), 400, 30_000)).toBe(600);
    expect(forcedRetryAfterMs(forcedOpenState(1, 0, 0, HOLD), 400, 30_000)).toBe(30_000);
    expect(forcedRetryAfterMs(forcedOpenState(1, 0, 0, UNTIL_RELEASED), 400, 30_000)).toBe(30_000);
  });
});

describe('holdHandle', () => {
  it('releases once however often release() is called', () => {
    let calls = 0;
    const handle = holdHandle(() => calls++);
    expect(handle.released).toBe(false);
    handle.release();
    handle.release();
    expect(handle.released).toBe(true);
    expect(calls).toBe(1);
  });
});
