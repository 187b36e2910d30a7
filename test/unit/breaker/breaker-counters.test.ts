// BreakerCounters on its own (B8): what each count means and that stats() is a copy.
import { describe, expect, it } from 'vitest';
import { BreakerCounters } from '../../../src/breaker/breaker-counters.ts';

describe('BreakerCounters', () => {
  it('counts outcomes by class, late ones apart, and slow ones whatever their class', () => {
    const counters = new BreakerCounters();
    counters.outcome('success', false, false);
    counters.outcome('success', true, false);
    counters.outcome('failure', false, false);
    counters.outcome('failure', true, true);
    counters.outcome('ignored', false, false);
    counters.outcome('ignored', false, true);
    expect(counters.stats()).toMatchObject({
      calls: { success: 2, failure: 1, ignored: 1 },
      lateCalls: { success: 0, failure: 1, ignored: 1 },
      slowCalls: 2,
    });
  });

  it('counts rejections by reason, transitions by "from->to", and probe timeouts', () => {
    const counters = new BreakerCounters();
    counters.rejection('open');
    counters.rejection('open');
    counters.rejection('half_open_busy');
    counters.rejection('forced_open');
    counters.transition('closed', 'open');
    counters.transition('open', 'half_open');
    counters.transition('half_open', 'open');
    counters.transition('open', 'half_open');
    counters.probeTimeout();
    expect(counters.stats()).toEqual({
      calls: { success: 0, failure: 0, ignored: 0 },
      lateCalls: { success: 0, failure: 0, ignored: 0 },
      slowCalls: 0,
      rejections: { open: 2, half_open_busy: 1, forced_open: 1 },
      transitions: { 'closed->open': 1, 'open->half_open': 2, 'half_open->open': 1 },
      probeTimeouts: 1,
    });
  });

  it('stats() is a copy: later counting does not change an earlier reading', () => {
    const counters = new BreakerCounters();
    counters.transition('closed', 'open');
    const before = counters.stats();
    counters.transition('closed', 'open');
    counters.outcome('success', false, false);
    expect(before.transitions).toEqual({ 'closed->open': 1 });
    expect(before.calls.success).toBe(0);
  });
});
