/**
 * The sidecar's admin port (health, readiness, circuit health, metrics): four GET routes on
 * Node's own HTTP server. Kept off a framework because the sidecar runs in every pod, and a
 * framework loaded for four routes costs every pod its memory.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/create-logger.ts';
import { createServer } from './node-http.ts';

/** What a route answers: a status and a JSON value, or a status and text of a content type. */
export type AdminAnswer =
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly text: string; readonly contentType: string };

export type AdminRoutes = Readonly<Record<string, () => AdminAnswer | Promise<AdminAnswer>>>;

export function createAdminServer(routes: AdminRoutes, logger: Logger): Server {
  return createServer((req, res) => {
    const queryAt = (req.url ?? '/').indexOf('?');
    const path = queryAt === -1 ? (req.url ?? '/') : (req.url ?? '/').slice(0, queryAt);
    const route = routes[path];
    if (route === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      send(res, route === undefined ? 404 : 405, { json: { status: 'not found' } });
      return;
    }
    Promise.resolve()
      .then(route)
      .then(
        (answer) => {
          send(res, answer.status, answer);
        },
        (error: unknown) => {
          logger.error({ err: error, path }, 'admin request failed');
          send(res, 500, { json: { status: 'error' } });
        },
      );
  });
}

function send(
  res: ServerResponse,
  status: number,
  answer: { readonly json: unknown } | { readonly text: string; readonly contentType: string },
): void {
  const body = 'json' in answer ? JSON.stringify(answer.json) : answer.text;
  res.writeHead(status, {
    'content-type': 'json' in answer ? 'application/json; charset=utf-8' : answer.contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
