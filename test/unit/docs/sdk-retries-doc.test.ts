/**
 * docs/sdk-retries.md says, per error code, whether the SDK is told to retry; the sidecar sends
 * exactly that (src/dataplane/client-errors.ts). And every answer the sidecar makes itself tells
 * the SDKs what to do, within the delays they honour.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SIDECAR_ERROR_CODES,
  retryAdviceOf,
  retryHeaders,
  statusOf,
} from '../../../src/dataplane/client-errors.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

const doc = readFileSync(join(REPO_ROOT, 'docs/sdk-retries.md'), 'utf8');

describe('docs/sdk-retries.md', () => {
  it('has one row per sidecar error code, with its status and x-should-retry', () => {
    const rows = new Map(
      [...doc.matchAll(/^\| `(AICB_[A-Z_]+)` +\| ([^|]+)\| ([^|]+)\|/gm)].map((m) => [
        m[1],
        { status: (m[2] ?? '').trim(), shouldRetry: (m[3] ?? '').trim() },
      ]),
    );
    expect([...rows.keys()].sort()).toEqual([...SIDECAR_ERROR_CODES].sort());
    for (const code of SIDECAR_ERROR_CODES) {
      const row = rows.get(code);
      if (code === 'AICB_STREAM_INTERRUPTED') {
        expect(row).toEqual({ status: '(event)', shouldRetry: '(none)' });
        continue;
      }
      expect(row, code).toEqual({
        status: String(statusOf(code)),
        shouldRetry: `\`${String(retryAdviceOf(code).retry)}\``,
      });
    }
  });
});

describe('retryHeaders', () => {
  it('tells the SDK not to retry, or to retry after a delay every official SDK honours', () => {
    for (const code of SIDECAR_ERROR_CODES) {
      const advice = retryAdviceOf(code);
      const headers = retryHeaders(code);
      if (!advice.retry) {
        expect(headers).toEqual({ 'x-should-retry': 'false' });
        continue;
      }
      // Node openai ignores a Retry-After above 60 s (and backs off instead).
      expect(advice.afterMs).toBeGreaterThan(0);
      expect(advice.afterMs).toBeLessThanOrEqual(60_000);
      expect(headers).toEqual({
        'x-should-retry': 'true',
        'retry-after-ms': String(advice.afterMs),
        'retry-after': String(Math.ceil(advice.afterMs / 1000)),
      });
    }
  });

  it('fails fast when every circuit is open', () => {
    expect(retryHeaders('AICB_CIRCUIT_OPEN')).toEqual({ 'x-should-retry': 'false' });
  });
});
