import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import type { BreakerConfig } from '../../../src/breaker/breaker-config.ts';
import { validateBreakerConfig } from '../../../src/breaker/breaker-config-validation.ts';
import { DEFAULT_BREAKER_CONFIG } from '../../../src/breaker/breaker-defaults.ts';
import { BreakerRegistry } from '../../../src/breaker/breaker-registry.ts';
import { CircuitBreaker } from '../../../src/breaker/circuit-breaker.ts';
import { BreakerConfigError } from '../../../src/breaker/errors.ts';

const withField = (patch: Record<string, unknown>): unknown => ({
  ...DEFAULT_BREAKER_CONFIG,
  ...patch,
});

describe('breaker config validation', () => {
  it('accepts the defaults and returns the same object', () => {
    expect(validateBreakerConfig(DEFAULT_BREAKER_CONFIG)).toBe(DEFAULT_BREAKER_CONFIG);
  });

  it.each([
    [{ failureThreshold: -1 }, 'failureThreshold must be an integer >= 0, got -1'],
    [{ failureThreshold: 2.5 }, 'failureThreshold must be an integer >= 0, got 2.5'],
    [{ windowMs: 0 }, 'windowMs must be an integer >= 1, got 0'],
    [{ windowBuckets: 61_000 }, 'windowBuckets must be an integer in 1..60000, got 61000'],
    [
      { failureRate: { basisPoints: 0, minimumRequests: 5 } },
      'failureRate.basisPoints must be an integer in 1..10000, got 0',
    ],
    [
      { slowCall: { basisPoints: 5_000, minimumRequests: 5, durationMs: -1 } },
      'slowCall.durationMs must be an integer >= 0, got -1',
    ],
    [
      { recoveryBackoff: { multiplier: 0.5, maxMs: 300_000, jitter: 0.2 } },
      'recoveryBackoff.multiplier must be a number >= 1, got 0.5',
    ],
    [
      { recoveryBackoff: { multiplier: 2, maxMs: 1_000, jitter: 0.2 } },
      'recoveryBackoff.maxMs must be an integer >= 30000, got 1000',
    ],
    [
      { recoveryBackoff: { multiplier: 2, maxMs: 300_000, jitter: 1.5 } },
      'recoveryBackoff.jitter must be a number in [0, 1], got 1.5',
    ],
    [{ successThreshold: 0 }, 'successThreshold must be an integer >= 1, got 0'],
    [{ halfOpenMaxProbes: '2' }, 'halfOpenMaxProbes must be an integer >= 1, got "2"'],
    [{ probeTimeoutMs: Number.NaN }, 'probeTimeoutMs must be an integer >= 1, got NaN'],
    [
      { probeSample: { calls: 4, failureRateBasisPoints: 10_001 } },
      'probeSample.failureRateBasisPoints must be an integer in 1..10000, got 10001',
    ],
    [{ adaptive: {} }, 'adaptive must be an array, got {}'],
    [
      {
        adaptive: [
          { minRequestsPerMinute: 100, failureThreshold: 10 },
          { minRequestsPerMinute: 100, failureThreshold: 20 },
        ],
      },
      'adaptive[1].minRequestsPerMinute must be greater than the previous tier (100), got 100',
    ],
    [{ recoveryBackoff: null }, 'recoveryBackoff must be an object, got null'],
  ])('rejects %j quoting the bad value', (patch, message) => {
    expect(() => validateBreakerConfig(withField(patch))).toThrow(message);
    try {
      validateBreakerConfig(withField(patch));
    } catch (error) {
      expect(error).toBeInstanceOf(BreakerConfigError);
      expect(error).toMatchObject({ code: 'AICB_INVALID_BREAKER_CONFIG' });
    }
  });

  it('is applied by the constructor and by updateConfig, which then changes nothing', () => {
    const bad = withField({ failureThreshold: -1 }) as BreakerConfig;
    expect(() => new CircuitBreaker({ config: bad })).toThrow('got -1');
    const breaker = new CircuitBreaker({ clock: new ManualClock(0) });
    expect(() => {
      breaker.updateConfig(bad);
    }).toThrow(BreakerConfigError);
    expect(breaker.config).toBe(DEFAULT_BREAKER_CONFIG);
  });

  it('rejects bad constructor and registry options quoting them', () => {
    expect(() => new CircuitBreaker({ key: '' })).toThrow('key must be a non-empty string, got ""');
    expect(() => new BreakerRegistry({ maxKeys: 0 })).toThrow(
      'maxKeys must be an integer >= 1, got 0',
    );
    expect(() => new BreakerRegistry({ idleTtlMs: -5 })).toThrow(
      'idleTtlMs must be an integer >= 0, got -5',
    );
    const breaker = new CircuitBreaker({ clock: new ManualClock(0) });
    expect(() => {
      breaker.openFor(-1);
    }).toThrow('openFor: durationMs must be a finite number >= 0, got -1');
    expect(() => {
      breaker.forceOpen({ hold: true, untilMs: 5 } as never);
    }).toThrow('untilMs cannot be combined with hold');
  });
});
