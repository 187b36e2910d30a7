/**
 * The request path of the sidecar, top to bottom: route the URL (request/route.ts), read the
 * body within its bounds (request/read-body.ts), read the request once
 * (request/client-request.ts), then walk the chain (chain/chain-run.ts). Every refusal is
 * answered here, before any upstream is called, in the app's API format.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChainContext } from '../chain/chain-run.ts';
import { ChainRun } from '../chain/chain-run.ts';
import { formatOfApi } from '../client-errors.ts';
import { wireApiOf } from '../providers/wire-api.ts';
import { ClientRequest } from '../request/client-request.ts';
import { hasBody, readBody, type BodyLimits } from '../request/read-body.ts';
import { endpointOf, routeRequest } from '../request/route.ts';
import { guessFormat, sendError } from '../respond/response-writer.ts';

export interface ProxyContext extends ChainContext {
  readonly body: BodyLimits;
}

export async function handleRequest(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = req.url ?? '/';
  const snapshot = ctx.runtime.snapshot;
  const refuse = (
    code: Parameters<typeof sendError>[2],
    message: string,
    format = guessFormat(url),
  ): void => {
    // A body the sidecar will not read must not be read as the next request either.
    if (hasBody(req) && !req.complete) res.shouldKeepAlive = false;
    sendError(res, format, code, message);
  };
  if (snapshot === undefined) {
    refuse('AICB_NO_POLICY', 'The sidecar has no policy yet.');
    return;
  }
  const routed = routeRequest(url, ctx.runtime.upstreamNames, snapshot.defaultUpstream);
  const requested =
    routed.kind === 'route' ? ctx.runtime.upstream(routed.route.upstream) : undefined;
  if (routed.kind === 'invalid_path') {
    refuse('AICB_INVALID_PATH', `The request path cannot be forwarded: ${routed.reason}.`);
    ctx.metrics.requests.inc({ provider: 'unknown', endpoint: 'other', result: 'rejected' });
    return;
  }
  if (routed.kind !== 'route' || requested === undefined) {
    const names = [...ctx.runtime.upstreamNames].join(', ');
    refuse(
      'AICB_UNKNOWN_UPSTREAM',
      `No upstream matches this path. Configured upstreams: ${names}. Use /{upstream}/... or /v1/... for the default (${snapshot.defaultUpstream}).`,
    );
    ctx.metrics.requests.inc({
      provider: 'unknown',
      endpoint: endpointOf(url),
      result: 'rejected',
    });
    return;
  }
  const { route } = routed;
  const api = wireApiOf(requested.provider, route.endpoint);
  const format = formatOfApi(api);
  const rejected = () => {
    ctx.metrics.requests.inc({
      provider: route.upstream,
      endpoint: route.endpoint,
      result: 'rejected',
    });
  };
  const body = await readBody(req, res, ctx.body);
  if (!body.ok) {
    if (body.code === 'aborted') {
      // The app went away mid-upload: its own doing, worth a debug line only.
      ctx.logger.debug(
        { upstream: route.upstream },
        'the app closed the request during its upload',
      );
      ctx.metrics.requests.inc({
        provider: route.upstream,
        endpoint: route.endpoint,
        result: 'cancelled',
      });
      return;
    }
    refuse(body.code, body.message, format);
    rejected();
    return;
  }
  const read = ClientRequest.read({
    method: req.method ?? 'GET',
    path: route.path,
    endpoint: route.endpoint,
    headers: req.headers,
    body: body.body,
    api,
  });
  if (!read.ok) {
    sendError(
      res,
      format,
      'AICB_INVALID_JSON',
      `The request body is not valid JSON: ${read.reason}.`,
    );
    rejected();
    return;
  }
  await new ChainRun(ctx, snapshot, res, route, requested, read.request).run();
}
