/**
 * Errors the sidecar answers itself, rendered in the API format of the caller's SDK so the app
 * sees an ordinary provider error (the OpenAI SDK raises APIError with `code`, the Anthropic SDK
 * its typed error). Every one carries a stable `AICB_*` code, also in `x-aicb-error`.
 */
import {
  ERROR_CODE_LIST,
  ERROR_CODES,
  type HttpAnswer,
  type RetryAdvice,
  type SidecarErrorCode,
} from '../shared/error-codes.ts';
import type { WireApi } from './providers/wire-api.ts';

export type { SidecarErrorCode } from '../shared/error-codes.ts';

/** The error body shapes: OpenAI's (chat completions and Responses alike) and Anthropic's. */
export type ClientFormat = 'openai' | 'anthropic';

/** The error body shape of a wire API. */
export function formatOfApi(api: WireApi): ClientFormat {
  return api === 'anthropic-messages' ? 'anthropic' : 'openai';
}

/** Every code the sidecar answers with (the registry's codes with an HTTP answer). */
export const SIDECAR_ERROR_CODES = ERROR_CODE_LIST.filter(
  (code): code is SidecarErrorCode => ERROR_CODES[code].http !== null,
);

/** The HTTP answer of a sidecar code. */
function answerOf(code: SidecarErrorCode): HttpAnswer {
  return ERROR_CODES[code].http;
}

/** The retry advice of a code (src/shared/error-codes.ts). */
export function retryAdviceOf(code: SidecarErrorCode): RetryAdvice {
  return ERROR_CODES[code].retry;
}

/**
 * The SDK retry headers for an answer the sidecar makes itself with `code`: `x-should-retry`
 * always, and for a retryable code `retry-after-ms` (the Node SDKs and Python's read it first)
 * plus `retry-after` in whole seconds for other clients. Headers a caller adds afterwards (the
 * circuit-open `retry-after`) are informational: `x-should-retry: false` wins in every SDK.
 */
export function retryHeaders(code: SidecarErrorCode): Record<string, string> {
  const advice = retryAdviceOf(code);
  if (!advice.retry) return { 'x-should-retry': 'false' };
  return {
    'x-should-retry': 'true',
    'retry-after-ms': String(advice.afterMs),
    'retry-after': String(Math.max(1, Math.ceil(advice.afterMs / 1000))),
  };
}

export function statusOf(code: SidecarErrorCode): number {
  return answerOf(code).status;
}

/** JSON error body in the caller's API format. The message must never contain a credential. */
export function errorBody(format: ClientFormat, code: SidecarErrorCode, message: string): string {
  const spec = answerOf(code);
  return format === 'anthropic'
    ? JSON.stringify({ type: 'error', error: { type: spec.anthropicType, message, code } })
    : JSON.stringify({ error: { message, type: spec.openaiType, param: null, code } });
}

/**
 * A server-sent event that ends a stream with an error, in the app's API: an Anthropic `error`
 * event, a chat chunk with `error`, or a Responses `error` event (which also carries `error`, so
 * the OpenAI SDKs raise it as they raise any stream error).
 */
export function streamErrorEvent(api: WireApi, code: SidecarErrorCode, message: string): string {
  switch (api) {
    case 'anthropic-messages':
      return `event: error\ndata: ${errorBody('anthropic', code, message)}\n\n`;
    case 'openai-chat':
      return `data: ${errorBody('openai', code, message)}\n\n`;
    case 'openai-responses': {
      const spec = answerOf(code);
      const data = JSON.stringify({
        type: 'error',
        code,
        message,
        param: null,
        error: { message, type: spec.openaiType, param: null, code },
      });
      return `event: error\ndata: ${data}\n\n`;
    }
  }
}
