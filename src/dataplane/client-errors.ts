/**
 * Errors the sidecar answers itself, rendered in the API format of the caller's SDK so the app
 * sees an ordinary provider error (the OpenAI SDK raises APIError with `code`, the Anthropic SDK
 * its typed error). Every one carries a stable `AICB_*` code, also in `x-aicb-error`.
 */
import type { WireApi } from './providers/wire-api.ts';

/** The error body shapes: OpenAI's (chat completions and Responses alike) and Anthropic's. */
export type ClientFormat = 'openai' | 'anthropic';

/** The error body shape of a wire API. */
export function formatOfApi(api: WireApi): ClientFormat {
  return api === 'anthropic-messages' ? 'anthropic' : 'openai';
}

export type SidecarErrorCode =
  | 'AICB_CIRCUIT_OPEN'
  | 'AICB_BODY_TOO_LARGE'
  | 'AICB_INVALID_JSON'
  | 'AICB_UNKNOWN_UPSTREAM'
  | 'AICB_NO_POLICY'
  | 'AICB_UPSTREAM_TIMEOUT'
  | 'AICB_UPSTREAM_UNAVAILABLE'
  | 'AICB_STREAM_INTERRUPTED'
  | 'AICB_NO_TARGET'
  | 'AICB_INVALID_PATH'
  | 'AICB_BODY_TIMEOUT'
  | 'AICB_OVERLOADED'
  | 'AICB_CONNECTION_LIMIT'
  | 'AICB_INTERNAL';

/**
 * Whether the app's SDK should send the request again, and when. The official SDKs (openai and
 * @anthropic-ai/sdk for Node, openai and anthropic for Python) all obey `x-should-retry` before
 * anything else; without it they retry 408, 409, 429 and every 5xx, at their default
 * `max_retries=2`, after `retry-after-ms`, `retry-after` or 0.5 s, 1 s of backoff. A Retry-After of
 * tens of seconds on a fast fail therefore made the app wait that long twice; this table is why
 * it no longer does. docs/sdk-retries.md explains each choice per SDK.
 */
export type RetryAdvice =
  | {
      /** `x-should-retry: false`: the SDK raises at once. */
      readonly retry: false;
      /** Why a retry cannot help (shown in docs/sdk-retries.md). */
      readonly why: string;
    }
  | {
      /** `x-should-retry: true` with `retry-after-ms` / `retry-after`: the SDK waits that long. */
      readonly retry: true;
      readonly afterMs: number;
      readonly why: string;
    };

interface ErrorSpec {
  readonly status: number;
  /** OpenAI `error.type`. */
  readonly openaiType: string;
  /** Anthropic `error.type`. */
  readonly anthropicType: string;
  readonly retry: RetryAdvice;
}

/** The sidecar already ran the policy's retries and fallbacks; an SDK retry repeats them all. */
const CHAIN_DONE =
  "the sidecar already tried the upstream and its fallbacks with the policy's retries; an SDK retry repeats the whole chain and multiplies the wait and the load on a failing provider";

