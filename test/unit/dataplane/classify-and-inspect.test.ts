import { describe, expect, it } from 'vitest';
import {
  classifyStatus,
  classifyTransport,
  transportProblemOf,
} from '../../../src/dataplane/classify-outcome.ts';
import { errorBody, streamErrorEvent } from '../../../src/dataplane/client-errors.ts';
import { parseRetryAfterMs } from '../../../src/dataplane/retry-after.ts';
import { SseInspector } from '../../../src/dataplane/sse-inspector.ts';

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

describe('SseInspector', () => {
  const chunk = (s: string) => Buffer.from(s);

  it('holds back OpenAI events until the first chunk, and spots an error that comes first', () => {
    const ok = new SseInspector('openai');
    expect(ok.preContent(chunk(': keep-alive\n\n')).kind).toBe('pending');
    expect(
      ok.preContent(chunk('data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n')).kind,
    ).toBe('content');
    const bad = new SseInspector('openai');
    expect(bad.preContent(chunk('data: {"error":{"message":"boom"}}\n\n'))).toEqual({
      kind: 'error',
      message: 'boom',
    });
  });

  it('waits past Anthropic message_start and ping, and reads an error event', () => {
    const inspector = new SseInspector('anthropic');
    expect(
      inspector.preContent(chunk('event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\n'))
        .kind,
    ).toBe('pending');
    expect(
      inspector.preContent(
        chunk(
          'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
        ),
      ),
    ).toEqual({
      kind: 'error',
      message: 'Overloaded',
    });
  });

  it('handles events split across chunks', () => {
    const inspector = new SseInspector('anthropic');
    expect(inspector.preContent(chunk('event: content_block_st')).kind).toBe('pending');
    expect(inspector.preContent(chunk('art\ndata: {}\n\n')).kind).toBe('content');
  });

  it('finds the terminator and error markers even when a chunk boundary splits them', () => {
    const inspector = new SseInspector('openai');
    inspector.scan(chunk('data: {"choices":[]}\n\ndata: [DO'));
    expect(inspector.sawEnd).toBe(false);
    inspector.scan(chunk('NE]\n\n'));
    expect(inspector.sawEnd).toBe(true);
    const errors = new SseInspector('anthropic');
    errors.scan(chunk('event: err'));
    errors.scan(chunk('or\ndata: {}\n\n'));
    expect(errors.sawError).toBe(true);
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
    expect(streamErrorEvent('anthropic', 'AICB_STREAM_INTERRUPTED', 'x')).toMatch(
      /^event: error\ndata: \{"type":"error"/,
    );
    expect(streamErrorEvent('openai', 'AICB_STREAM_INTERRUPTED', 'x')).toMatch(/^data: \{"error":/);
  });
});
