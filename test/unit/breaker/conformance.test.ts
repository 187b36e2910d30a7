// The 50 conformance scenarios of docs/breaker-spec.md, one describe per section, one test per number.
// Time is a ManualClock (t in ms from 0); nothing sleeps.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  C3,
  EventLog,
  Harness,
  R5,
  expectRejected,
  rateOnly,
  seededRandom,
} from './breaker-harness.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import {
  BREAKER_STATE_KINDS,
  BreakerEvents,
  BreakerRegistry,
  CircuitBreaker,
  DEFAULT_BREAKER_CONFIG,
  IllegalTransitionError,
  openDurationMs,
  type BreakerConfig,
  type Ticket,
} from '../../../src/breaker/index.ts';

describe('closed state', () => {
  it('1: trips at exactly N consecutive failures and the tripping call gets its real result', () => {
    const h = new Harness(C3);
    h.fail();
    h.fail();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().consecutive).toBe(2);
    expect(h.upstreamCalls).toBe(2);

    // The third call is admitted (it reaches the upstream and returns its own error to its
    // caller); recording its failure opens the breaker without replacing that result.
    const third = h.admit();
    expect(third.admitted).toBe(true);
    expect(h.state).toBe('closed');
    h.breaker.recordFailure(third);
    expect(h.state).toBe('open');
    const changes = h.log.of('stateChange');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      from: 'closed',
      to: 'open',
      reason: 'consecutive_failures',
    });

    expectRejected(h.breaker.tryAcquire(), 'open');
    expect(h.upstreamCalls).toBe(3);
  });

  it('2: a success resets the consecutive counter', () => {
    const h = new Harness(C3);
    h.fail();
    h.fail();
    h.succeed();
    h.fail();
    h.fail();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().consecutive).toBe(2);
    h.fail();
    expect(h.state).toBe('open');
  });

  it('3: an ignored outcome neither counts nor resets the streak', () => {
    const h = new Harness(C3);
    h.fail();
    h.fail();
    h.ignore();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().consecutive).toBe(2);
    h.fail();
    expect(h.state).toBe('open');
  });

  it('4: the failure-rate threshold is inclusive within the time window', () => {
    const h = new Harness(R5);
    h.at(0).succeed();
    h.at(1_000).succeed();
    h.at(2_000).succeed();
    h.at(3_000).fail();
    h.at(4_000).fail();
    expect(h.state).toBe('closed'); // 2/5 = 40 %
    h.at(5_000).fail();
    expect(h.state).toBe('open'); // 3/6 = 50 % >= 50 %
    expect(h.log.of('stateChange')[0]?.reason).toBe('failure_rate');
  });

  it('5: waits for the minimum calls, then trips and reports the window metrics', () => {
    const h = new Harness(R5);
    h.fail();
    h.fail();
    h.fail();
    h.succeed();
    let status = h.breaker.getState();
    expect(status.state).toBe('closed');
    expect(status.failureRate).toBeNaN();
    expect(status.windowCalls).toBe(4);

    h.succeed();
    status = h.breaker.getState();
    expect(status.state).toBe('open');
    expect(status.windowCalls).toBe(5);
    expect(status.windowFailures).toBe(3);
    expect(status.windowSuccesses).toBe(2);
    expect(status.failureRate).toBe(0.6);
    const exceeded = h.log.of('thresholdExceeded');
    expect(exceeded).toHaveLength(1);
    expect(exceeded[0]).toMatchObject({ kind: 'failure_rate', value: 0.6, threshold: 0.5 });

    expectRejected(h.breaker.tryAcquire(), 'open');
    expect(h.breaker.stats().rejections.open).toBe(1);
  });

  it('6: the minimum-throughput gate is inclusive', () => {
    const config = rateOnly(60_000, 60, 10, 1_000);
    const below = new Harness(config);
    for (let i = 0; i < 8; i++) below.succeed();
    below.fail();
    expect(below.state).toBe('closed'); // 9 calls < 10 at 11.1 %

    const at = new Harness(config);
    for (let i = 0; i < 9; i++) at.succeed();
    at.fail();
    expect(at.state).toBe('open'); // 10 calls at exactly 10 %
  });

  it('7: a bucket expires exactly when bucketStart + windowMs <= now', () => {
    const config = rateOnly(10_000, 10, 4, 5_000);
    const h = new Harness(config);
    h.at(0).succeed();
    h.at(0).succeed();
    h.at(9_999).fail();
    h.at(10_000).fail();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().windowCalls).toBe(2);

    const variant = new Harness(config);
    variant.at(0).succeed();
    variant.at(0).succeed();
    variant.at(9_999).fail();
    variant.at(9_999).fail();
    expect(variant.state).toBe('open'); // 4 calls at 50 %
  });

  it('8: an idle gap clears stale buckets', () => {
    const h = new Harness(rateOnly(10_000, 10, 10, 5_000));
    for (let i = 0; i < 9; i++) h.at(0).fail();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().windowCalls).toBe(9);
    h.at(60_000).fail();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().windowCalls).toBe(1);
  });

  it('9: the window slides one bucket at a time', () => {
    const h = new Harness(rateOnly(10_000, 10, 100, 5_000));
    for (let t = 0; t <= 9_000; t += 1_000) h.at(t).succeed();
    h.at(10_000);
    expect(h.breaker.getState().windowCalls).toBe(9);
    h.at(11_000);
    expect(h.breaker.getState().windowCalls).toBe(8);
  });

  it('10: own rejections and local refusals are never outcomes', () => {
    const h = new Harness(R5);
    for (let i = 0; i < 5; i++) h.fail();
    expect(h.state).toBe('open');
    for (let i = 0; i < 100; i++) expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(5_000);
    for (let i = 0; i < 4; i++) h.succeed();
    expect(h.state).toBe('closed');
    expect(h.breaker.getState().windowCalls).toBe(0);

    // A local concurrency limit refuses 50 admitted calls before dispatch: the data plane
    // reports them as ignored, which counts nothing.
    for (let i = 0; i < 50; i++) h.ignore();
    const status = h.breaker.getState();
    expect(status.windowFailures).toBe(0);
    expect(status.windowCalls).toBe(0);
    expect(status.state).toBe('closed');
  });

  it('11: the denominator is completed calls only, not calls in flight', () => {
    const h = new Harness(R5);
    const tickets: Ticket[] = [];
    for (let i = 0; i < 10; i++) tickets.push(h.admit());
    h.at(1_000);
    for (const ticket of tickets.slice(0, 5)) h.breaker.recordFailure(ticket);
    expect(h.state).toBe('open'); // 5/5 completed
    // The five still in flight settle later as late outcomes and change nothing.
    for (const ticket of tickets.slice(5)) h.breaker.recordSuccess(ticket);
    expect(h.state).toBe('open');
    expect(h.breaker.stats().lateCalls.success).toBe(5);
  });

  it('12: trips on the slow-call rate; exactly durationMs is not slow', () => {
    const h = new Harness(R5);
    h.fail(5_000);
    h.succeed(5_000);
    h.fail(100);
    h.succeed(100);
    h.succeed(5_000);
    const status = h.breaker.getState();
    expect(status.state).toBe('open');
    expect(h.log.of('stateChange')[0]?.reason).toBe('slow_call_rate');
    expect(status.windowSlow).toBe(3);
    expect(status.slowCallRate).toBe(0.6);
    expect(status.failureRate).toBe(0.4);

    const exact = new Harness(R5);
    for (let i = 0; i < 5; i++) exact.succeed(4_000);
    expect(exact.state).toBe('closed');
    expect(exact.breaker.getState().windowSlow).toBe(0);
  });

  it('13: with both rules on, the first to fire names the trip reason', () => {
    const config: BreakerConfig = {
      ...rateOnly(60_000, 60, 20, 5_000),
      failureThreshold: 5,
    };
    const streak = new Harness(config);
    for (let i = 0; i < 4; i++) streak.fail();
    expect(streak.state).toBe('closed');
    streak.fail();
    expect(streak.state).toBe('open');
    expect(streak.log.of('stateChange')[0]?.reason).toBe('consecutive_failures');

    const alternating = new Harness(config);
    let maxConsecutive = 0;
    for (let i = 0; i < 20; i++) {
      expect(alternating.state).toBe('closed');
      if (i % 2 === 0) alternating.succeed();
      else alternating.fail();
      maxConsecutive = Math.max(maxConsecutive, alternating.breaker.getState().consecutive);
    }
    expect(maxConsecutive).toBe(1);
    expect(alternating.state).toBe('open');
    expect(alternating.log.of('stateChange')[0]?.reason).toBe('failure_rate');
  });

  it('14: failures settling in the same tick trip exactly once', () => {
    const h = new Harness({ ...C3, failureThreshold: 5 });
    const tickets: Ticket[] = [];
    for (let i = 0; i < 6; i++) tickets.push(h.admit());
    for (const ticket of tickets) h.breaker.recordFailure(ticket);
    const changes = h.log.of('stateChange');
    expect(changes).toHaveLength(1);
    expect(changes[0]?.openUntilMs).toBe(5_000);
    expect(h.breaker.stats().lateCalls.failure).toBe(1);
    h.at(4_999);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(5_000);
    expect(h.admit().isProbe).toBe(true);
  });
});

