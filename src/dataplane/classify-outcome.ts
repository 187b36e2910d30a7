/**
 * Classifies the result of one upstream attempt exactly once, as docs/breaker-spec.md (B2) and
 * `failOn` say: a failure (which the breaker records and which moves the request down the
 * fallback chain while nothing has reached the client), a success (including the caller's own
 * 4xx mistakes), or ignored (the client went away, or a failure kind the policy does not count).
 */
import type { PolicySnapshot } from '../snapshot/snapshot.ts';

/** Bounded set of failure reasons; used as a metric label. */
export type FailureReason =
  | 'server_error'
  | 'overloaded'
  | 'rate_limited'
  | 'auth_error'
  | 'status_code'
  | 'connect_timeout'
  | 'first_byte_timeout'
  | 'idle_timeout'
  | 'total_timeout'
  | 'connection_error'
  | 'stream_error';

export type AttemptOutcome =
  | { readonly kind: 'success' }
  | {
      readonly kind: 'failure';
      readonly reason: FailureReason;
      /** A 429: counts in the failure rate and fails probes, but not the consecutive streak. */
      readonly soft: boolean;
      readonly retryAfterMs: number | undefined;
    }
  | { readonly kind: 'ignored' };

export const SUCCESS: AttemptOutcome = Object.freeze({ kind: 'success' });
export const IGNORED: AttemptOutcome = Object.freeze({ kind: 'ignored' });

export type FailOn = PolicySnapshot['failOn'];

/** Outcome of a response whose status line arrived. */
export function classifyStatus(
  status: number,
  failOn: FailOn,
  retryAfterMs: number | undefined,
): AttemptOutcome {
  if (status < 400) return SUCCESS;
  if (status === 429) {
    return failOn.rateLimits
      ? { kind: 'failure', reason: 'rate_limited', soft: true, retryAfterMs }
      : SUCCESS;
  }
  if (status === 401 || status === 403) {
    return failOn.authErrors
      ? { kind: 'failure', reason: 'auth_error', soft: false, retryAfterMs: undefined }
      : SUCCESS;
  }
  if (failOn.statusCodes.includes(status)) {
    const reason: FailureReason =
      status === 529 ? 'overloaded' : status >= 500 ? 'server_error' : 'status_code';
    return { kind: 'failure', reason, soft: false, retryAfterMs };
  }
  // Any other status is the caller's mistake or a deliberate answer: the upstream is alive.
  return SUCCESS;
}

/** Transport-level problems seen before or while reading a response. */
export type TransportProblem =
  'connect_timeout' | 'first_byte_timeout' | 'idle_timeout' | 'total_timeout' | 'connection_error';

export function classifyTransport(problem: TransportProblem, failOn: FailOn): AttemptOutcome {
  const counted = problem === 'connection_error' ? failOn.connectionErrors : failOn.timeouts;
  return counted
    ? { kind: 'failure', reason: problem, soft: false, retryAfterMs: undefined }
    : IGNORED;
}

/** Maps an undici / Node error to the transport problem it represents. */
export function transportProblemOf(error: unknown): TransportProblem {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect_timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'first_byte_timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'idle_timeout';
    default:
      return 'connection_error';
  }
}
