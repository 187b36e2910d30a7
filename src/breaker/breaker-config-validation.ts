import type { BreakerConfig } from './breaker-config.ts';
import { BreakerConfigError } from './errors.ts';

/**
 * Checks a resolved config at the edge of the engine (breaker construction, updateConfig) so a
 * bad value fails loudly with its name and value instead of producing a breaker that never trips
 * or never recovers. Returns the same object, typed.
 */
export function validateBreakerConfig(value: unknown): BreakerConfig {
  const c = record(value, 'config');
  integer(c, 'failureThreshold', 0);
  const windowMs = integer(c, 'windowMs', 1);
  integer(c, 'windowBuckets', 1, windowMs);
  nullable(c, 'failureRate', (v, path) => rateRule(v, path));
  nullable(c, 'slowCall', (v, path) => {
    const rule = rateRule(v, path);
    integer(rule, 'durationMs', 0, Number.MAX_SAFE_INTEGER, path);
  });
  const baseMs = integer(c, 'recoveryTimeoutMs', 0);
  const backoff = record(c.recoveryBackoff, 'recoveryBackoff');
  finite(backoff, 'multiplier', 1, Number.MAX_VALUE, 'recoveryBackoff');
  integer(backoff, 'maxMs', baseMs, Number.MAX_SAFE_INTEGER, 'recoveryBackoff');
  finite(backoff, 'jitter', 0, 1, 'recoveryBackoff');
  integer(c, 'maxRetryAfterMs', 0);
  integer(c, 'attemptResetAfterMs', 0);
  integer(c, 'successThreshold', 1);
  integer(c, 'halfOpenMaxProbes', 1);
  integer(c, 'probeTimeoutMs', 1);
  integer(c, 'halfOpenMaxDurationMs', 0);
  nullable(c, 'probeSample', (v, path) => {
    const sample = record(v, path);
    integer(sample, 'calls', 1, Number.MAX_SAFE_INTEGER, path);
    integer(sample, 'failureRateBasisPoints', 1, 10_000, path);
  });
  const adaptive = c.adaptive;
  if (!Array.isArray(adaptive)) fail('adaptive', 'must be an array', adaptive);
  let previous = -1;
  (adaptive as unknown[]).forEach((tierValue, i) => {
    const path = `adaptive[${i}]`;
    const tier = record(tierValue, path);
    const volume = integer(tier, 'minRequestsPerMinute', 0, Number.MAX_SAFE_INTEGER, path);
    integer(tier, 'failureThreshold', 0, Number.MAX_SAFE_INTEGER, path);
    if (volume <= previous) {
      fail(
        `${path}.minRequestsPerMinute`,
        `must be greater than the previous tier (${previous})`,
        volume,
      );
    }
    previous = volume;
  });
  return value as BreakerConfig;
}

function rateRule(value: unknown, path: string): Record<string, unknown> {
  const rule = record(value, path);
  integer(rule, 'basisPoints', 1, 10_000, path);
  integer(rule, 'minimumRequests', 0, Number.MAX_SAFE_INTEGER, path);
  return rule;
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path, 'must be an object', value);
  }
  return value as Record<string, unknown>;
}

function nullable(
  obj: Record<string, unknown>,
  name: string,
  check: (value: unknown, path: string) => void,
): void {
  const value = obj[name];
  if (value !== null) check(value, name);
}

function integer(
  obj: Record<string, unknown>,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  parent?: string,
): number {
  const value = obj[name];
  const path = parent === undefined ? name : `${parent}.${name}`;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    fail(path, `must be an integer ${range}`, value);
  }
  return value;
}

function finite(
  obj: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  parent: string,
): number {
  const value = obj[name];
  const path = `${parent}.${name}`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.MAX_VALUE ? `>= ${min}` : `in [${min}, ${max}]`;
    fail(path, `must be a number ${range}`, value);
  }
  return value;
}

/** Formats a rejected value for an error message without dumping large objects. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === undefined) return 'undefined';
  if (typeof value === 'function' || typeof value === 'symbol') return typeof value;
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function fail(path: string, rule: string, value: unknown): never {
  throw new BreakerConfigError(`${path} ${rule}, got ${describeValue(value)}`);
}