describe('open state', () => {
  it('15: a rejection carries the time left as retryAfterMs', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(1);
    const rejection = expectRejected(h.breaker.tryAcquire(), 'open');
    expect(rejection.retryAfterMs).toBe(4_999);
    expect(h.upstreamCalls).toBe(3);
    expect(h.breaker.stats().rejections.open).toBe(1);
    expect(h.log.of('rejected')).toEqual([
      { key: 'k', reason: 'open', retryAfterMs: 4_999, epoch: 2 },
    ]);
  });

  it('16: the open boundary is inclusive: rejected at 4999, probe at 5000', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(4_999);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(5_000);
    const probe = h.admit();
    expect(probe.isProbe).toBe(true);
    expect(h.breaker.getState()).toMatchObject({ state: 'half_open', pendingTransition: false });
  });

  it('17: open -> half-open is lazy, observable, and emits nothing without traffic', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(3_600_000);
    expect(h.log.of('stateChange')).toHaveLength(1);
    expect(h.breaker.getState()).toMatchObject({
      state: 'half_open',
      pendingTransition: true,
      attempt: 1,
    });
    expect(h.log.of('stateChange')).toHaveLength(1);
    h.admit();
    expect(h.log.transitions()).toEqual(['closed->open', 'open->half_open']);
  });

  it('18: late outcomes while open change nothing', () => {
    for (const lateOutcome of ['success', 'failure'] as const) {
      const h = new Harness(C3);
      const a = h.admit();
      h.at(100);
      for (let i = 0; i < 3; i++) h.fail();
      expect(h.breaker.getState().openUntilMs).toBe(5_100);
      h.at(1_000);
      if (lateOutcome === 'success') h.breaker.recordSuccess(a);
      else h.breaker.recordFailure(a);
      const status = h.breaker.getState();
      expect(status.state).toBe('open');
      expect(status.openUntilMs).toBe(5_100);
      expect(h.log.of('stateChange')).toHaveLength(1);
      const outcome = h.log.of('outcome').at(-1);
      expect(outcome).toMatchObject({ class: lateOutcome, late: true });
      expect(h.breaker.stats().lateCalls[lateOutcome]).toBe(1);
    }
  });

  it('19: open periods grow 5, 10, 20, 40, 60, 60 s across failed probes', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      const status = h.breaker.getState();
      const until = status.openUntilMs ?? Number.NaN;
      durations.push(h.log.of('stateChange').at(-1)?.openForMs ?? Number.NaN);
      h.at(until);
      h.fail(); // the probe fails
    }
    expect(durations).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('20: the attempt decays only after staying closed for attemptResetAfterMs', () => {
    const config: BreakerConfig = { ...C3, attemptResetAfterMs: 60_000 };
    const reachAttempt3Closed = (): Harness => {
      const h = new Harness(config);
      for (let i = 0; i < 3; i++) h.fail(); // attempt 1, open until 5000
      h.at(5_000).fail(); // attempt 2, open until 15000
      h.at(15_000).fail(); // attempt 3, open 20 s until 35000
      expect(h.log.of('stateChange').at(-1)?.openForMs).toBe(20_000);
      h.at(35_000).succeed(); // closed at T = 35000, attempt kept
      expect(h.state).toBe('closed');
      expect(h.breaker.getState().attempt).toBe(3);
      return h;
    };

    const soon = reachAttempt3Closed();
    soon.at(45_000);
    for (let i = 0; i < 3; i++) soon.fail();
    expect(soon.log.of('stateChange').at(-1)).toMatchObject({ attempt: 4, openForMs: 40_000 });

    const calm = reachAttempt3Closed();
    calm.at(95_000);
    expect(calm.breaker.getState().attempt).toBe(0);
    for (let i = 0; i < 3; i++) calm.fail();
    expect(calm.log.of('stateChange').at(-1)).toMatchObject({ attempt: 1, openForMs: 5_000 });
  });

  it('21: jitter stays within [cap * (1 - jitter), cap] and still spreads at the cap', () => {
    const config: BreakerConfig = {
      ...C3,
      recoveryBackoff: { multiplier: 2, maxMs: 60_000, jitter: 0.2 },
    };
    const random = seededRandom(21);
    const samples = Array.from({ length: 10_000 }, () => openDurationMs(config, 10, 0, random));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(48_000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(60_000);
    expect(new Set(samples).size).toBeGreaterThanOrEqual(100);

    // Through the breaker too: the extreme random values stay inside the bounds.
    for (const u of [0, 0.999_999]) {
      const h = new Harness({ ...config, recoveryTimeoutMs: 60_000 }, () => u);
      for (let i = 0; i < 3; i++) h.fail();
      const openFor = h.log.of('stateChange')[0]?.openForMs ?? Number.NaN;
      expect(openFor).toBeGreaterThanOrEqual(48_000);
      expect(openFor).toBeLessThanOrEqual(60_000);
    }
  });

  it('22: Retry-After extends the open period, is clamped, and a 429 fails the probe', () => {
    const h = new Harness(C3);
    h.fail();
    h.fail();
    h.fail(0, 30_000); // 503 with Retry-After: 30
    expect(h.breaker.getState().openUntilMs).toBe(30_000);

    const huge = new Harness(C3);
    huge.fail();
    huge.fail();
    huge.fail(0, 10_000 * 1_000); // Retry-After: 10000 (seconds)
    expect(huge.breaker.getState().openUntilMs).toBe(300_000);

    // A short Retry-After never shortens the backoff. (HTTP-date values are converted to ms by
    // the data plane against the wall clock before they reach the engine.)
    const short = new Harness(C3);
    short.fail();
    short.fail();
    short.fail(0, 1_000);
    expect(short.breaker.getState().openUntilMs).toBe(5_000);

    // A probe answered with 429 is a failed probe.
    short.at(5_000).fail(0, 0, true);
    expect(short.state).toBe('open');
    expect(short.log.of('stateChange').at(-1)).toMatchObject({
      from: 'half_open',
      to: 'open',
      reason: 'probe_failure',
    });
  });
});

