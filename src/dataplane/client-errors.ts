/**
 * Errors the sidecar answers itself, rendered in the API format of the caller's SDK so the app
 * sees an ordinary provider error (the OpenAI SDK raises APIError with `code`, the Anthropic SDK
 * its typed error). Every one carries a stable `AICB_*` code, also in `x-aicb-error`.
 */
export type ClientFormat = 'openai' | 'anthropic';

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
  | 'AICB_INTERNAL';

interface ErrorSpec {
  readonly status: number;
  /** OpenAI `error.type`. */
  readonly openaiType: string;
  /** Anthropic `error.type`. */
  readonly anthropicType: string;
}

const SPECS: Record<SidecarErrorCode, ErrorSpec> = {
  AICB_CIRCUIT_OPEN: { status: 503, openaiType: 'server_error', anthropicType: 'overloaded_error' },
  AICB_BODY_TOO_LARGE: {
    status: 413,
    openaiType: 'invalid_request_error',
    anthropicType: 'request_too_large',
  },
  AICB_INVALID_JSON: {
    status: 400,
    openaiType: 'invalid_request_error',
    anthropicType: 'invalid_request_error',
  },
  AICB_UNKNOWN_UPSTREAM: {
    status: 404,
    openaiType: 'invalid_request_error',
    anthropicType: 'not_found_error',
  },
  AICB_NO_POLICY: { status: 503, openaiType: 'server_error', anthropicType: 'api_error' },
  AICB_UPSTREAM_TIMEOUT: { status: 504, openaiType: 'server_error', anthropicType: 'api_error' },
  AICB_UPSTREAM_UNAVAILABLE: {
    status: 502,
    openaiType: 'server_error',
    anthropicType: 'api_error',
  },
  AICB_STREAM_INTERRUPTED: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
  AICB_NO_TARGET: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
  AICB_INTERNAL: { status: 500, openaiType: 'server_error', anthropicType: 'api_error' },
};

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

/** A server-sent event that ends a stream with an error, in the caller's format. */
export function streamErrorEvent(
  format: ClientFormat,
  code: SidecarErrorCode,
  message: string,
): string {
  return format === 'anthropic'
    ? `event: error\ndata: ${errorBody(format, code, message)}\n\n`
    : `data: ${errorBody(format, code, message)}\n\n`;
}
