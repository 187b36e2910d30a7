/**
 * Where an incoming request goes: `/{upstream}/rest` names an upstream, anything else belongs to
 * the default upstream. Also sorts the path into an endpoint class, which keys breakers and
 * labels metrics (a bounded set, never the raw path).
 */
import type { EndpointClass } from '../policy/policy-schema.ts';

export interface RequestRoute {
  /** Upstream name the request addresses. */
  readonly upstream: string;
  /** Path to send upstream, query string included, without the `/{upstream}` prefix. */
  readonly path: string;
  readonly endpoint: EndpointClass;
}

/**
 * Splits the request URL. Returns undefined when the first segment is neither a configured
 * upstream nor a path the default upstream can serve (`/v1/...`, `/openai/...`).
 */
export function routeRequest(
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
  if (first === 'v1' || first === 'openai') {
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
