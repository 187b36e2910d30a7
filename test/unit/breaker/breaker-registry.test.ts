import { describe, expect, it } from 'vitest';
import { C3, EventLog } from './breaker-harness.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import type { BreakerConfig } from '../../../src/breaker/breaker-config.ts';
import { BreakerRegistry } from '../../../src/breaker/breaker-registry.ts';
import type { CircuitBreaker } from '../../../src/breaker/circuit-breaker.ts';

function trip(breaker: CircuitBreaker): void {
  for (let i = 0; i < 3; i++) {
    const t = breaker.tryAcquire();
    if (t.admitted) breaker.recordFailure(t);
  }
}

function use(breaker: CircuitBreaker): void {
  const t = breaker.tryAcquire();
  if (t.admitted) breaker.recordSuccess(t);
}

function setup(maxKeys: number, idleTtlMs = 900_000) {
  const clock = new ManualClock(0);
  const registry = new BreakerRegistry({ configFor: () => C3, clock, maxKeys, idleTtlMs });
  const log = new EventLog(registry.events);
  return { clock, registry, log };
}

describe('BreakerRegistry', () => {
  it('creates one breaker per key and keeps keys isolated', () => {
    const { registry } = setup(10);
    const a = registry.get('A');
    expect(registry.get('A')).toBe(a);
    expect(registry.peek('B')).toBeUndefined();
    trip(a);
    expect(registry.get('B').getState().state).toBe('closed');
    expect(a.getState().state).toBe('open');
  });

  it('orders keys by recency and evicts the least recently used evictable key', () => {
    const { clock, registry, log } = setup(3);
    for (const key of ['A', 'B', 'C']) use(registry.get(key));
    registry.get('A');
    expect(registry.keys()).toEqual(['A', 'C', 'B']);
    clock.set(C3.windowMs); // all windows empty
    registry.get('D');
    expect(log.of('evicted')).toEqual([{ key: 'B', reason: 'capacity' }]);
    expect(registry.keys()).toEqual(['D', 'A', 'C']);
  });

  it('never evicts a key whose window still holds outcomes or that is open, half-open, forced or metrics-only', () => {
    const { clock, registry, log } = setup(4);
    trip(registry.get('open'));
    trip(registry.get('half'));
    registry.get('forced').forceOpen();
    registry.get('metrics').forceClosed();
    clock.set(5_000);
    expect(registry.get('half').tryAcquire().admitted).toBe(true); // probe in flight
    clock.set(C3.windowMs);
    registry.get('new');
    expect(log.of('evicted')).toEqual([]);
    expect(registry.size).toBe(5); // soft bound: nobody is refused a breaker

    // A closed key with a recent outcome is not evictable either.
    const busy = setup(1);
    use(busy.registry.get('x'));
    busy.registry.get('y');
    expect(busy.log.of('evicted')).toEqual([]);
  });

  it('shrinks back to the bound once keys become evictable, and evicts disabled keys', () => {
    const { registry, log } = setup(2);
    const a = registry.get('A');
    const b = registry.get('B');
    trip(a);
    trip(b);
    registry.get('C').disable();
    expect(registry.size).toBe(3);
    a.reset();
    b.reset();
    registry.get('D');
    expect(log.of('evicted').map((e) => e.key)).toEqual(['A', 'B']);
    expect(registry.keys()).toEqual(['D', 'C']);
    registry.get('E');
    expect(log.of('evicted').map((e) => e.key)).toEqual(['A', 'B', 'C']);
    expect(registry.keys()).toEqual(['E', 'D']);
  });

  it('sweep() drops evictable keys idle for idleTtlMs and keeps open ones', () => {
    const { clock, registry, log } = setup(100, 120_000);
    use(registry.get('idle'));
    trip(registry.get('open'));
    clock.set(100_000);
    use(registry.get('recent'));
    clock.set(119_999);
    expect(registry.sweep()).toBe(0);
    clock.set(120_000);
    expect(registry.sweep()).toBe(1);
    expect(log.of('evicted')).toEqual([{ key: 'idle', reason: 'idle' }]);
    expect(registry.keys()).toEqual(['recent', 'open']);
  });

  it('sweep() dates lookups at sweep granularity, keeping a used key at least idleTtlMs', () => {
    const { clock, registry } = setup(100, 120_000);
    registry.get('k');
    clock.set(50_000);
    registry.get('k'); // a lookup only flags the key as used
    clock.set(60_000);
    expect(registry.sweep()).toBe(0); // dates that use at 60 s
    clock.set(179_999);
    expect(registry.sweep()).toBe(0);
    clock.set(180_000);
    expect(registry.sweep()).toBe(1);
  });

  it('sweep() applies a probe lease expiry for a key nobody calls', () => {
    const { clock, registry, log } = setup(10);
    const b = registry.get('k');
    trip(b);
    clock.set(5_000);
    expect(b.tryAcquire().admitted).toBe(true);
    clock.set(5_000 + C3.probeTimeoutMs);
    registry.sweep();
    expect(log.of('probeTimeout')).toEqual([{ key: 'k', epoch: 3, leaseMs: C3.probeTimeoutMs }]);
    expect(log.transitions().at(-1)).toBe('half_open->open');
  });

  it('remove() drops any key and emits evicted', () => {
    const { registry, log } = setup(10);
    trip(registry.get('A'));
    expect(registry.remove('A')).toBe(true);
    expect(registry.remove('A')).toBe(false);
    expect(log.of('evicted')).toEqual([{ key: 'A', reason: 'removed' }]);
  });

  it('an evicted breaker no longer publishes to the registry hub', () => {
    const { registry, log } = setup(10);
    const a = registry.get('A');
    const ticket = a.tryAcquire();
    registry.remove('A');
    log.clear();
    if (ticket.admitted) a.recordFailure(ticket);
    expect(log.entries).toEqual([]);
  });

  it('reconfigure() updates every key in place and new keys; a bad config changes nothing', () => {
    const { registry } = setup(10);
    const a = registry.get('A');
    const t = a.tryAcquire();
    if (t.admitted) a.recordFailure(t);
    const tighter: BreakerConfig = { ...C3, failureThreshold: 2 };
    registry.reconfigure(() => tighter);
    expect(a.config).toBe(tighter);
    expect(registry.get('B').config).toBe(tighter);
    expect(() => {
      registry.reconfigure((key) => (key === 'A' ? C3 : { ...C3, windowMs: 0 }));
    }).toThrow('windowMs must be an integer >= 1, got 0');
    expect(a.config).toBe(tighter);
    expect(registry.get('C').config).toBe(tighter);
    const u = a.tryAcquire();
    if (u.admitted) a.recordFailure(u);
    expect(a.getState().state).toBe('open'); // the streak of 2 survived the reload
  });

  it('snapshots and restores every key across registries', () => {
    const source = setup(10);
    trip(source.registry.get('A'));
    use(source.registry.get('B'));
    const snapshots = JSON.parse(JSON.stringify(source.registry.snapshot())) as unknown[];
    const target = setup(10);
    target.registry.restore(snapshots);
    expect(target.registry.peek('A')?.getState()).toMatchObject({
      state: 'open',
      openRemainingMs: 5_000,
    });
    expect(target.registry.peek('B')?.getState()).toMatchObject({
      state: 'closed',
      windowCalls: 1,
    });
    expect(() => {
      target.registry.restore([{ key: 5 }]);
    }).toThrow('snapshot key must be a non-empty string, got 5');
  });

  it('publishes every breaker event on the one hub with its key', () => {
    const { registry, log } = setup(10);
    trip(registry.get('A'));
    use(registry.get('B'));
    expect(log.of('stateChange').map((e) => e.key)).toEqual(['A']);
    expect(new Set(log.of('outcome').map((e) => e.key))).toEqual(new Set(['A', 'B']));
  });
});
