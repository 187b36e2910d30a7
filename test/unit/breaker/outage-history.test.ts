// The outage model on real breaker transitions: failures and probes, operator overrides and
// their mixes. Each outage is bracketed by exactly one start and one end, measured between them.
import { describe, expect, it } from 'vitest';
import { C3 } from './breaker-harness.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { BreakerEvents } from '../../../src/breaker/breaker-events.ts';
import { CircuitBreaker } from '../../../src/breaker/circuit-breaker.ts';
import { OutageHistory, type OutageChange } from '../../../src/breaker/outage-history.ts';

function setup() {
  const clock = new ManualClock(0, Date.UTC(2026, 11, 2));
  const events = new BreakerEvents();
  const breaker = new CircuitBreaker({ key: 'openai/chat', config: C3, clock, events });
  const outages = new OutageHistory();
  events.on('stateChange', (e) => outages.observe(e));
  const changes: string[] = [];
  outages.changes.subscribe((c: OutageChange) => {
    changes.push(
      c.kind === 'ended' ? `ended ${c.durationMs}ms (${c.event.to})` : `${c.kind} (${c.event.to})`,
    );
  });
  return { clock, breaker, outages, changes };
}

describe('OutageHistory', () => {
  it('measures each forced period as its own outage (forceOpen, forceClosed, release, forceOpen, release)', () => {
    const { clock, breaker, outages, changes } = setup();
    breaker.forceOpen({ reason: 'INC-1' });
    clock.advance(60_000);
    breaker.forceClosed(); // traffic flows again: the first outage is over
    clock.advance(600_000);
    breaker.release();
    clock.advance(60_000);
    breaker.forceOpen({ reason: 'INC-2' });
    clock.advance(1_000);
    breaker.release();
    expect(changes).toEqual([
      'started (forced_open)',
      'ended 60000ms (metrics_only)',
      'started (forced_open)',
      'ended 1000ms (closed)',
    ]);
    expect(outages.get('openai/chat')).toEqual({
      currentSinceWallMs: null,
      lastOpenedAtWallMs: Date.UTC(2026, 11, 2) + 720_000,
      lastRecoveredAtWallMs: Date.UTC(2026, 11, 2) + 721_000,
      lastDurationMs: 1_000,
      outages: 2,
    });
  });

  it('keeps failed probes and re-trips inside one outage, from the first opening to the close', () => {
    const { clock, breaker, outages, changes } = setup();
    const fail = () => {
      const t = breaker.tryAcquire();
      if (!t.admitted) throw new Error('rejected');
      breaker.recordFailure(t);
    };
    const succeed = () => {
      const t = breaker.tryAcquire();
      if (!t.admitted) throw new Error('rejected');
      breaker.recordSuccess(t);
    };
    fail();
    fail();
    fail(); // C3: open for 5 s
    clock.advance(5_000);
    fail(); // the probe fails: open again for 10 s
    clock.advance(10_000);
    for (let i = 0; i < C3.successThreshold; i++) succeed();
    expect(changes).toEqual([
      'started (open)',
      'probing (half_open)',
      'reopened (open)',
      'probing (half_open)',
      'ended 15000ms (closed)',
    ]);
    expect(outages.get('openai/chat').outages).toBe(1);
  });

  it('has the empty record for a circuit never down, and forgets removed ones', () => {
    const { breaker, outages } = setup();
    expect(outages.get('openai/chat')).toMatchObject({ outages: 0, lastOpenedAtWallMs: null });
    breaker.forceOpen();
    expect(outages.get('openai/chat').currentSinceWallMs).not.toBeNull();
    outages.forget('openai/chat');
    expect(outages.get('openai/chat').outages).toBe(0);
  });
});
