// Behaviour of the state machine beyond the 50 conformance scenarios: ticket sharing, streak window,
// adaptive thresholds, config updates, forced claims, event ordering, late probe leases.
import { describe, expect, it } from 'vitest';
import { C3, Harness, R5, expectRejected } from './breaker-harness.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import type { BreakerConfig } from '../../../src/breaker/breaker-config.ts';
import { BreakerEvents } from '../../../src/breaker/breaker-events.ts';
import { CircuitBreaker } from '../../../src/breaker/circuit-breaker.ts';
import { IllegalTransitionError } from '../../../src/breaker/errors.ts';

describe('admission tickets', () => {
  it('hands every closed-state call the same frozen ticket, without reading the clock', () => {
    let reads = 0;
    const clock = {
      nowMs: () => {
        reads++;
        return 0;
      },
      wallMs: () => 0,
    };
    const breaker = new CircuitBreaker({ config: C3, clock });
    const readsAfterConstruction = reads;
    const first = breaker.tryAcquire();
    const second = breaker.tryAcquire();
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toMatchObject({ admitted: true, isProbe: false, state: 'closed', epoch: 1 });
    expect(reads).toBe(readsAfterConstruction);
  });

  it('issues a new shared ticket per epoch, so tickets from before a transition are late', () => {
    const h = new Harness(C3);
    const before = h.admit();
    h.breaker.reset();
    const after = h.admit();
    expect(after).not.toBe(before);
    expect(after.epoch).toBe(before.epoch + 1);
    h.breaker.recordFailure(before);
    expect(h.log.of('outcome').at(-1)).toMatchObject({ late: true });
    expect(h.breaker.getState().consecutive).toBe(0);
  });

  it('a late success never resets the streak of the current epoch', () => {
    const h = new Harness(C3);
    const old = h.admit();
    h.breaker.reset();
    h.fail();
    h.fail();
    h.breaker.recordSuccess(old);
    expect(h.breaker.getState().consecutive).toBe(2);
    h.fail();
    expect(h.state).toBe('open');
  });

  it('a probe reported twice counts once: the second report is late', () => {
    const h = new Harness({ ...C3, successThreshold: 2 });
    for (let i = 0; i < 3; i++) h.fail();
    h.at(5_000);
    const probe = h.admit();
    h.breaker.recordSuccess(probe);
    h.breaker.recordSuccess(probe);
    expect(h.breaker.getState()).toMatchObject({ state: 'half_open', probeSuccesses: 1 });
    expect(h.log.of('outcome').map((e) => e.late)).toEqual([false, false, false, false, true]);
  });

  it('a probe whose lease expired is late even while the half-open period goes on', () => {
    const config: BreakerConfig = {
      ...C3,
      halfOpenMaxProbes: 2,
      probeTimeoutMs: 1_000,
      probeSample: { calls: 4, failureRateBasisPoints: 7_500 },
    };
    const h = new Harness(config);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(5_000);
    const hung = h.admit();
    h.at(6_000);
    expect(h.breaker.getState()).toMatchObject({ state: 'half_open', probeFailures: 1 });
    h.breaker.recordSuccess(hung);
    expect(h.breaker.getState()).toMatchObject({ probeSuccesses: 0, probeFailures: 1 });
    expect(h.log.of('outcome').at(-1)).toMatchObject({ late: true, isProbe: true });
    expect(h.log.of('probeTimeout')).toHaveLength(1);
  });

  it('accepts outcomes in object form, soft flag included', () => {
    const h = new Harness(C3);
    const t = h.admit();
    h.breaker.record(t, { class: 'failure', soft: true, durationMs: 12 });
    expect(h.breaker.getState()).toMatchObject({ consecutive: 0, windowFailures: 1 });
    expect(h.log.of('outcome')[0]).toMatchObject({ class: 'failure', soft: true, durationMs: 12 });
    h.breaker.record(h.admit(), { class: 'failure' });
    h.breaker.record(h.admit(), { class: 'ignored' });
    expect(h.breaker.getState()).toMatchObject({ consecutive: 1, windowCalls: 2 });
  });
});

describe('consecutive streak window', () => {
  it('counts a streak only while its first failure is younger than windowMs', () => {
    const h = new Harness(C3); // windowMs 60 s
    h.at(0).fail();
    h.at(30_000).fail();
    h.at(60_000).fail(); // the streak started at 0 has aged out: a new streak of 1
    expect(h.breaker.getState()).toMatchObject({ state: 'closed', consecutive: 1 });

    const fast = new Harness(C3);
    fast.at(0).fail();
    fast.at(59_999).fail();
    fast.at(59_999).fail();
    expect(fast.state).toBe('open');
  });

  it('reads 0 once the streak has aged out, without an outcome', () => {
    const h = new Harness(C3);
    h.fail();
    h.fail();
    h.at(59_999);
    expect(h.breaker.getState().consecutive).toBe(2);
    h.at(60_000);
    expect(h.breaker.getState().consecutive).toBe(0);
  });
});