describe('half-open state', () => {
  const tripC3 = (h: Harness): void => {
    for (let i = 0; i < 3; i++) h.fail();
  };

  it('23: admits a single probe and rejects the rest as half_open_busy', () => {
    const h = new Harness(C3);
    tripC3(h);
    h.at(5_000);
    const callsBefore = h.upstreamCalls;
    h.admit();
    h.at(5_001);
    expectRejected(h.breaker.tryAcquire(), 'half_open_busy');
    expect(h.upstreamCalls - callsBefore).toBe(1);
  });

  it('24: admits exactly halfOpenMaxProbes concurrent probes', () => {
    const h = new Harness(R5);
    for (let i = 0; i < 5; i++) h.fail();
    h.at(5_000);
    const results = Array.from({ length: 100 }, () => h.breaker.tryAcquire());
    const admitted = results.filter((r): r is Ticket => r.admitted);
    expect(admitted).toHaveLength(4);
    expect(results.filter((r) => !r.admitted)).toHaveLength(96);
    const [first] = admitted;
    if (first === undefined) throw new Error('unreachable');
    h.breaker.recordSuccess(first);
    expect(h.breaker.tryAcquire().admitted).toBe(true);
    expect(h.breaker.tryAcquire().admitted).toBe(false);
  });

  it('25: a probe success closes with an empty window', () => {
    const h = new Harness(C3);
    tripC3(h);
    h.at(5_000).succeed();
    const status = h.breaker.getState();
    expect(status.state).toBe('closed');
    expect(h.log.transitions().filter((t) => t === 'half_open->closed')).toHaveLength(1);
    expect(status.windowCalls).toBe(0);
    expect(status.failureRate).toBeNaN();
    h.fail();
    expect(h.breaker.getState()).toMatchObject({ state: 'closed', consecutive: 1 });
  });

  it('26: several successes are required when successThreshold > 1', () => {
    const h = new Harness({ ...C3, successThreshold: 3 });
    tripC3(h);
    h.at(5_000).succeed();
    expect(h.breaker.getState()).toMatchObject({ state: 'half_open', probeSuccesses: 1 });
    h.succeed();
    expect(h.breaker.getState()).toMatchObject({ state: 'half_open', probeSuccesses: 2 });
    h.succeed();
    expect(h.breaker.getState()).toMatchObject({ state: 'closed', probeSuccesses: 0 });
  });

  it('27: a failure reopens at once and escalates the attempt', () => {
    const h = new Harness({ ...C3, successThreshold: 3 });
    tripC3(h);
    h.at(5_000).succeed();
    h.succeed();
    h.at(5_500).fail();
    const status = h.breaker.getState();
    expect(status).toMatchObject({ state: 'open', attempt: 2, probeSuccesses: 0 });
    expect(status.openUntilMs).toBe(15_500);
  });

  it('28: sample-mode half-open decides on the planned sample with an early exit', () => {
    const sample4: BreakerConfig = {
      ...C3,
      halfOpenMaxProbes: 4,
      probeSample: { calls: 4, failureRateBasisPoints: 5_000 },
    };
    const run = (config: BreakerConfig, outcomes: string): Harness => {
      const h = new Harness(config);
      tripC3(h);
      h.at(5_000);
      for (const o of outcomes) {
        expect(h.state).toBe('half_open');
        if (o === 'F') h.fail();
        else h.succeed();
      }
      return h;
    };
    expect(run(sample4, 'FSSF').state).toBe('open'); // 2/4 = 50 %
    expect(run(sample4, 'FSS').state).toBe('half_open');
    expect(run(sample4, 'FSSS').state).toBe('closed'); // 25 %
    expect(run(sample4, 'FF').state).toBe('open'); // early exit: 2 >= 0.5 x 4

    const sample10: BreakerConfig = {
      ...C3,
      halfOpenMaxProbes: 4,
      probeSample: { calls: 10, failureRateBasisPoints: 3_000 },
    };
    expect(run(sample10, 'FF').state).toBe('half_open');
    expect(run(sample10, 'FFF').state).toBe('open'); // 3 >= 0.3 x 10
    expect(run(sample10, 'FFSSSSSSSS').state).toBe('closed');
    expect(run(sample10, 'FFSSSSSSS').state).toBe('half_open');
  });

  it('29: an ignored probe releases its permit and counts for nothing', () => {
    const h = new Harness({ ...C3, successThreshold: 4 });
    tripC3(h);
    h.at(5_000);
    const outcomes = ['I', 'I', 'I', 'I', 'S', 'S', 'S', 'S'];
    outcomes.forEach((o, i) => {
      if (o === 'I') h.ignore();
      else h.succeed();
      expect(h.state).toBe(i === outcomes.length - 1 ? 'closed' : 'half_open');
    });
    expect(h.log.transitions()).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('30: a probe cancelled by the client releases the permit without a transition', () => {
    const h = new Harness(C3);
    tripC3(h);
    h.at(5_000);
    const probe = h.admit();
    h.log.clear();
    h.at(5_500);
    h.breaker.recordIgnored(probe);
    expect(h.state).toBe('half_open');
    expect(h.log.of('stateChange')).toHaveLength(0);
    expect(h.admit().isProbe).toBe(true);
  });

  it('31: a hung probe times out at its lease and its late result decides nothing', () => {
    const h = new Harness({ ...C3, probeTimeoutMs: 10_000 });
    tripC3(h);
    h.at(5_000);
    const hung = h.admit();
    expect(hung.leaseExpiresAtMs).toBe(15_000);
    h.at(14_999);
    expect(expectRejected(h.breaker.tryAcquire(), 'half_open_busy').retryAfterMs).toBe(1);
    h.log.clear();

    h.at(15_000);
    expectRejected(h.breaker.tryAcquire(), 'open');
    expect(h.log.names().filter((n) => n !== 'rejected')).toEqual(['probeTimeout', 'stateChange']);
    expect(h.log.of('probeTimeout')[0]).toMatchObject({ leaseMs: 10_000 });
    expect(h.log.of('stateChange')[0]).toMatchObject({
      from: 'half_open',
      to: 'open',
      reason: 'probe_timeout',
      attempt: 2,
      openUntilMs: 25_000,
    });

    h.at(20_000);
    h.breaker.recordSuccess(hung);
    expect(h.state).toBe('open');
    expect(h.log.of('outcome').at(-1)).toMatchObject({ late: true, isProbe: true });
    expect(h.breaker.stats().probeTimeouts).toBe(1);
  });

  it('32: outcomes admitted before the trip never decide half-open', () => {
    for (const aOutcome of ['success', 'failure'] as const) {
      for (const bOutcome of ['success', 'failure'] as const) {
        const h = new Harness(C3);
        const a = h.admit(); // t=0, closed, slow
        h.at(100);
        tripC3(h);
        h.at(5_100);
        const b = h.admit();
        expect(b.isProbe).toBe(true);
        h.at(5_200);
        if (aOutcome === 'success') h.breaker.recordSuccess(a);
        else h.breaker.recordFailure(a);
        expect(h.state).toBe('half_open');
        if (bOutcome === 'success') h.breaker.recordSuccess(b);
        else h.breaker.recordFailure(b);
        expect(h.state).toBe(bOutcome === 'success' ? 'closed' : 'open');
      }
    }
  });

  it('33: extra half-open callers are refused in the same tick and never run later', () => {
    const h = new Harness({ ...C3, halfOpenMaxProbes: 2, successThreshold: 5 });
    tripC3(h);
    h.at(5_000);
    const first = h.breaker.tryAcquire();
    const second = h.breaker.tryAcquire();
    const third = h.breaker.tryAcquire(); // synchronous answer: nothing to await
    expect(first.admitted && second.admitted).toBe(true);
    expectRejected(third, 'half_open_busy');
    if (!first.admitted || !second.admitted) throw new Error('unreachable');
    h.breaker.recordSuccess(first);
    h.breaker.recordSuccess(second);
    h.at(6_000);
    const status = h.breaker.getState();
    expect(status.probesInFlight).toBe(0);
    expect(status.probeSuccesses).toBe(2); // only the two admitted calls ever ran
  });

  it('34a: no traffic, no oscillation', () => {
    const h = new Harness(C3);
    tripC3(h);
    h.at(3_600_000);
    expect(h.breaker.getState().attempt).toBe(1);
    expect(h.log.of('stateChange')).toHaveLength(1);
  });

  it('34b: halfOpenMaxDurationMs closes with at least one outcome and no failures', () => {
    const h = new Harness({ ...C3, successThreshold: 3, halfOpenMaxDurationMs: 60_000 });
    tripC3(h);
    h.at(5_000).succeed();
    h.at(64_999);
    expect(h.state).toBe('half_open');
    h.at(65_000);
    expect(h.state).toBe('closed');
    expect(h.log.of('stateChange').at(-1)).toMatchObject({
      from: 'half_open',
      to: 'closed',
      reason: 'half_open_deadline',
    });
  });

  it('34c: halfOpenMaxDurationMs with no outcome stays half-open silently', () => {
    const h = new Harness({ ...C3, successThreshold: 3, halfOpenMaxDurationMs: 60_000 });
    tripC3(h);
    h.at(5_000);
    const probe = h.admit();
    h.at(5_100);
    h.breaker.recordIgnored(probe);
    h.log.clear();
    h.at(65_000);
    expect(h.breaker.getState()).toMatchObject({ state: 'half_open', attempt: 1 });
    h.at(200_000);
    expect(h.state).toBe('half_open');
    expect(h.log.of('stateChange')).toHaveLength(0);
  });
});

describe('manual control', () => {
  it('35: forced open is sticky past any open duration', () => {
    const h = new Harness(C3);
    h.breaker.forceOpen();
    expectRejected(h.breaker.tryAcquire(), 'forced_open');
    h.at(6_000);
    expectRejected(h.breaker.tryAcquire(), 'forced_open');
    expect(h.state).toBe('forced_open');
    expect(h.breaker.stats().rejections.forced_open).toBe(2);
  });

  it('36: hold handles are ref-counted', () => {
    const h = new Harness(C3);
    const h1 = h.breaker.forceOpen({ hold: true });
    expect(h.log.transitions()).toEqual(['closed->forced_open']);
    const h2 = h.breaker.forceOpen({ hold: true });
    expect(h.log.of('stateChange')).toHaveLength(1);
    h1.release();
    expect(h.state).toBe('forced_open');
    expect(h.breaker.getState().forced?.holds).toBe(1);
    h2.release();
    expect(h.state).toBe('closed');
    expect(h.log.of('reset')).toHaveLength(1);
    expect(h2.released).toBe(true);
    h2.release();
    expect(h.log.of('reset')).toHaveLength(1);
    expect(h.log.of('stateChange')).toHaveLength(2);
  });

  it('37: forcing open during half-open turns the pending probe late', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(5_000);
    const probe = h.admit();
    h.breaker.forceOpen({ reason: 'maintenance' });
    h.breaker.recordSuccess(probe);
    expect(h.state).toBe('forced_open');
    expect(h.log.of('outcome').at(-1)).toMatchObject({ late: true });
    expect(h.log.of('stateChange').at(-1)).toMatchObject({
      to: 'forced_open',
      note: 'maintenance',
    });
  });

  it('38: disabled passes everything and records nothing', () => {
    const h = new Harness(C3);
    h.breaker.disable();
    h.log.clear();
    for (let i = 0; i < 4; i++) h.fail();
    expect(h.upstreamCalls).toBe(4);
    expect(h.state).toBe('disabled');
    expect(h.breaker.getState().windowCalls).toBe(0);
    expect(h.log.of('stateChange')).toHaveLength(0);
    expect(h.log.of('thresholdExceeded')).toHaveLength(0);
  });

  it('39: metrics-only never rejects and reports each threshold crossing once', () => {
    const h = new Harness(R5);
    h.breaker.forceClosed();
    h.log.clear();
    h.fail();
    h.fail();
    h.fail();
    h.succeed();
    expect(h.log.of('thresholdExceeded')).toHaveLength(0);
    h.succeed();
    expect(h.log.of('thresholdExceeded')).toEqual([
      { key: 'k', kind: 'failure_rate', value: 0.6, threshold: 0.5, metricsOnly: true },
    ]);
    h.fail();
    expect(h.log.of('thresholdExceeded')).toHaveLength(1);
    expect(h.log.of('stateChange')).toHaveLength(0);
    expect(h.upstreamCalls).toBe(6);

    const slow = new Harness(R5);
    slow.breaker.forceClosed();
    for (let i = 0; i < 5; i++) slow.fail(5_000);
    expect(slow.log.of('thresholdExceeded').map((e) => e.kind)).toEqual([
      'failure_rate',
      'slow_call_rate',
    ]);
  });

  it('40: reset() invalidates every lease and deadline', () => {
    const h = new Harness({ ...C3, probeTimeoutMs: 1_000, halfOpenMaxDurationMs: 1_000 });
    for (let i = 0; i < 3; i++) h.fail();
    h.at(5_000);
    const probe = h.admit();
    h.at(5_200);
    h.breaker.reset();
    const status = h.breaker.getState();
    expect(status).toMatchObject({ state: 'closed', windowCalls: 0, attempt: 0 });
    expect(h.log.names().slice(-2)).toEqual(['stateChange', 'reset']);
    h.log.clear();
    h.at(7_200);
    expect(h.state).toBe('closed');
    expect(h.log.entries).toHaveLength(0);
    h.breaker.recordFailure(probe);
    expect(h.state).toBe('closed');
    expect(h.log.of('outcome')[0]).toMatchObject({ late: true });
    expect(h.breaker.getState().consecutive).toBe(0);
  });

  it('41: illegal manual transitions throw; same-state requests emit nothing', () => {
    const h = new Harness(C3);
    expect(() => {
      h.breaker.halfOpen();
    }).toThrow(IllegalTransitionError);
    try {
      h.breaker.halfOpen();
    } catch (error) {
      expect(error).toMatchObject({ code: 'AICB_ILLEGAL_TRANSITION' });
    }
    expect(h.state).toBe('closed');

    h.breaker.openFor(10_000);
    expect(h.log.of('stateChange')).toHaveLength(1);
    h.breaker.openFor(2_000);
    expect(h.breaker.getState().openUntilMs).toBe(2_000);
    expect(h.log.of('stateChange')).toHaveLength(1);

    h.breaker.release(); // nothing to release while automatically open
    h.breaker.forceClosed();
    h.breaker.forceClosed();
    h.breaker.disable();
    h.breaker.disable();
    expect(h.log.transitions()).toEqual([
      'closed->open',
      'open->metrics_only',
      'metrics_only->disabled',
    ]);
    expect(() => {
      h.breaker.openFor(1_000);
    }).toThrow(IllegalTransitionError);
    expect(h.state).toBe('disabled');
  });

  it('42: openFor sets an explicit open period and keeps the attempt', () => {
    const h = new Harness(C3);
    h.breaker.openFor(7_200_000);
    h.at(3_600_000);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(7_200_000);
    expect(h.admit().isProbe).toBe(true);
    expect(h.breaker.getState().attempt).toBe(0);
  });
});

describe('events, metrics, persistence, clock, keys, classification', () => {
  const fullCycle = (h: Harness): void => {
    for (let i = 0; i < 3; i++) h.fail();
    h.at(5_000).fail();
    h.at(15_000).succeed();
  };

  it('43: a full cycle emits its transitions in commit order, despite throwing listeners', () => {
    const h = new Harness(C3);
    fullCycle(h);
    const changes = h.log.of('stateChange');
    expect(changes.map((e) => `${e.from}->${e.to}`)).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->open',
      'open->half_open',
      'half_open->closed',
    ]);
    expect(changes.map((e) => e.attempt)).toEqual([1, 1, 2, 2, 2]);
    const epochs = changes.map((e) => e.epoch);
    expect(epochs).toEqual([...epochs].sort((a, b) => a - b));

    const errors: unknown[] = [];
    const noisy = new Harness(C3, () => 0.5, new BreakerEvents((error) => errors.push(error)));
    const thrower = (): void => {
      throw new Error('listener bug');
    };
    // Subscribed before the log's own listeners would see them: every event kind throws.
    for (const name of ['stateChange', 'outcome', 'rejected', 'thresholdExceeded'] as const) {
      noisy.breaker.events.on(name, thrower);
    }
    fullCycle(noisy);
    expect(noisy.log.transitions()).toEqual(changes.map((e) => `${e.from}->${e.to}`));
    expect(noisy.log.of('stateChange').map((e) => e.attempt)).toEqual([1, 1, 2, 2, 2]);
    expect(noisy.breaker.getState()).toMatchObject(h.breaker.getState());
    expect(errors.length).toBeGreaterThanOrEqual(5);
  });

  it('44: exposes the counters the Prometheus series are read from', () => {
    const h = new Harness(R5);
    h.fail();
    h.fail();
    h.fail();
    h.succeed();
    h.succeed();
    expectRejected(h.breaker.tryAcquire(), 'open');
    const status = h.breaker.getState();
    expect(status.windowFailures).toBe(3);
    expect(status.windowSuccesses).toBe(2);
    expect(status.failureRate).toBe(0.6);
    expect(h.breaker.stats().rejections).toEqual({ open: 1, half_open_busy: 0, forced_open: 0 });
    const gauge = BREAKER_STATE_KINDS.map((kind) => (kind === status.state ? 1 : 0));
    expect(gauge).toEqual([0, 1, 0, 0, 0, 0]);

    // Counters do not depend on anyone listening to events.
    const silent = new CircuitBreaker({ key: 's', config: R5, clock: new ManualClock(0) });
    for (let i = 0; i < 5; i++) {
      const ticket = silent.tryAcquire();
      if (ticket.admitted) silent.recordFailure(ticket);
    }
    expect(silent.events.has('stateChange')).toBe(false);
    expect(silent.stats().transitions).toEqual({ 'closed->open': 1 });
  });

  it('44b: transitions are counted with no listener attached', () => {
    const clock = new ManualClock(0);
    const silent = new CircuitBreaker({ key: 's', config: C3, clock });
    for (let i = 0; i < 3; i++) {
      const ticket = silent.tryAcquire();
      if (ticket.admitted) silent.recordFailure(ticket);
    }
    clock.set(5_000);
    expect(silent.tryAcquire().admitted).toBe(true);
    expect(silent.stats().transitions).toEqual({ 'closed->open': 1, 'open->half_open': 1 });
  });

  it('45a: an open snapshot restores with the remaining time and the attempt', () => {
    const source = new Harness(C3);
    for (let i = 0; i < 3; i++) source.fail();
    source.at(5_000).fail(); // attempt 2, open 10 s until 15000
    source.at(12_000);
    const snapshot = source.breaker.snapshot();
    expect(snapshot.open?.remainingMs).toBe(3_000);

    const json = JSON.parse(JSON.stringify(snapshot)) as unknown;
    // A new process: another monotonic origin, wall clock 1000 ms later.
    const clock = new ManualClock(777, source.clock.wallMs() + 1_000);
    const restored = new CircuitBreaker({ key: 'k', config: C3, clock });
    restored.restore(json);
    expect(restored.getState()).toMatchObject({
      state: 'open',
      attempt: 2,
      openRemainingMs: 2_000,
    });
    clock.advance(2_000);
    const probe = restored.tryAcquire();
    expect(probe.admitted).toBe(true);
    if (!probe.admitted) throw new Error('unreachable');
    restored.recordFailure(probe);
    expect(restored.getState()).toMatchObject({ attempt: 3, openRemainingMs: 20_000 });
  });

  it('45b: a half-open snapshot restores as open with 0 ms left, so the next call probes', () => {
    const source = new Harness(C3);
    for (let i = 0; i < 3; i++) source.fail();
    source.at(5_000).admit();
    const snapshot = source.breaker.snapshot();
    expect(snapshot.state).toBe('half_open');
    const restored = new CircuitBreaker({ key: 'k', config: C3, clock: new ManualClock(0) });
    restored.restore(snapshot);
    expect(restored.getState()).toMatchObject({ state: 'half_open', pendingTransition: true });
    const probe = restored.tryAcquire();
    expect(probe.admitted && probe.isProbe).toBe(true);
  });

  it('45c: a closed snapshot keeps its streak', () => {
    const config: BreakerConfig = { ...C3, failureThreshold: 2 };
    const source = new Harness(config);
    source.fail();
    const snapshot = source.breaker.snapshot();
    expect(snapshot.consecutive).toBe(1);
    const restored = new Harness(config);
    restored.breaker.restore(snapshot);
    restored.fail();
    expect(restored.state).toBe('open');
  });

  it('45d: a forced snapshot restores forced and release() ends it', () => {
    const source = new Harness(C3);
    source.breaker.forceOpen({ hold: true, reason: 'incident' });
    const restored = new Harness(C3);
    restored.breaker.restore(source.breaker.snapshot());
    expect(restored.breaker.getState()).toMatchObject({ state: 'forced_open' });
    expect(restored.breaker.getState().forced?.note).toBe('incident');
    expectRejected(restored.breaker.tryAcquire(), 'forced_open');
    restored.breaker.release();
    expect(restored.state).toBe('closed');
  });

  it('46: wall-clock steps change neither open timing nor the window', () => {
    const h = new Harness(C3);
    for (let i = 0; i < 3; i++) h.fail();
    h.at(1_000);
    h.clock.stepWall(-3_600_000);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(2_000);
    h.clock.stepWall(7_200_000);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(4_999);
    expectRejected(h.breaker.tryAcquire(), 'open');
    h.at(5_000);
    expect(h.admit().isProbe).toBe(true);

    const w = new Harness(R5);
    w.at(0).succeed();
    w.at(1_000);
    w.clock.stepWall(-3_600_000);
    w.succeed();
    w.at(2_000);
    w.clock.stepWall(7_200_000);
    w.succeed();
    expect(w.breaker.getState().windowCalls).toBe(3);
    w.at(20_000);
    expect(w.breaker.getState().windowCalls).toBe(2);
    w.at(22_000);
    expect(w.breaker.getState().windowCalls).toBe(0);
  });

  it('47: keys are isolated and the bounded registry never evicts an open key', () => {
    const clock = new ManualClock(0);
    const registry = new BreakerRegistry({ configFor: () => C3, clock, maxKeys: 2 });
    const log = new EventLog(registry.events);
    const a = registry.get('A');
    for (let i = 0; i < 3; i++) {
      const t = a.tryAcquire();
      if (t.admitted) a.recordFailure(t);
    }
    expect(a.getState().state).toBe('open');
    const b = registry.get('B');
    for (let i = 0; i < 100; i++) {
      const t = b.tryAcquire();
      expect(t.admitted).toBe(true);
      if (t.admitted) b.recordSuccess(t);
    }
    clock.set(C3.windowMs); // B is now closed with an empty window
    registry.get('C');
    expect(log.of('evicted')).toEqual([{ key: 'B', reason: 'capacity' }]);
    expect(registry.peek('A')).toBe(a);
    expect(registry.peek('B')).toBeUndefined();

    const b2 = registry.get('B');
    expect(b2).not.toBe(b);
    expect(b2.getState()).toMatchObject({ state: 'closed', windowCalls: 0 });
    expect(registry.peek('A')?.getState().state).not.toBe('closed');
  });

  it('48: memory stays constant over 1,000,000 outcomes (no per-call arrays)', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new ManualClock(0);
    const config: BreakerConfig = { ...R5, windowMs: 30_000, windowBuckets: 30 };
    const breaker = new CircuitBreaker({ key: 'm', config, clock });
    expect(breaker.windowSlotCount).toBe(30);
    let recorded = 0;
    const run = (n: number): void => {
      for (let i = 0; i < n; i++) {
        clock.set(recorded * 0.029_999); // 1,000,000 outcomes within 30 s
        const ticket = breaker.tryAcquire();
        if (!ticket.admitted) throw new Error('unexpected rejection');
        if (recorded % 10 === 0) breaker.recordFailure(ticket, 10);
        else breaker.recordSuccess(ticket, 10);
        recorded++;
      }
    };
    run(1_000); // warm up
    gc();
    const before = process.memoryUsage().heapUsed;
    run(999_000);
    gc();
    const grownBytes = process.memoryUsage().heapUsed - before;
    expect(breaker.windowSlotCount).toBe(30);
    expect(breaker.getState().windowCalls).toBe(1_000_000);
    // A per-call array of 1,000,000 entries would retain at least 8 MB.
    expect(grownBytes).toBeLessThan(1_000_000);
  });

  it('49: classification at engine level: soft failures, successes and ignored outcomes', () => {
    // 5xx / 529 / 408 / ECONNRESET / error event mid-stream are hard failures.
    const hard = new Harness(C3);
    hard.fail();
    hard.fail();
    expect(hard.breaker.getState().consecutive).toBe(2);

    // 400 / 401 / 404 / 422 are the caller's fault: successes, which reset the streak.
    const caller = new Harness(C3);
    caller.fail();
    caller.fail();
    caller.succeed();
    expect(caller.breaker.getState().consecutive).toBe(0);

    // 429: the streak is untouched, the rate window counts it as a failure, a probe fails.
    const limited = new Harness({ ...C3, failureRate: { basisPoints: 5_000, minimumRequests: 4 } });
    limited.fail();
    limited.fail();
    limited.fail(0, 0, true);
    let status = limited.breaker.getState();
    expect(status.state).toBe('closed');
    expect(status.consecutive).toBe(2);
    expect(status.windowFailures).toBe(3);
    limited.fail(0, 0, true);
    status = limited.breaker.getState();
    expect(status.state).toBe('open'); // 4/4 in the rate window
    expect(limited.log.of('stateChange')[0]?.reason).toBe('failure_rate');
    limited.at(5_000).fail(0, 0, true);
    expect(limited.log.of('stateChange').at(-1)).toMatchObject({
      from: 'half_open',
      to: 'open',
      reason: 'probe_failure',
    });

    // A client disconnect before headers: ignored, which neither counts nor resets.
    const gone = new Harness(C3);
    gone.fail();
    gone.ignore();
    expect(gone.breaker.getState()).toMatchObject({ consecutive: 1, windowCalls: 1 });
  });

  it('50: exact thresholds with awkward decimals (integer basis points)', () => {
    const cases = [
      { min: 100, bp: 700, successes: 93, failures: 7 },
      { min: 20, bp: 3_500, successes: 13, failures: 7 },
      { min: 20, bp: 1_500, successes: 17, failures: 3 },
    ];
    for (const c of cases) {
      const h = new Harness(rateOnly(60_000, 60, c.min, c.bp));
      for (let i = 0; i < c.successes; i++) h.succeed();
      for (let i = 0; i < c.failures - 1; i++) h.fail();
      expect(h.state).toBe('closed');
      h.fail();
      expect(h.state).toBe('open');
    }
    // The naive double comparison misses the first case.
    expect(7 >= 0.07 * 100).toBe(false);
  });
});

describe('defaults', () => {
  it('DEFAULT_BREAKER_CONFIG matches the product defaults', () => {
    expect(DEFAULT_BREAKER_CONFIG).toEqual({
      failureThreshold: 5,
      windowMs: 60_000,
      windowBuckets: 60,
      failureRate: null,
      slowCall: null,
      recoveryTimeoutMs: 30_000,
      recoveryBackoff: { multiplier: 2, maxMs: 300_000, jitter: 0.2 },
      maxRetryAfterMs: 300_000,
      attemptResetAfterMs: 300_000,
      successThreshold: 2,
      halfOpenMaxProbes: 1,
      probeTimeoutMs: 30_000,
      halfOpenMaxDurationMs: 0,
      probeSample: null,
      adaptive: [],
    });
  });
});