const SPECS: Record<SidecarErrorCode, ErrorSpec> = {
  AICB_CIRCUIT_OPEN: {
    status: 503,
    openaiType: 'server_error',
    anthropicType: 'overloaded_error',
    retry: {
      retry: false,
      why: 'every circuit of the chain is open: a retry before the open period ends gets the same answer, so the app gets the error at once; Retry-After still says when the first circuit may be probed',
    },
  },
  AICB_BODY_TOO_LARGE: {
    status: 413,
    openaiType: 'invalid_request_error',
    anthropicType: 'request_too_large',
    retry: { retry: false, why: 'the same body is refused again' },
  },
  AICB_INVALID_JSON: {
    status: 400,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    retry: { retry: false, why: 'the same body is refused again' },
  },
  AICB_UNKNOWN_UPSTREAM: {
    status: 404,
    openaiType: 'invalid_request_error',
    anthropicType: 'not_found_error',
    retry: { retry: false, why: 'the same path is refused again (a configuration error)' },
  },
  AICB_NO_POLICY: {
    status: 503,
    openaiType: 'server_error',
    anthropicType: 'api_error',
    retry: {
      retry: true,
      afterMs: 1000,
      why: 'the sidecar is starting and gets its policy within moments; two retries a second apart usually find it ready',
    },
  },
  AICB_UPSTREAM_TIMEOUT: {
    status: 504,
    openaiType: 'server_error',
    anthropicType: 'api_error',
    retry: { retry: false, why: CHAIN_DONE },
  },
  AICB_UPSTREAM_UNAVAILABLE: {
    status: 502,
    openaiType: 'server_error',
    anthropicType: 'api_error',
    retry: { retry: false, why: CHAIN_DONE },
  },
  AICB_STREAM_INTERRUPTED: {
    status: 502,
    openaiType: 'server_error',
    anthropicType: 'api_error',
    retry: {
      retry: false,
      why: 'sent as an event inside a stream that already started: there are no headers to set, and no SDK retries a started stream',
    },
  },
  AICB_NO_TARGET: {
    status: 502,
    openaiType: 'server_error',
    anthropicType: 'api_error',
    retry: {
      retry: false,
      why: 'no target of the chain can serve this request (policy or request), so a retry is skipped the same way',
    },
  },
  AICB_INVALID_PATH: {
    status: 400,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    retry: { retry: false, why: 'the same path is refused again' },
  },
  AICB_BODY_TIMEOUT: {
    status: 408,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
    retry: {
      retry: false,
      why: 'the app stopped sending its body; the SDK would send it the same way again',
    },
  },
  AICB_OVERLOADED: {
    status: 503,
    openaiType: 'server_error',
    anthropicType: 'overloaded_error',
    retry: {
      retry: true,
      afterMs: 1000,
      why: 'the sidecar holds as many request bodies as its memory bound allows; a second later others have been sent on',
    },
  },
  AICB_CONNECTION_LIMIT: {
    status: 503,
    openaiType: 'server_error',
    anthropicType: 'overloaded_error',
    retry: {
      retry: true,
      afterMs: 1000,
      why: "every connection the policy's maxConnections allows to this upstream is busy; the sidecar refuses rather than queue the call out of the app's sight",
    },
  },
  AICB_INTERNAL: {
    status: 500,
    openaiType: 'server_error',
    anthropicType: 'api_error',
    retry: {
      retry: false,
      why: 'a bug in the sidecar, which a retry of the same request most likely meets again; nothing was forwarded',
    },
  },
};

/** Every code the sidecar answers with, and what an SDK is told to do about it. */
export const SIDECAR_ERROR_CODES = Object.keys(SPECS) as SidecarErrorCode[];

/** The retry advice of a code (the table above). */
export function retryAdviceOf(code: SidecarErrorCode): RetryAdvice {
  return SPECS[code].retry;
}

/**
 * The SDK retry headers for an answer the sidecar makes itself with `code`: `x-should-retry`
 * always, and for a retryable code `retry-after-ms` (the Node SDKs and Python's read it first)
 * plus `retry-after` in whole seconds for other clients. Headers a caller adds afterwards (the
 * circuit-open `retry-after`) are informational: `x-should-retry: false` wins in every SDK.
 */
export function retryHeaders(code: SidecarErrorCode): Record<string, string> {
  const advice = SPECS[code].retry;
  if (!advice.retry) return { 'x-should-retry': 'false' };
  return {
    'x-should-retry': 'true',
    'retry-after-ms': String(advice.afterMs),
    'retry-after': String(Math.max(1, Math.ceil(advice.afterMs / 1000))),
  };
}

export function statusOf(code: SidecarErrorCode): number {
  return SPECS[code].status;
}

/** JSON error body in the caller's API format. The message must never contain a credential. */
export function errorBody(format: ClientFormat, code: SidecarErrorCode, message: string): string {
  const spec = SPECS[code];
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
      const spec = SPECS[code];
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
