// The filter and dedup window on their own: what passes `on`, how long a transition is
// remembered, how much is remembered, and which alerts are too malformed to look at.
import { describe, expect, it } from 'vitest';
import { AlertFilter, checkFilterConfig, isAlertShaped } from '../../../src/alerts/alert-filter.ts';
import type { AlertEvent } from '../../../src/alerts/alert-event.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { anAlert } from './alert-test-kit.ts';

function aFilter(
  dedupWindowMs: number,
  maxKeys?: number,
): { filter: AlertFilter; clock: ManualClock } {
  const clock = new ManualClock(0, 0);
  const filter = new AlertFilter(clock, maxKeys);
  filter.configure(['opened', 'closed'], dedupWindowMs);
  return { filter, clock };
}

describe('AlertFilter', () => {
  it('passes the events in on and nothing else', () => {
    const { filter } = aFilter(0);
    expect(filter.on).toEqual(['opened', 'closed']);
    expect(filter.wants(anAlert({ event: 'opened' }))).toBe(true);
    expect(filter.wants(anAlert({ event: 'closed' }))).toBe(true);
    expect(filter.wants(anAlert({ event: 'halfOpen' }))).toBe(false);
    expect(filter.wants(anAlert({ event: 'allTargetsOpen' }))).toBe(false);
  });

  it('remembers nothing while the window is 0, so a later window starts empty', () => {
    const { filter, clock } = aFilter(0);
    expect(filter.isDuplicate(anAlert())).toBe(false);
    expect(filter.isDuplicate(anAlert())).toBe(false);
    filter.configure(['opened'], 60_000);
    clock.advance(1);
    expect(filter.isDuplicate(anAlert())).toBe(false);
    expect(filter.isDuplicate(anAlert())).toBe(true);
  });

  it('applies a shorter window to what it already remembers', () => {
    const { filter, clock } = aFilter(60_000);
    expect(filter.isDuplicate(anAlert())).toBe(false);
    clock.advance(10_000);
    expect(filter.isDuplicate(anAlert())).toBe(true);
    filter.configure(['opened'], 5000);
    expect(filter.isDuplicate(anAlert())).toBe(false);
  });

  it('forgets the oldest transition first when it holds maxKeys of them', () => {
    const { filter, clock } = aFilter(60_000, 2);
    const u1 = anAlert({ upstream: 'u1' });
    const u2 = anAlert({ upstream: 'u2' });
    const u3 = anAlert({ upstream: 'u3' });
    expect([u1, u2, u3].map((a) => filter.isDuplicate(a))).toEqual([false, false, false]);
    clock.advance(1000);
    // u1 was pushed out by u3; u2 and u3 are still within the window.
    expect(filter.isDuplicate(u2)).toBe(true);
    expect(filter.isDuplicate(u3)).toBe(true);
    expect(filter.isDuplicate(u1)).toBe(false);
  });
});

describe('checkFilterConfig', () => {
  it('accepts every known event and any finite window >= 0', () => {
    expect(() => {
      checkFilterConfig(['opened', 'halfOpen', 'closed', 'allTargetsOpen'], 0);
    }).not.toThrow();
    expect(() => {
      checkFilterConfig([], 1.5);
    }).not.toThrow();
  });

  it('refuses an unknown event and a negative or infinite window with AICB_INVALID_ALERT_CONFIG', () => {
    expect(() => {
      checkFilterConfig(['flapping' as AlertEvent['event']], 0);
    }).toThrow(
      expect.objectContaining({
        code: 'AICB_INVALID_ALERT_CONFIG',
        message: 'alerts: unknown event in on: "flapping"',
      }),
    );
    expect(() => {
      checkFilterConfig([], Number.POSITIVE_INFINITY);
    }).toThrow(/dedupWindowMs must be a finite number >= 0, got Infinity/);
    expect(() => {
      checkFilterConfig([], Number.NaN);
    }).toThrow(/got NaN/);
  });
});

describe('isAlertShaped', () => {
  it('needs an event, a policy namespace and name, an upstream and an endpoint', () => {
    expect(isAlertShaped(anAlert())).toBe(true);
    const broken: unknown[] = [
      null,
      'opened',
      { ...anAlert(), event: 1 },
      { ...anAlert(), policy: { name: 'x' } },
      { ...anAlert(), policy: null },
      { ...anAlert(), upstream: undefined },
      { ...anAlert(), endpoint: 7 },
    ];
    expect(broken.map((a) => isAlertShaped(a as AlertEvent))).toEqual(broken.map(() => false));
  });
});
