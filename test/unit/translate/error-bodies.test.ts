import type { ErrorResponse } from '@anthropic-ai/sdk/resources/shared';
import { describe, expect, it } from 'vitest';
import {
  anthropicErrorToOpenai,
  openaiErrorToAnthropic,
} from '../../../src/dataplane/providers/translate/index.ts';

function anthropicError(type: ErrorResponse['error']['type'], message: string): ErrorResponse {
  return {
    type: 'error',
    error: { type, message },
    request_id: 'req_011',
  };
}

describe('anthropicErrorToOpenai', () => {
  it.each([
    [400, 'invalid_request_error', 'invalid_request_error', null],
    [401, 'authentication_error', 'invalid_request_error', 'invalid_api_key'],
    [402, 'billing_error', 'insufficient_quota', 'insufficient_quota'],
    [403, 'permission_error', 'request_forbidden', null],
    [404, 'not_found_error', 'invalid_request_error', null],
    [429, 'rate_limit_error', 'requests', 'rate_limit_exceeded'],
    [500, 'api_error', 'server_error', null],
    [504, 'timeout_error', 'server_error', null],
    [529, 'overloaded_error', 'server_error', null],
  ] as const)('%i %s keeps status and message as %s', (status, type, openaiType, code) => {
    expect(anthropicErrorToOpenai(status, anthropicError(type, 'Overloaded'))).toEqual({
      status,
      body: { error: { message: 'Overloaded', type: openaiType, param: null, code } },
    });
  });

  it('falls back on the status for an unknown type or a body that is not JSON', () => {
    expect(anthropicErrorToOpenai(429, undefined).body.error).toEqual({
      message: 'upstream error (HTTP 429)',
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    });
    expect(
      anthropicErrorToOpenai(418, { type: 'error', error: { type: 'teapot' } }).body.error.type,
    ).toBe('invalid_request_error');
    expect(anthropicErrorToOpenai(502, '<html>Bad gateway</html>').body.error.type).toBe(
      'server_error',
    );
  });
});

describe('openaiErrorToAnthropic', () => {
  const openaiError = (message: string, type: string, code: string | null) => ({
    error: { message, type, param: null, code },
  });

  it.each([
    [
      400,
      openaiError('Invalid value for temperature', 'invalid_request_error', null),
      'invalid_request_error',
    ],
    [
      401,
      openaiError('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key'),
      'authentication_error',
    ],
    [
      403,
      openaiError(
        'Country not supported',
        'request_forbidden',
        'unsupported_country_region_territory',
      ),
      'permission_error',
    ],
    [
      404,
      openaiError('The model `gpt-9` does not exist', 'invalid_request_error', 'model_not_found'),
      'not_found_error',
    ],
    [
      429,
      openaiError('Rate limit reached for gpt-4o', 'requests', 'rate_limit_exceeded'),
      'rate_limit_error',
    ],
    [
      429,
      openaiError('You exceeded your current quota', 'insufficient_quota', 'insufficient_quota'),
      'billing_error',
    ],
    [500, openaiError('The server had an error', 'server_error', null), 'api_error'],
    [
      503,
      openaiError('The engine is currently overloaded', 'server_error', null),
      'overloaded_error',
    ],
    [504, openaiError('Gateway timeout', 'server_error', null), 'timeout_error'],
  ])('%i keeps status and message as %#', (status, body, type) => {
    expect(openaiErrorToAnthropic(status, body)).toEqual({
      status,
      body: { type: 'error', error: { type, message: body.error.message } },
    });
  });

  it('reads the `{"error": "text"}` some compatible servers send', () => {
    expect(openaiErrorToAnthropic(500, { error: 'model crashed' }).body.error).toEqual({
      type: 'api_error',
      message: 'model crashed',
    });
  });
});
