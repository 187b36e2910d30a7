import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAILURE_SAMPLES, FailureLatency } from '../../../src/dataplane/cost/wait-avoided.ts';

describe('FailureLatency', () => {
  it('has no estimate for an upstream until one of its calls failed', () => {
    const latency = new FailureLatency();
    expect(latency.estimateMs('openai')).toBeUndefined();
    latency.record('anthropic', 30_000);
    expect(latency.estimateMs('openai')).toBeUndefined();
    expect(latency.estimateMs('anthropic')).toBe(30_000);
  });

  it('averages the recent failures of each upstream separately', () => {
    const latency = new FailureLatency();
    latency.record('openai', 100);
    latency.record('openai', 300);
    latency.record('anthropic', 10_000);
    expect(latency.estimateMs('openai')).toBe(200);
    expect(latency.estimateMs('anthropic')).toBe(10_000);
  });

  it(`forgets all but the last ${FAILURE_SAMPLES} failures`, () => {
    const latency = new FailureLatency();
    for (let i = 0; i < FAILURE_SAMPLES; i++) latency.record('openai', 30_000);
    // The provider now fails fast (503 instead of timeouts): the estimate follows within a ring.
    for (let i = 0; i < FAILURE_SAMPLES / 2; i++) latency.record('openai', 50);
    expect(latency.estimateMs('openai')).toBe((30_000 + 50) / 2);
    for (let i = 0; i < FAILURE_SAMPLES / 2; i++) latency.record('openai', 50);
    expect(latency.estimateMs('openai')).toBe(50);
  });

  it('ignores durations that are not real', () => {
    const latency = new FailureLatency();
    latency.record('openai', Number.NaN);
    latency.record('openai', -1);
    latency.record('openai', Number.POSITIVE_INFINITY);
    expect(latency.estimateMs('openai')).toBeUndefined();
  });

  it('drops upstreams a policy no longer names', () => {
    const latency = new FailureLatency();
    latency.record('old', 10);
    latency.record('kept', 20);
    latency.retain(new Set(['kept']));
    expect(latency.estimateMs('old')).toBeUndefined();
    expect(latency.estimateMs('kept')).toBe(20);
  });

  it('equals the mean of the last samples for any sequence (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 120_000, noNaN: true }), {
          minLength: 1,
          maxLength: 200,
        }),
        (durations) => {
          const latency = new FailureLatency();
          for (const d of durations) latency.record('u', d);
          const last = durations.slice(-FAILURE_SAMPLES);
          const mean = last.reduce((a, b) => a + b, 0) / last.length;
          expect(latency.estimateMs('u')).toBeCloseTo(mean, 6);
        },
      ),
    );
  });
});
