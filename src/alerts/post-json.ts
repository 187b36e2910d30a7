/**
 * One JSON POST to a receiver, turned into a DeliveryOutcome. Shared by the webhook and Slack
 * notifiers: they differ only in the body. Nothing that can carry the URL (error messages,
 * undici error objects) escapes; failures are reduced to a fixed vocabulary.
 */
import { request, type Dispatcher } from 'undici';
import type { DeliveryError, DeliveryOutcome } from './alert-notifier.ts';

/** Sent with every alert so receivers can tell our requests apart in their access logs. */
export const ALERT_USER_AGENT = 'ai-circuit-breaker-alerts';

/** Longest error body we look at; receivers answer errors with short tokens, not documents. */
const MAX_ERROR_BODY_BYTES = 256;

/** What `postJson` needs besides the URL and the body. */
export interface PostJsonOptions {
  /** undici dispatcher (the alert dispatcher's own Agent) that owns the connections. */
  readonly http: Dispatcher;
  /** Aborts the request (the dispatcher's per-request timeout, a removed target, close). */
  readonly signal: AbortSignal;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** POSTs `body` (already JSON) to `url`; resolves with the outcome, never rejects. */
export async function postJson(
  url: string,
  body: string,
  options: PostJsonOptions,
): Promise<DeliveryOutcome> {
  const prepared = prepareTarget(url);
  if (prepared === null) return { ok: false, retryable: false, error: 'invalid_request' };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': ALERT_USER_AGENT,
    ...options.headers,
  };
  if (prepared.authorization !== undefined) headers.authorization = prepared.authorization;
  try {
    const response = await request(prepared.url, {
      method: 'POST',
      headers,
      body,
      dispatcher: options.http,
      signal: options.signal,
    });
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      // Reading the body to its end returns the connection to the pool.
      await response.body.dump();
      return { ok: true, status };
    }
    const detail = await readErrorToken(response.body);
    const retryAfterMs = retryAfterMsOf(response.headers['retry-after']);
    return {
      ok: false,
      retryable: isRetryableStatus(status),
      error: 'http_status',
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(detail === undefined ? {} : { detail }),
    };
  } catch (error) {
    if (options.signal.aborted) return { ok: false, retryable: false, error: 'aborted' };
    const kind = networkErrorOf(error);
    return { ok: false, retryable: kind !== 'invalid_request', error: kind };
  }
}

/** 429 and 5xx may pass; any other non-2xx (bad URL, revoked token, archived channel) will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * Moves URL credentials (`https://user:pass@host/`) into a Basic Authorization header, which
 * undici does not do by itself. Null when the URL is not usable; its text is never reported.
 */
function prepareTarget(url: string): { url: URL; authorization?: string } | null {
  try {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return null;
    if (target.username === '' && target.password === '') return { url: target };
    const userinfo = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    target.username = '';
    target.password = '';
    return {
      url: target,
      authorization: `Basic ${Buffer.from(userinfo, 'utf8').toString('base64')}`,
    };
  } catch {
    // URL and decodeURIComponent errors quote their input, which is the secret.
    return null;
  }
}

/** Reads a short error token (`invalid_payload`, `no_service`) from an error body, if it is one. */
async function readErrorToken(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      // Leaving the loop early destroys the stream: a huge error page costs us nothing.
      if (text.length > MAX_ERROR_BODY_BYTES) return undefined;
    }
  } catch {
    return undefined;
  }
  const token = text.trim();
  // Only a bare token is kept: a free-form body could echo the request URL.
  return /^[a-z][a-z0-9_]{0,63}$/.test(token) ? token : undefined;
}

/** `Retry-After` in delta-seconds; an HTTP date or garbage is ignored (backoff applies). */
export function retryAfterMsOf(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\s*\d{1,9}\s*$/.test(text)) return undefined;
  return Number.parseInt(text, 10) * 1000;
}

/** Maps an undici / Node network error to the vocabulary by its code, never its message. */
export function networkErrorOf(error: unknown): DeliveryError {
  const code = errorCodeOf(error);
  if (code === undefined) return 'network';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'connection_reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout';
    case 'UND_ERR_INVALID_ARG':
    case 'ERR_INVALID_URL':
      return 'invalid_request';
    default:
      if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)) return 'tls';
      return 'network';
  }
}

/** The first `code` found on the error, its `cause`, or the first of an AggregateError. */
function errorCodeOf(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 3) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && code !== '') return code;
  const nested = errorCodeOf(cause, depth + 1);
  if (nested !== undefined) return nested;
  return Array.isArray(errors) ? errorCodeOf(errors[0], depth + 1) : undefined;
}