describe('adaptive thresholds', () => {
  const adaptive: BreakerConfig = {
    ...C3,
    adaptive: [
      { minRequestsPerMinute: 100, failureThreshold: 10 },
      { minRequestsPerMinute: 1_000, failureThreshold: 50 },
    ],
  };

  it('uses failureThreshold at low volume', () => {
    const h = new Harness(adaptive);
    for (let i = 0; i < 3; i++) h.fail();
    expect(h.state).toBe('open');
  });

  it('raises the threshold once the window reaches a tier volume', () => {
    const h = new Harness(adaptive);
    for (let i = 0; i < 100; i++) h.succeed();
    expect(h.breaker.getState().failureThreshold).toBe(10);
    for (let i = 0; i < 9; i++) h.fail();
    expect(h.state).toBe('closed');
    h.fail();
    expect(h.state).toBe('open');
    expect(h.log.of('thresholdExceeded')[0]).toMatchObject({
      kind: 'consecutive_failures',
      value: 10,
      threshold: 10,
    });
  });

  it('picks the highest tier reached', () => {
    const h = new Harness(adaptive);
    for (let i = 0; i < 1_000; i++) h.succeed();
    expect(h.breaker.getState().failureThreshold).toBe(50);
  });
});

describe('updateConfig', () => {
  it('keeps state, window and streak; new thresholds apply from the next outcome', () => {
    const h = new Harness(C3);
    h.fail();
    h.fail();
    h.breaker.updateConfig({ ...C3, failureThreshold: 2 });
    expect(h.breaker.getState()).toMatchObject({ state: 'closed', consecutive: 2, windowCalls: 2 });
    expect(h.log.of('stateChange')).toHaveLength(0);
    h.fail();
    expect(h.state).toBe('open');
  });

  it('keeps tickets valid: the epoch does not move', () => {
    const h = new Harness(C3);
    const t = h.admit();
    h.breaker.updateConfig({ ...C3, failureThreshold: 1 });
    h.breaker.recordFailure(t);
    expect(h.state).toBe('open');
    expect(h.log.of('outcome')[0]).toMatchObject({ late: false });
  });

  it('keeps the open deadline; the next open period uses the new backoff', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.breaker.updateConfig({
      ...C3,
      recoveryTimeoutMs: 1_000,
      recoveryBackoff: { multiplier: 3, maxMs: 60_000, jitter: 0 },
    });
    expect(h.breaker.getState().openUntilMs).toBe(5_000);
    h.at(4_999);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(5_000).fail();
    expect(h.log.of('stateChange').at(-1)?.openForMs).toBe(3_000); // 1000 * 3^(2-1)
  });

  it('re-buckets the window by age when its geometry changes', () => {
    const h = new Harness(R5); // 20 s / 20 buckets
    h.at(0).succeed();
    h.at(8_000).succeed();
    h.at(9_000).fail();
    h.at(10_000);
    h.breaker.updateConfig({ ...R5, windowMs: 5_000, windowBuckets: 5 });
    expect(h.breaker.getState()).toMatchObject({ windowCalls: 2, windowFailures: 1 });
    h.at(12_999);
    expect(h.breaker.getState()).toMatchObject({ windowCalls: 2 });
    h.at(13_000); // the 8 s bucket expires: 8000 + 5000 <= 13000
    expect(h.breaker.getState()).toMatchObject({ windowCalls: 1, windowFailures: 1 });
    h.at(14_000);
    expect(h.breaker.getState()).toMatchObject({ windowCalls: 0 });
  });
});

