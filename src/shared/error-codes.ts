/**
 * The one list of every `AICB_*` error code: who raises it, the HTTP answer when the sidecar
 * makes one (status and the error types of the OpenAI and Anthropic bodies), what it means, what
 * to do, and whether a client should retry. docs/errors.md shows exactly this table (a test
 * compares them), the sidecar's error bodies and SDK retry headers are rendered from it
 * (src/dataplane/client-errors.ts), and every CodedError names one of its codes.
 */

/**
 * Whether the app's SDK should send the request again, and when. The official SDKs (openai and
 * @anthropic-ai/sdk for Node, openai and anthropic for Python) all obey `x-should-retry` before
 * anything else; without it they retry 408, 409, 429 and every 5xx, at their default
 * `max_retries=2`, after `retry-after-ms`, `retry-after` or 0.5 s, 1 s of backoff. A Retry-After of
 * tens of seconds on a fast fail therefore made the app wait that long twice; this advice is why
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

/** The answer the sidecar makes itself with a code, in either API's error body. */
export interface HttpAnswer {
  readonly status: number;
  /** OpenAI `error.type`. */
  readonly openaiType: string;
  /** Anthropic `error.type`. */
  readonly anthropicType: string;
}

/** One code of the registry. */
export interface ErrorCodeSpec {
  /** The part of the product that raises it. */
  readonly raisedBy: 'sidecar' | 'aicb sidecar --config' | 'breaker engine' | 'alert dispatcher';
  /** The sidecar's own answer, or null for errors thrown inside the process. */
  readonly http: HttpAnswer | null;
  /** Sent only as an error event inside a stream that already started (no status, no headers). */
  readonly inStreamOnly?: true;
  /** What happened (docs/errors.md, Markdown). */
  readonly meaning: string;
  /** What the operator or developer should do (docs/errors.md, Markdown). */
  readonly whatToDo: string;
  /** Whether a client retry can help. */
  readonly retry: RetryAdvice;
}

/** The sidecar already ran the policy's retries and fallbacks; an SDK retry repeats them all. */
const CHAIN_DONE =
  "the sidecar already tried the upstream and its fallbacks with the policy's retries; an SDK retry repeats the whole chain and multiplies the wait and the load on a failing provider";

