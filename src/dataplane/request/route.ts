/**
 * Where an incoming request goes: `/{upstream}/rest` names an upstream, and only an unprefixed
 * `/v1/...` belongs to the default upstream (anything else is an unknown upstream: forwarding it
 * would send the app's credentials somewhere it did not address). Paths that could climb out of
 * the API's prefix on the upstream (dot segments, encoded slashes, backslashes) are refused, since
 * the sidecar adds the policy's key to them. Also sorts the path into an endpoint class, which
 * keys breakers and labels metrics (a bounded set, never the raw path).
 */
import type { EndpointClass } from '../../policy/policy-schema.ts';

export type RouteResult =
  | { readonly kind: 'route'; readonly route: RequestRoute }
  | { readonly kind: 'unknown_upstream' }
  | { readonly kind: 'invalid_path'; readonly reason: string };

export interface RequestRoute {
  /** Upstream name the request addresses. */
  readonly upstream: string;
  /** Path to send upstream, query string included, without the `/{upstream}` prefix. */
  readonly path: string;
  readonly endpoint: EndpointClass;
}

/** Splits the request URL into upstream, path and endpoint class, or says why it cannot. */
export function routeRequest(
  url: string,
  upstreams: ReadonlySet<string>,
  defaultUpstream: string,
): RouteResult {
  const unsafe = unsafePathReason(url);
  if (unsafe !== undefined) return { kind: 'invalid_path', reason: unsafe };
  const route = splitRoute(url, upstreams, defaultUpstream);
  return route === undefined ? { kind: 'unknown_upstream' } : { kind: 'route', route };
}

/** Why a request path may not be forwarded; undefined when it may. */
export function unsafePathReason(url: string): string | undefined {
  if (!url.startsWith('/')) return 'the request target must be an absolute path';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (path.includes('\\')) return 'backslashes are not allowed in the path';
  if (/%(2f|5c|00)/i.test(path)) return 'encoded slashes and NUL are not allowed in the path';
  for (const segment of path.split('/')) {
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') return 'dot segments are not allowed in the path';
  }
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c < 0x21 || c === 0x7f) return 'control characters and spaces are not allowed in the path';
  }
  return undefined;
}

function splitRoute(
  url: string,
  upstreams: ReadonlySet<string>,
  defaultUpstream: string,
): RequestRoute | undefined {
  const secondSlash = url.indexOf('/', 1);
  const queryAt = url.indexOf('?');
  const firstEnd = secondSlash === -1 ? (queryAt === -1 ? url.length : queryAt) : secondSlash;
  const first = url.slice(1, firstEnd);
  if (upstreams.has(first)) {
    const path = url.slice(firstEnd) || '/';
    return {
      upstream: first,
      path: path.startsWith('/') ? path : `/${path}`,
      endpoint: endpointOf(path),
    };
  }
  if (first === 'v1') {
    return { upstream: defaultUpstream, path: url, endpoint: endpointOf(url) };
  }
  return undefined;
}

/** Endpoint class of an OpenAI, Azure OpenAI or Anthropic path. */
export function endpointOf(path: string): EndpointClass {
  const queryAt = path.indexOf('?');
  const p = queryAt === -1 ? path : path.slice(0, queryAt);
  if (p.endsWith('/chat/completions') || p.endsWith('/messages') || p.endsWith('/completions'))
    return 'chat';
  if (p.endsWith('/embeddings')) return 'embeddings';
  if (p.includes('/images/')) return 'images';
  if (p.includes('/audio/')) return 'audio';
  if (p.endsWith('/responses')) return 'responses';
  return 'other';
}

/** The deployment name in an Azure OpenAI path (`/openai/deployments/{name}/...`), if any. */
export function azureDeploymentOf(path: string): string | undefined {
  const match = /^\/openai\/deployments\/([^/?]+)\//.exec(path);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}
