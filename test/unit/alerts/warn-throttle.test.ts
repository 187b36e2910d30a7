// Warnings about a target: one per kind of problem per interval, with the count held back.
import { describe, expect, it } from 'vitest';
import { WarnThrottle } from '../../../src/alerts/warn-throttle.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { captureLogger } from './alert-test-kit.ts';

describe('WarnThrottle', () => {
  it('throttles each problem on its own and reports how many it held back', () => {
    const clock = new ManualClock();
    const log = captureLogger();
    const throttle = new WarnThrottle<'overflow' | 'failure'>(log.logger, clock, 60_000);
    throttle.warn('overflow', { n: 1 }, 'full');
    throttle.warn('overflow', { n: 2 }, 'full');
    throttle.warn('failure', { n: 3 }, 'failed');
    clock.advance(59_999);
    throttle.warn('overflow', { n: 4 }, 'full');
    clock.advance(1);
    throttle.warn('overflow', { n: 5 }, 'full');
    throttle.warn('failure', { n: 6 }, 'failed');
    expect(
      log.records().map((r) => [r.level, r.msg, r.n, r.suppressedSinceLastWarning] as const),
    ).toEqual([
      ['warn', 'full', 1, 0],
      ['warn', 'failed', 3, 0],
      ['warn', 'full', 5, 2],
      ['warn', 'failed', 6, 0],
    ]);
  });

  it('logs every warning when the interval is 0', () => {
    const log = captureLogger();
    const throttle = new WarnThrottle<'failure'>(log.logger, new ManualClock(), 0);
    for (let i = 0; i < 3; i++) throttle.warn('failure', {}, 'failed');
    expect(log.records().map((r) => r.suppressedSinceLastWarning)).toEqual([0, 0, 0]);
  });
});
