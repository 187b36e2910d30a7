/**
 * The one writer of the app's response: the status, the upstream's headers minus hop-by-hop
 * ones, the `x-aicb-*` headers (made safe: parts come from client input), held upstream
 * answers, cached answers and the sidecar's own errors in the app's API format.
 */
import type { ServerResponse } from 'node:http';
import {
  errorBody,
  retryHeaders,
  statusOf,
  type ClientFormat,
  type SidecarErrorCode,
} from '../client-errors.ts';
import { headerSafe } from './header-value.ts';

/** Response headers that describe one hop and must not be forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** What the sidecar says about how a request was served. */
export interface ServedBy {
  readonly upstream: string;
  readonly model: string | undefined;
  readonly attempts: string;
  /** `requested->served` when a fallback answered. */
  readonly fallback?: string;
}

type UpstreamHeaders = Readonly<Record<string, string | string[] | undefined>>;

function servedHeaders(headers: Record<string, string | string[]>, served: ServedBy): void {
  headers['x-aicb-upstream'] = headerSafe(served.upstream);
  if (served.model !== undefined) headers['x-aicb-model'] = headerSafe(served.model);
  headers['x-aicb-attempts'] = headerSafe(served.attempts);
  if (served.fallback !== undefined) headers['x-aicb-fallback'] = headerSafe(served.fallback);
}

function forwarded(upstream: UpstreamHeaders, drop?: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && name !== drop) headers[name] = value;
  }
  return headers;
}

/** The head of an upstream answer that is flowing to the app. */
export function writeUpstreamHead(
  res: ServerResponse,
  status: number,
  upstream: UpstreamHeaders,
  served: ServedBy,
): void {
  const headers = forwarded(upstream);
  servedHeaders(headers, served);
  res.writeHead(status, headers);
}

/** A whole answer the sidecar holds (an upstream's error, a cached answer). */
export function writeWhole(
  res: ServerResponse,
  status: number,
  upstream: UpstreamHeaders,
  body: Buffer,
  served: ServedBy,
  extra: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const headers = forwarded(upstream, 'content-length');
  servedHeaders(headers, served);
  Object.assign(headers, extra);
  headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(body);
}

/** Writes a sidecar error in the caller's format. */
export function sendError(
  res: ServerResponse,
  format: ClientFormat,
  code: SidecarErrorCode,
  message: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(format, code, message);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-aicb-error': code,
    ...retryHeaders(code),
  };
  for (const name in extraHeaders) headers[name] = headerSafe(extraHeaders[name] ?? '');
  res.writeHead(statusOf(code), headers);
  res.end(body);
}

/** API format to answer in when the request could not be routed to an upstream. */
export function guessFormat(url: string): ClientFormat {
  const queryAt = url.indexOf('?');
  return (queryAt === -1 ? url : url.slice(0, queryAt)).endsWith('/messages')
    ? 'anthropic'
    : 'openai';
}
