/** Splitting an upstream's baseURL into the origin its connection pool dials and a path prefix. */

/** Origin (scheme, host, port) of a base URL, for its connection pool. */
export function originOf(baseURL: string): string {
  const pathStart = pathStartOf(baseURL);
  return pathStart === -1 ? baseURL : baseURL.slice(0, pathStart);
}

/** Request path on an upstream: the base URL's own path prefix plus the API path. */
export function joinPath(baseURL: string, path: string): string {
  const pathStart = pathStartOf(baseURL);
  return (pathStart === -1 ? '' : baseURL.slice(pathStart)) + path;
}

function pathStartOf(baseURL: string): number {
  return baseURL.indexOf('/', baseURL.indexOf('://') + 3);
}