describe('manual control', () => {
  it('a forced claim with untilMs lapses at its deadline into a clean closed state', () => {
    const h = new Harness(C3);
    h.fail();
    h.breaker.forceOpen({ untilMs: 10_000, reason: 'deploy' });
    h.at(4_000);
    expect(expectRejected(h.breaker.tryAcquire(), 'forced_open').retryAfterMs).toBe(6_000);
    h.at(10_000);
    expect(h.breaker.getState()).toMatchObject({ state: 'closed', consecutive: 0, attempt: 0 });
    expect(h.log.transitions()).toEqual(['closed->forced_open', 'forced_open->closed']);
    expect(h.log.of('stateChange')[1]?.reason).toBe('force_expired');
    expect(h.log.of('reset')).toEqual([{ key: 'k', reason: 'force_expired' }]);
  });

  it('merges claims: "until released" outlasts a deadline, holds outlast both', () => {
    const h = new Harness(C3);
    h.breaker.forceOpen({ untilMs: 10_000 });
    h.breaker.forceOpen();
    h.at(20_000);
    expect(h.state).toBe('forced_open');

    const held = new Harness(C3);
    held.breaker.forceOpen({ untilMs: 10_000 });
    const handle = held.breaker.forceOpen({ hold: true });
    held.at(20_000);
    expect(held.state).toBe('forced_open');
    handle.release();
    expect(held.state).toBe('closed');

    const both = new Harness(C3);
    both.breaker.forceOpen();
    const hold = both.breaker.forceOpen({ hold: true });
    hold.release();
    expect(both.state).toBe('forced_open'); // the sticky claim remains
    both.breaker.release();
    expect(both.state).toBe('closed');
  });

  it('a hold released after release()/reset() ended the forced period does nothing', () => {
    const h = new Harness(C3);
    const stale = h.breaker.forceOpen({ hold: true });
    h.breaker.release();
    const fresh = h.breaker.forceOpen({ hold: true });
    stale.release();
    expect(h.state).toBe('forced_open');
    fresh.release();
    expect(h.state).toBe('closed');
  });

  it('halfOpen() lets probes through from open or forced_open', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.breaker.halfOpen();
    expect(h.state).toBe('half_open');
    expect(h.admit().isProbe).toBe(true);
    h.breaker.halfOpen(); // same state: no-op
    expect(h.log.transitions().filter((t) => t === 'open->half_open')).toHaveLength(1);

    const forced = new Harness(C3);
    forced.breaker.forceOpen();
    forced.breaker.halfOpen();
    expect(forced.state).toBe('half_open');
    forced.breaker.disable();
    expect(() => {
      forced.breaker.halfOpen();
    }).toThrow(IllegalTransitionError);
  });

  it('openFor during half-open reopens and makes the probes late', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(5_000);
    const probe = h.admit();
    h.breaker.openFor(1_000);
    expect(h.breaker.getState()).toMatchObject({ state: 'open', attempt: 1, openUntilMs: 6_000 });
    h.breaker.recordSuccess(probe);
    expect(h.state).toBe('open');
    expect(() => {
      h.breaker.forceOpen();
      h.breaker.openUntil(50_000);
    }).toThrow(IllegalTransitionError);
  });

  it('reset() of a closed breaker clears it and emits only a reset event', () => {
    const h = new Harness(C3);
    h.fail();
    h.log.clear();
    h.breaker.reset();
    expect(h.log.names()).toEqual(['reset']);
    expect(h.breaker.getState()).toMatchObject({ consecutive: 0, windowCalls: 0 });
  });

  it('metrics-only re-reports a threshold after it dropped below and crossed again', () => {
    const h = new Harness(R5);
    h.breaker.forceClosed();
    for (let i = 0; i < 5; i++) h.fail();
    expect(h.log.of('thresholdExceeded')).toHaveLength(1);
    h.at(20_000); // window empties
    for (let i = 0; i < 5; i++) h.succeed();
    for (let i = 0; i < 5; i++) h.fail();
    expect(h.log.of('thresholdExceeded')).toHaveLength(2);
  });
});

describe('events', () => {
  it('deliver in commit order even when a listener re-enters the breaker', () => {
    const clock = new ManualClock(0);
    const events = new BreakerEvents();
    const breaker = new CircuitBreaker({ key: 'k', config: C3, clock, events });
    const seen: string[] = [];
    events.on('stateChange', (e) => {
      if (e.to === 'open') breaker.reset();
    });
    events.on('stateChange', (e) => seen.push(`${e.from}->${e.to}`));
    events.on('reset', () => seen.push('reset'));
    for (let i = 0; i < 3; i++) {
      const t = breaker.tryAcquire();
      if (t.admitted) breaker.recordFailure(t);
    }
    expect(seen).toEqual(['closed->open', 'open->closed', 'reset']);
    expect(breaker.getState().state).toBe('closed');
  });

  it('are delivered after the state is committed', () => {
    const h = new Harness(C3);
    const statesSeen: string[] = [];
    h.breaker.events.on('outcome', () => statesSeen.push(h.breaker.getState().state));
    h.breaker.events.on('thresholdExceeded', () => statesSeen.push(h.breaker.getState().state));
    for (let i = 0; i < 3; i++) h.fail();
    expect(statesSeen).toEqual(['closed', 'closed', 'open', 'open']);
    expect(h.log.names().slice(-3)).toEqual(['outcome', 'thresholdExceeded', 'stateChange']);
  });

  it('carry the transition details', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    expect(h.log.of('stateChange')[0]).toEqual({
      key: 'k',
      from: 'closed',
      to: 'open',
      reason: 'consecutive_failures',
      epoch: 2,
      attempt: 1,
      openUntilMs: 5_000,
      openForMs: 5_000,
      atWallMs: h.clock.wallMs(),
    });
  });

  it('an unsubscribed listener hears nothing more', () => {
    const h = new Harness(C3);
    let count = 0;
    const off = h.breaker.events.on('outcome', () => count++);
    h.succeed();
    off();
    h.succeed();
    expect(count).toBe(1);
    expect(h.breaker.events.has('rejected')).toBe(true); // the log listens
  });
});
