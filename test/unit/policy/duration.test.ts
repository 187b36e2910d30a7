import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDurationMs } from '../../../src/policy/duration.ts';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['2m30s250ms', 150_250],
  ])('parses %s as %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '30', 's', '30 s', '-5s', '5d', '1us', '30S'])('rejects %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it('round-trips: parse(format(ms)) == ms for any whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 24 * 3_600_000 }), (ms) => {
        expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
      }),
    );
  });
});
