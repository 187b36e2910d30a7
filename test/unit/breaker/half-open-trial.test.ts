// HalfOpenTrial on its own (B5): the probe limit, the busy Retry-After, lease expiry and the
// verdicts of both modes. The breaker's use of it is covered by the conformance scenarios.
import { describe, expect, it } from 'vitest';
import { C3 } from './breaker-harness.ts';
import type { BreakerConfig } from '../../../src/breaker/breaker-config.ts';
import type { Ticket } from '../../../src/breaker/breaker-ticket.ts';
import { HalfOpenTrial } from '../../../src/breaker/half-open-trial.ts';

function probe(epoch = 2): Ticket {
  return Object.freeze({
    admitted: true,
    key: 'k',
    epoch,
    state: 'half_open',
    isProbe: true,
    leaseExpiresAtMs: null,
  });
}

const twoProbes: BreakerConfig = { ...C3, halfOpenMaxProbes: 2, successThreshold: 2 };

describe('HalfOpenTrial probe limit', () => {
  it('lets a probe start only while fewer than halfOpenMaxProbes are in flight', () => {
    const trial = new HalfOpenTrial();
    expect(trial.mayAdmit(twoProbes)).toBe(true);
    const first = probe();
    trial.admit(first, 0, 1_000);
    expect(trial.mayAdmit(twoProbes)).toBe(true);
    trial.admit(probe(), 0, 1_000);
    expect(trial.mayAdmit(twoProbes)).toBe(false);
    expect(trial.mayAdmit({ ...twoProbes, halfOpenMaxProbes: 3 })).toBe(true);

    expect(trial.release(first)).toBe(true);
    expect(trial.mayAdmit(twoProbes)).toBe(true);
  });

  it('frees a slot when a lease expires, and when the trial is reset', () => {
    const trial = new HalfOpenTrial();
    trial.admit(probe(), 0, 1_000);
    expect(trial.mayAdmit(C3)).toBe(false);
    expect(trial.takeExpired(999)).toBeNull();
    expect(trial.takeExpired(1_000)).toEqual({ leaseMs: 1_000, expiresAtMs: 1_000 });
    expect(trial.mayAdmit(C3)).toBe(true);

    trial.admit(probe(), 2_000, 3_000);
    trial.reset();
    expect(trial.mayAdmit(C3)).toBe(true);
    expect(trial.inFlight).toBe(0);
  });

  it('tells a turned-away caller to retry when the earliest lease expires', () => {
    const trial = new HalfOpenTrial();
    expect(trial.busyRetryAfterMs(100)).toBe(0);
    trial.admit(probe(), 0, 3_000);
    trial.admit(probe(), 500, 1_500);
    expect(trial.busyRetryAfterMs(1_000)).toBe(500);
    expect(trial.busyRetryAfterMs(2_000)).toBe(0);
  });

  it('settles each lease once: a second release or an unknown ticket is late', () => {
    const trial = new HalfOpenTrial();
    const t = probe();
    trial.admit(t, 0, 1_000);
    expect(trial.release(t)).toBe(true);
    expect(trial.release(t)).toBe(false);
    expect(trial.release(probe())).toBe(false);
  });

  it('hands out expired leases earliest first', () => {
    const trial = new HalfOpenTrial();
    trial.admit(probe(), 100, 2_000);
    trial.admit(probe(), 0, 1_000);
    expect(trial.takeExpired(5_000)).toEqual({ leaseMs: 1_000, expiresAtMs: 1_000 });
    expect(trial.takeExpired(5_000)).toEqual({ leaseMs: 1_900, expiresAtMs: 2_000 });
    expect(trial.takeExpired(5_000)).toBeNull();
  });
});

describe('HalfOpenTrial verdicts', () => {
  it('default mode: successThreshold successes close, the first failure reopens', () => {
    const trial = new HalfOpenTrial();
    expect(trial.record(false, 10, twoProbes)).toBe('continue');
    expect(trial.record(false, 20, twoProbes)).toBe('close');
    trial.reset();
    expect(trial.record(false, 10, twoProbes)).toBe('continue');
    expect(trial.record(true, 30, twoProbes)).toBe('reopen');
    expect(trial.lastOutcomeAtMs).toBe(30);
  });

  it('sample mode: reopens as soon as the rate cannot stay below, closes once the sample is in', () => {
    const config: BreakerConfig = {
      ...twoProbes,
      probeSample: { calls: 4, failureRateBasisPoints: 5_000 },
    };
    const reopening = new HalfOpenTrial();
    expect(reopening.record(true, 1, config)).toBe('continue');
    expect(reopening.record(true, 2, config)).toBe('reopen');

    const closing = new HalfOpenTrial();
    expect(closing.record(true, 1, config)).toBe('continue');
    expect(closing.record(false, 2, config)).toBe('continue');
    expect(closing.record(false, 3, config)).toBe('continue');
    expect(closing.record(false, 4, config)).toBe('close');
  });

  it('at the half-open deadline: no outcome keeps probing, any failure reopens, else close', () => {
    const trial = new HalfOpenTrial();
    expect(trial.deadlineVerdict()).toBe('continue');
    trial.record(false, 1, { ...C3, successThreshold: 5 });
    expect(trial.deadlineVerdict()).toBe('close');
    trial.record(true, 2, { ...C3, successThreshold: 5 });
    expect(trial.deadlineVerdict()).toBe('reopen');
  });
});
