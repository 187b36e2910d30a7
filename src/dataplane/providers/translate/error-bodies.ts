/**
 * Upstream errors in the other API's format: the status and the provider's message are kept, the
 * error type is mapped so the app's SDK raises the error class it would have raised had its own
 * provider failed the same way (both SDKs pick the class from the status; the type is what the
 * app logs and matches on).
 *
 * | Anthropic `error.type` | OpenAI `error.type` / `code`               | Typical status |
 * | ---------------------- | ------------------------------------------ | -------------- |
 * | invalid_request_error  | invalid_request_error / null               | 400            |
 * | authentication_error   | invalid_request_error / invalid_api_key    | 401            |
 * | billing_error          | insufficient_quota / insufficient_quota    | 402            |
 * | permission_error       | request_forbidden / null                   | 403            |
 * | not_found_error        | invalid_request_error / null               | 404            |
 * | request_too_large      | invalid_request_error / null               | 413            |
 * | rate_limit_error       | requests / rate_limit_exceeded             | 429            |
 * | timeout_error          | server_error / null                        | 504            |
 * | api_error              | server_error / null                        | 500            |
 * | overloaded_error       | server_error / null                        | 529 / 503      |
 *
 * OpenAI's types are loose (429 comes as `requests`, `tokens` or `insufficient_quota`), so the
 * reverse direction decides by status first and by type/code only when there is no status (an
 * error inside a stream).
 */
import type { AnthropicErrorBody } from './anthropic-messages-shapes.ts';
import { isJsonObject } from '../../../shared/json-object.ts';

import type { OpenaiErrorBody } from './openai-chat-shapes.ts';

/** An upstream error for the app: the same status, the body in the app's format. */
export interface TranslatedError<Body> {
  readonly status: number;
  readonly body: Body;
}

/** An Anthropic error response (status and parsed body) as the OpenAI SDK expects it. */
export function anthropicErrorToOpenai(
  status: number,
  body: unknown,
): TranslatedError<OpenaiErrorBody> {
  return { status, body: openaiErrorBodyFromAnthropic(body, status) };
}

/** An OpenAI error response (status and parsed body) as the Anthropic SDK expects it. */
export function openaiErrorToAnthropic(
  status: number,
  body: unknown,
): TranslatedError<AnthropicErrorBody> {
  return { status, body: anthropicErrorBodyFromOpenai(body, status) };
}

/** The OpenAI error body for an Anthropic error body; `status` is unknown inside a stream. */
export function openaiErrorBodyFromAnthropic(
  body: unknown,
  status: number | undefined,
): OpenaiErrorBody {
  const error = isJsonObject(body) && isJsonObject(body.error) ? body.error : {};
  const type = typeof error.type === 'string' ? error.type : undefined;
  const mapped = openaiTypeOf(type, status);
  return {
    error: {
      message: messageOf(error.message, status),
      type: mapped.type,
      param: null,
      code: mapped.code,
    },
  };
}

/** The Anthropic error body for an OpenAI error body; `status` is unknown inside a stream. */
export function anthropicErrorBodyFromOpenai(
  body: unknown,
  status: number | undefined,
): AnthropicErrorBody {
  const raw = isJsonObject(body) ? body.error : undefined;
  // Some OpenAI-compatible servers send `{"error": "text"}`.
  const error = isJsonObject(raw) ? raw : { message: raw };
  const type = typeof error.type === 'string' ? error.type : undefined;
  const code = typeof error.code === 'string' ? error.code : undefined;
  return {
    type: 'error',
    error: {
      type:
        status === undefined
          ? anthropicTypeFromOpenai(type, code)
          : anthropicTypeOf(status, type, code),
      message: messageOf(error.message, status),
    },
  };
}

interface OpenaiType {
  readonly type: string;
  readonly code: string | null;
}

function openaiTypeOf(anthropicType: string | undefined, status: number | undefined): OpenaiType {
  switch (anthropicType) {
    case 'invalid_request_error':
    case 'not_found_error':
    case 'request_too_large':
      return { type: 'invalid_request_error', code: null };
    case 'authentication_error':
      return { type: 'invalid_request_error', code: 'invalid_api_key' };
    case 'billing_error':
      return { type: 'insufficient_quota', code: 'insufficient_quota' };
    case 'permission_error':
      return { type: 'request_forbidden', code: null };
    case 'rate_limit_error':
      return { type: 'requests', code: 'rate_limit_exceeded' };
    case 'timeout_error':
    case 'api_error':
    case 'overloaded_error':
      return { type: 'server_error', code: null };
    case undefined:
    default:
      if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
      if (status !== undefined && status >= 400 && status < 500) {
        return { type: 'invalid_request_error', code: null };
      }
      return { type: 'server_error', code: null };
  }
}

function anthropicTypeOf(
  status: number,
  type: string | undefined,
  code: string | undefined,
): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 408:
    case 504:
      return 'timeout_error';
    case 413:
      return 'request_too_large';
    case 429:
      // OpenAI reports an exhausted quota as a 429; Anthropic calls that a billing error.
      return type === 'insufficient_quota' || code === 'insufficient_quota'
        ? 'billing_error'
        : 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

function anthropicTypeFromOpenai(type: string | undefined, code: string | undefined): string {
  if (type === 'insufficient_quota' || code === 'insufficient_quota') return 'billing_error';
  if (
    code === 'rate_limit_exceeded' ||
    type === 'requests' ||
    type === 'tokens' ||
    type === 'rate_limit_exceeded'
  ) {
    return 'rate_limit_error';
  }
  if (code === 'invalid_api_key' || type === 'authentication_error') return 'authentication_error';
  if (type === 'invalid_request_error') return 'invalid_request_error';
  return 'api_error';
}

function messageOf(message: unknown, status: number | undefined): string {
  if (typeof message === 'string' && message !== '') return message;
  return status === undefined ? 'upstream error' : `upstream error (HTTP ${status})`;
}