/** Every code, in the order docs/errors.md lists them. */
export const ERROR_CODES = {
  AICB_CIRCUIT_OPEN: {
    raisedBy: 'sidecar',
    http: { status: 503, openaiType: 'server_error', anthropicType: 'overloaded_error' },
    meaning:
      'The circuits of the requested upstream and of every fallback are open; nothing was called. `Retry-After` says when the first one may be probed.',
    whatToDo:
      'Wait, or look at `aicb status` / `circuit_breaker_state` for why the circuits opened.',
    retry: {
      retry: false,
      why: 'every circuit of the chain is open: a retry before the open period ends gets the same answer, so the app gets the error at once; Retry-After still says when the first circuit may be probed',
    },
  },
  AICB_NO_TARGET: {
    raisedBy: 'sidecar',
    http: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning:
      'No target in the chain can serve this request (for example no `modelMap` entry, or no credentials for a fallback of another provider). `x-aicb-attempts` lists each skip reason.',
    whatToDo: "Fix the policy's fallbacks or model mapping.",
    retry: {
      retry: false,
      why: 'no target of the chain can serve this request (policy or request), so a retry is skipped the same way',
    },
  },
  AICB_UPSTREAM_TIMEOUT: {
    raisedBy: 'sidecar',
    http: { status: 504, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning: 'Every attempted upstream timed out (connect, first byte or total) before answering.',
    whatToDo: 'Check the provider; adjust `upstreams[].timeouts`.',
    retry: { retry: false, why: CHAIN_DONE },
  },
  AICB_UPSTREAM_UNAVAILABLE: {
    raisedBy: 'sidecar',
    http: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning:
      'Every attempted upstream refused or reset the connection before answering, or answered a stream with no content (empty, only comments or pings, or not a valid stream).',
    whatToDo:
      "Check the provider's address and network; `x-aicb-attempts` shows `stream_error` for a stream without content.",
    retry: { retry: false, why: CHAIN_DONE },
  },
  AICB_UPSTREAM_UNDECODABLE: {
    raisedBy: 'sidecar',
    http: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning:
      "A fallback target that got the policy's key answered in a `content-encoding` the sidecar cannot decode (it decodes gzip, deflate and br), so the key could not be masked in the answer; the answer was dropped, and no other target answered. Not counted against the circuit unless the status was a failure.",
    whatToDo: 'Make the provider honour `accept-encoding: identity`, or use gzip, deflate or br.',
    retry: { retry: false, why: CHAIN_DONE },
  },
  AICB_STREAM_INTERRUPTED: {
    raisedBy: 'sidecar',
    inStreamOnly: true,
    http: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning:
      'A streamed answer broke after content had reached the app (upstream reset, stall, or end without its terminator). The answer is incomplete.',
    whatToDo: 'Retry the request; the failure was counted for the breaker.',
    retry: {
      retry: false,
      why: 'sent as an event inside a stream that already started: there are no headers to set, and no SDK retries a started stream',
    },
  },
  AICB_ANSWER_TOO_LARGE: {
    raisedBy: 'sidecar',
    http: { status: 502, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning:
      "A fallback of another API answered a non-streaming request with more than 32 MiB, the most the sidecar holds to translate an answer whole ([translation.md](translation.md)). The sidecar's own limit: the upstream's circuit is not charged, and no further target is tried.",
    whatToDo:
      'Ask for a shorter answer (`max_tokens`), or stream the request: streams are translated event by event, without this limit.',
    retry: {
      retry: false,
      why: 'the same request most likely gets an answer as large again, and the sidecar refuses it the same way',
    },
  },
  AICB_BODY_TOO_LARGE: {
    raisedBy: 'sidecar',
    http: { status: 413, openaiType: 'invalid_request_error', anthropicType: 'request_too_large' },
    meaning: 'The request body exceeds `--max-body-bytes`.',
    whatToDo: 'Send a smaller body or raise the limit.',
    retry: { retry: false, why: 'the same body is refused again' },
  },
  AICB_INVALID_JSON: {
    raisedBy: 'sidecar',
    http: {
      status: 400,
      openaiType: 'invalid_request_error',
      anthropicType: 'invalid_request_error',
    },
    meaning: 'The request body is not valid JSON (or could not be read).',
    whatToDo: 'Fix the request.',
    retry: { retry: false, why: 'the same body is refused again' },
  },
  AICB_UNKNOWN_UPSTREAM: {
    raisedBy: 'sidecar',
    http: { status: 404, openaiType: 'invalid_request_error', anthropicType: 'not_found_error' },
    meaning: 'The path names no configured upstream; the message lists the configured ones.',
    whatToDo: 'Use `/{upstream}/...` or `/v1/...` for the default upstream.',
    retry: { retry: false, why: 'the same path is refused again (a configuration error)' },
  },
  AICB_NO_POLICY: {
    raisedBy: 'sidecar',
    http: { status: 503, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning: 'The sidecar has not received a policy yet.',
    whatToDo: 'Wait for the controller, or start it with `--config`.',
    retry: {
      retry: true,
      afterMs: 1000,
      why: 'the sidecar is starting and gets its policy within moments; two retries a second apart usually find it ready',
    },
  },
  AICB_INVALID_PATH: {
    raisedBy: 'sidecar',
    http: {
      status: 400,
      openaiType: 'invalid_request_error',
      anthropicType: 'invalid_request_error',
    },
    meaning:
      "The path has dot segments (`..`, `%2e%2e`), encoded slashes, backslashes or control characters; it is refused before routing because the sidecar would add the policy's key to it.",
    whatToDo: 'Send a plain API path.',
    retry: { retry: false, why: 'the same path is refused again' },
  },
  AICB_BODY_TIMEOUT: {
    raisedBy: 'sidecar',
    http: {
      status: 408,
      openaiType: 'invalid_request_error',
      anthropicType: 'invalid_request_error',
    },
    meaning:
      'No bytes of the request body arrived for `--body-timeout` (15 s), for example a body shorter than its Content-Length.',
    whatToDo: 'Check the client or network; the body was dropped, nothing was forwarded.',
    retry: {
      retry: false,
      why: 'the app stopped sending its body; the SDK would send it the same way again',
    },
  },
  AICB_REQUEST_TIMEOUT: {
    raisedBy: 'sidecar',
    http: {
      status: 408,
      openaiType: 'invalid_request_error',
      anthropicType: 'invalid_request_error',
    },
    meaning:
      'The request headers did not arrive within `--headers-timeout` (30 s), or the whole request within `--request-timeout` (300 s); the connection is closed.',
    whatToDo: 'Check the client or network; nothing was forwarded.',
    retry: {
      retry: false,
      why: 'the app stopped sending its request; the SDK would send it the same way again',
    },
  },
  AICB_MALFORMED_HTTP: {
    raisedBy: 'sidecar',
    http: {
      status: 400,
      openaiType: 'invalid_request_error',
      anthropicType: 'invalid_request_error',
    },
    meaning:
      'The request is not valid HTTP/1.1 (bad framing, conflicting lengths, bare CR or LF in a header), or its headers are too large (431); the connection is closed.',
    whatToDo: 'Fix the client; nothing was forwarded.',
    retry: { retry: false, why: 'the same bytes would be refused again' },
  },
  AICB_OVERLOADED: {
    raisedBy: 'sidecar',
    http: { status: 503, openaiType: 'server_error', anthropicType: 'overloaded_error' },
    meaning:
      'The request bodies held at once would exceed `--max-buffered-body-bytes` (64 MiB); sent with `retry-after-ms: 1000`.',
    whatToDo: 'Retry (the SDKs do); raise the bound and the memory limit together if it persists.',
    retry: {
      retry: true,
      afterMs: 1000,
      why: 'the sidecar holds as many request bodies as its memory bound allows; a second later others have been sent on',
    },
  },
  AICB_CONNECTION_LIMIT: {
    raisedBy: 'sidecar',
    http: { status: 503, openaiType: 'server_error', anthropicType: 'overloaded_error' },
    meaning:
      'Every connection `upstreams[].maxConnections` allows to the target is busy; the call is refused rather than queued (`aicb_connection_limited_total`).',
    whatToDo: 'Raise `maxConnections`, or spread the load.',
    retry: {
      retry: true,
      afterMs: 1000,
      why: "every connection the policy's maxConnections allows to this upstream is busy; the sidecar refuses rather than queue the call out of the app's sight",
    },
  },
  AICB_INTERNAL: {
    raisedBy: 'sidecar',
    http: { status: 500, openaiType: 'server_error', anthropicType: 'api_error' },
    meaning:
      "A bug in the sidecar; the request was not forwarded, or (mid-answer) the connection was cut. Never counted against an upstream's circuit.",
    whatToDo: 'Report it with the sidecar log line.',
    retry: {
      retry: false,
      why: 'a bug in the sidecar, which a retry of the same request most likely meets again; nothing was forwarded',
    },
  },
  AICB_POLICY_INVALID: {
    raisedBy: 'aicb sidecar --config',
    http: null,
    meaning: 'The policy file cannot be used; every problem is listed with its field path.',
    whatToDo: 'Fix the file; `aicb validate -f FILE` shows the same problems.',
    retry: { retry: false, why: 'the same file is refused again until it is fixed' },
  },
  AICB_ILLEGAL_TRANSITION: {
    raisedBy: 'breaker engine',
    http: null,
    meaning:
      'An operator action asked for a transition the breaker does not allow (e.g. closed to half-open).',
    whatToDo: 'Use `spec.overrides`; this is a programming error if it reaches a log.',
    retry: { retry: false, why: 'the breaker refuses the same transition again' },
  },
  AICB_INVALID_BREAKER_CONFIG: {
    raisedBy: 'breaker engine',
    http: null,
    meaning:
      'A breaker was built with settings outside their ranges; the message quotes the bad value.',
    whatToDo: 'Programming error: policies are validated before they reach the engine.',
    retry: { retry: false, why: 'the same settings are refused again' },
  },
  AICB_INVALID_BREAKER_SNAPSHOT: {
    raisedBy: 'breaker engine',
    http: null,
    meaning: 'A persisted breaker snapshot could not be restored.',
    whatToDo: 'The breaker starts closed; delete the stale state file.',
    retry: { retry: false, why: 'the same snapshot is refused again; the breaker starts closed' },
  },
  AICB_INVALID_ALERT_CONFIG: {
    raisedBy: 'alert dispatcher',
    http: null,
    meaning:
      'The dispatcher was configured outside its ranges (unknown event, negative dedup window, unknown target kind); the message quotes the bad value, never a URL.',
    whatToDo: 'Programming error: policies are validated before they reach the dispatcher.',
    retry: { retry: false, why: 'the same settings are refused again' },
  },
} as const satisfies Record<`AICB_${string}`, ErrorCodeSpec>;

/** Every stable error code of the product. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes the sidecar answers requests with (those with an HTTP answer). */
export type SidecarErrorCode = {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]['http'] extends null ? never : K;
}[ErrorCode];

/** Every code, in registry order. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

/** The registry entry of a code. */
export function errorCodeSpec(code: ErrorCode): ErrorCodeSpec {
  return ERROR_CODES[code];
}
