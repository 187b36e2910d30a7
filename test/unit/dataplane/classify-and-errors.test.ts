import { describe, expect, it } from 'vitest';
import {
  classifyStatus,
  classifyTransport,
  transportProblemOf,
} from '../../../src/dataplane/classify-outcome.ts';
import { errorBody, streamErrorEvent } from '../../../src/dataplane/client-errors.ts';
import { parseRetryAfterMs } from '../../../src/dataplane/retry-after.ts';

const failOn = {
  statusCodes: [500, 502, 503, 504, 529],
  timeouts: true,
  connectionErrors: true,
  rateLimits: true,
  authErrors: false,
};

describe('classifyStatus', () => {
  it.each([
    [200, 'success'],
    [400, 'success'],
    [404, 'success'],
    [422, 'success'],
    [401, 'success'],
    [403, 'success'],
    [500, 'failure'],
    [502, 'failure'],
    [503, 'failure'],
    [504, 'failure'],
    [529, 'failure'],
    [429, 'failure'],
    [501, 'success'],
  ])('%i is %s under the default failOn', (status, kind) => {
    expect(classifyStatus(status, failOn, undefined).kind).toBe(kind);
  });

  it('marks 429 soft and carries Retry-After; 529 is overloaded', () => {
    expect(classifyStatus(429, failOn, 2000)).toEqual({
      kind: 'failure',
      reason: 'rate_limited',
      soft: true,
      retryAfterMs: 2000,
    });
    expect(classifyStatus(529, failOn, undefined)).toMatchObject({
      reason: 'overloaded',
      soft: false,
    });
  });

  it('follows the policy switches', () => {
    const strict = { ...failOn, rateLimits: false, authErrors: true, statusCodes: [408, 500] };
    expect(classifyStatus(429, strict, undefined).kind).toBe('success');
    expect(classifyStatus(401, strict, undefined)).toMatchObject({
      kind: 'failure',
      reason: 'auth_error',
    });
    expect(classifyStatus(408, strict, undefined)).toMatchObject({
      kind: 'failure',
      reason: 'status_code',
    });
    expect(classifyStatus(503, strict, undefined).kind).toBe('success');
  });

  it('classifies transport problems and ignores kinds the policy does not count', () => {
    expect(transportProblemOf({ code: 'UND_ERR_CONNECT_TIMEOUT' })).toBe('connect_timeout');
    expect(transportProblemOf({ code: 'UND_ERR_HEADERS_TIMEOUT' })).toBe('first_byte_timeout');
    expect(transportProblemOf({ code: 'UND_ERR_BODY_TIMEOUT' })).toBe('idle_timeout');
    expect(transportProblemOf({ code: 'ECONNRESET' })).toBe('connection_error');
    expect(classifyTransport('idle_timeout', { ...failOn, timeouts: false }).kind).toBe('ignored');
    expect(classifyTransport('connection_error', failOn)).toMatchObject({
      kind: 'failure',
      reason: 'connection_error',
    });
  });
});

describe('parseRetryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('30', 0)).toBe(30_000);
    const now = Date.UTC(2026, 10, 26, 12, 0, 0);
    expect(parseRetryAfterMs('Thu, 26 Nov 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfterMs('Thu, 26 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('error bodies', () => {
  it('renders each API format', () => {
    expect(JSON.parse(errorBody('openai', 'AICB_CIRCUIT_OPEN', 'm'))).toEqual({
      error: { message: 'm', type: 'server_error', param: null, code: 'AICB_CIRCUIT_OPEN' },
    });
    expect(JSON.parse(errorBody('anthropic', 'AICB_CIRCUIT_OPEN', 'm'))).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'm', code: 'AICB_CIRCUIT_OPEN' },
    });
    expect(streamErrorEvent('anthropic-messages', 'AICB_STREAM_INTERRUPTED', 'x')).toMatch(
      /^event: error\ndata: \{"type":"error"/,
    );
    expect(streamErrorEvent('openai-chat', 'AICB_STREAM_INTERRUPTED', 'x')).toMatch(
      /^data: \{"error":/,
    );
    // A Responses stream ends with its own error event, which the OpenAI SDKs raise.
    const responses = streamErrorEvent('openai-responses', 'AICB_STREAM_INTERRUPTED', 'x');
    expect(responses).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(responses.split('data: ')[1] ?? '')).toMatchObject({
      type: 'error',
      code: 'AICB_STREAM_INTERRUPTED',
      message: 'x',
      error: { code: 'AICB_STREAM_INTERRUPTED' },
    });
  });
});
