// The small pieces under the dispatcher: backoff bounds, response classification, the ring
// deque and target resolution.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertTargetsOf, fingerprintUrl } from '../../../src/alerts/alert-target.ts';
import { backoffCeilingMs, retryDelayMs } from '../../../src/alerts/backoff.ts';
import {
  isRetryableStatus,
  networkErrorOf,
  retryAfterMsOf,
} from '../../../src/alerts/post-json.ts';
import { RingDeque } from '../../../src/alerts/ring-deque.ts';

describe('retryDelayMs (full jitter)', () => {
  it('stays in [0, min(maxDelayMs, baseDelayMs * 2^(retry-1))) for any draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (retry, baseDelayMs, extra, draw) => {
          const settings = { initialMs: baseDelayMs, maxMs: baseDelayMs + extra };
          const ceiling = backoffCeilingMs(retry, settings);
          const delay = retryDelayMs(retry, settings, () => draw);
          expect(ceiling).toBeLessThanOrEqual(settings.maxMs);
          expect(delay).toBeGreaterThanOrEqual(0);
          if (ceiling === 0) expect(delay).toBe(0);
          else expect(delay).toBeLessThan(ceiling);
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });

  it("raises the delay to the receiver's Retry-After, capped at maxMs", () => {
    const options = { initialMs: 100, maxMs: 10_000 };
    expect(retryDelayMs(1, options, () => 0.5, 3000)).toBe(3000);
    expect(retryDelayMs(1, options, () => 0.5, 60_000)).toBe(10_000);
    expect(retryDelayMs(1, options, () => 0.5, 0)).toBe(50);
  });

  it('tolerates a random source outside [0, 1)', () => {
    const options = { initialMs: 100, maxMs: 1000 };
    expect(retryDelayMs(1, options, () => -1)).toBe(0);
    expect(retryDelayMs(1, options, () => Number.NaN)).toBe(0);
    expect(retryDelayMs(1, options, () => 5)).toBe(99);
  });
});

describe('response classification', () => {
  it.each([
    [200, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [410, false],
    [429, true],
    [500, true],
    [503, true],
    [599, true],
  ])('status %i retryable: %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
  });

  it('reads Retry-After in seconds and ignores dates and garbage', () => {
    expect(retryAfterMsOf('7')).toBe(7000);
    expect(retryAfterMsOf(['3', '9'])).toBe(3000);
    expect(retryAfterMsOf('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined();
    expect(retryAfterMsOf('-1')).toBeUndefined();
    expect(retryAfterMsOf(undefined)).toBeUndefined();
  });

  it('maps network errors by code, looking into causes and aggregate errors', () => {
    const coded = (code: string): Error => Object.assign(new Error('x'), { code });
    expect(networkErrorOf(coded('ECONNREFUSED'))).toBe('connection_refused');
    expect(networkErrorOf(new TypeError('fetch failed', { cause: coded('ENOTFOUND') }))).toBe(
      'dns',
    );
    expect(networkErrorOf(new AggregateError([coded('ECONNRESET')]))).toBe('connection_reset');
    expect(networkErrorOf(coded('UND_ERR_HEADERS_TIMEOUT'))).toBe('timeout');
    expect(networkErrorOf(coded('CERT_HAS_EXPIRED'))).toBe('tls');
    expect(networkErrorOf(coded('UND_ERR_INVALID_ARG'))).toBe('invalid_request');
    expect(networkErrorOf(new Error('no code'))).toBe('network');
    expect(networkErrorOf('a string')).toBe('network');
  });
});

describe('RingDeque', () => {
  it('is FIFO at the back, LIFO at the front, and grows past its initial capacity', () => {
    const deque = new RingDeque<number>();
    for (let i = 0; i < 40; i++) deque.pushBack(i);
    for (let i = 0; i < 30; i++) expect(deque.shift()).toBe(i);
    deque.pushFront(-1);
    deque.pushFront(-2);
    for (let i = 40; i < 60; i++) deque.pushBack(i);
    const rest: number[] = [];
    for (let item = deque.shift(); item !== undefined; item = deque.shift()) rest.push(item);
    expect(rest).toEqual([-2, -1, ...Array.from({ length: 30 }, (_, i) => i + 30)]);
    expect(deque.size).toBe(0);
    expect(deque.shift()).toBeUndefined();
  });
});

describe('alertTargetsOf', () => {
  it('resolves webhooks and Slack, keeping policy indexes and reporting what did not resolve', () => {
    const values: Record<string, string> = { A: 'https://a.test/x', SLACK: 'https://s.test/y' };
    const { targets, unresolved } = alertTargetsOf(
      {
        on: ['opened'],
        dedupWindowMs: 0,
        webhooks: [
          { source: 'env', name: 'MISSING' },
          { source: 'env', name: 'A' },
        ],
        slack: { source: 'env', name: 'SLACK' },
      },
      (ref) => (ref.source === 'env' ? (values[ref.name] ?? null) : null),
    );
    expect(targets).toEqual([
      { kind: 'webhook', url: 'https://a.test/x', index: 1 },
      { kind: 'slack', url: 'https://s.test/y', index: 0 },
    ]);
    expect(unresolved).toEqual([{ kind: 'webhook', index: 0 }]);
  });

  it('fingerprints a URL with 12 hex digits of its sha256, stable and not reversible by eye', () => {
    const url = 'https://hooks.slack.test/services/T0/B0/SECRET';
    expect(fingerprintUrl(url)).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprintUrl(url)).toBe(fingerprintUrl(url));
    expect(fingerprintUrl(url)).not.toBe(fingerprintUrl(`${url}2`));
  });
});
