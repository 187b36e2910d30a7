// Test harness for the breaker engine: a manual clock, a synchronous event recorder, and the C3 / R5
// configurations of the conformance scenarios (docs/breaker-spec.md).
import { expect } from 'vitest';
import {
  CircuitBreaker,
  DEFAULT_BREAKER_CONFIG,
  type BreakerConfig,
  type BreakerEventMap,
  type BreakerEventName,
  type BreakerEvents,
  type Rejection,
  type StateChangeEvent,
  type Ticket,
} from '../../../src/breaker/index.ts';
import { ManualClock } from '../../../src/shared/clock.ts';

/** C3: 3 consecutive failures, rate off, open 5 s x2 up to 60 s without jitter, 1 probe closes. */
export const C3: BreakerConfig = {
  ...DEFAULT_BREAKER_CONFIG,
  failureThreshold: 3,
  failureRate: null,
  slowCall: null,
  recoveryTimeoutMs: 5_000,
  recoveryBackoff: { multiplier: 2, maxMs: 60_000, jitter: 0 },
  halfOpenMaxProbes: 1,
  successThreshold: 1,
};

/**
 * R5: consecutive off; 20 s / 20-bucket window, 50 % failure rate and 50 % slow (> 4 s) once 5
 * calls completed; 4 probes, 4 successes close; open 5 s without jitter.
 */
export const R5: BreakerConfig = {
  ...DEFAULT_BREAKER_CONFIG,
  failureThreshold: 0,
  windowMs: 20_000,
  windowBuckets: 20,
  failureRate: { basisPoints: 5_000, minimumRequests: 5 },
  slowCall: { basisPoints: 5_000, minimumRequests: 5, durationMs: 4_000 },
  halfOpenMaxProbes: 4,
  successThreshold: 4,
  recoveryTimeoutMs: 5_000,
  recoveryBackoff: { multiplier: 2, maxMs: 120_000, jitter: 0 },
};

/** A config with only the failure-rate rule. */
export function rateOnly(
  windowMs: number,
  windowBuckets: number,
  minimumRequests: number,
  basisPoints: number,
): BreakerConfig {
  return {
    ...DEFAULT_BREAKER_CONFIG,
    failureThreshold: 0,
    windowMs,
    windowBuckets,
    failureRate: { basisPoints, minimumRequests },
    recoveryTimeoutMs: 5_000,
    recoveryBackoff: { multiplier: 2, maxMs: 60_000, jitter: 0 },
  };
}

/** Every event a hub delivered, in delivery order. */
export class EventLog {
  readonly entries: { name: BreakerEventName; event: unknown }[] = [];

  constructor(events: BreakerEvents) {
    const names: BreakerEventName[] = [
      'stateChange',
      'rejected',
      'outcome',
      'thresholdExceeded',
      'probeTimeout',
      'reset',
      'evicted',
    ];
    for (const name of names) {
      events.on(name, (event) => this.entries.push({ name, event }));
    }
  }

  /** Payloads of one event kind. */
  of<K extends BreakerEventName>(name: K): BreakerEventMap[K][] {
    return this.entries.filter((e) => e.name === name).map((e) => e.event as BreakerEventMap[K]);
  }

  /** State changes as "from->to". */
  transitions(): string[] {
    return this.of('stateChange').map((e: StateChangeEvent) => `${e.from}->${e.to}`);
  }

  /** Event names in delivery order. */
  names(): BreakerEventName[] {
    return this.entries.map((e) => e.name);
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** A breaker on a manual clock with an event log and an upstream call counter. */
export class Harness {
  readonly clock = new ManualClock(0);
  readonly breaker: CircuitBreaker;
  readonly log: EventLog;
  /** Calls that reached the upstream (admitted). */
  upstreamCalls = 0;

  constructor(config: BreakerConfig, random: () => number = () => 0.5, events?: BreakerEvents) {
    this.breaker = new CircuitBreaker({
      key: 'k',
      config,
      clock: this.clock,
      random,
      ...(events === undefined ? {} : { events }),
    });
    this.log = new EventLog(this.breaker.events);
  }

  /** Moves monotonic time to `t` ms. */
  at(t: number): this {
    this.clock.set(t);
    return this;
  }

  /** Admission that must succeed. */
  admit(): Ticket {
    const result = this.breaker.tryAcquire();
    if (!result.admitted) {
      throw new Error(`expected admission, got rejection ${result.reason}`);
    }
    this.upstreamCalls++;
    return result;
  }

  /** Admission that must be refused. */
  reject(): Rejection {
    const result = this.breaker.tryAcquire();
    if (result.admitted) throw new Error('expected a rejection, got a ticket');
    return result;
  }

  /** Admit, then report a failure at once. */
  fail(durationMs = 0, retryAfterMs = 0, soft = false): Ticket {
    const ticket = this.admit();
    this.breaker.recordFailure(ticket, durationMs, retryAfterMs, soft);
    return ticket;
  }

  /** Admit, then report a success at once. */
  succeed(durationMs = 0): Ticket {
    const ticket = this.admit();
    this.breaker.recordSuccess(ticket, durationMs);
    return ticket;
  }

  /** Admit, then report an ignored outcome at once. */
  ignore(): Ticket {
    const ticket = this.admit();
    this.breaker.recordIgnored(ticket);
    return ticket;
  }

  /** Effective state kind. */
  get state(): string {
    return this.breaker.getState().state;
  }
}

/** Deterministic PRNG (mulberry32) for property and jitter tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Asserts a value is a Rejection with the given reason and returns it. */
export function expectRejected(result: Ticket | Rejection, reason: Rejection['reason']): Rejection {
  expect(result.admitted).toBe(false);
  if (result.admitted) throw new Error('unreachable');
  expect(result.reason).toBe(reason);
  return result;
}
