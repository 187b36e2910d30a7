/**
 * The sidecar's proxy server: Node's own HTTP server with one handler, no framework on the
 * request path (the body is read by request/read-body.ts, responses written by
 * respond/response-writer.ts). A handler exception is the sidecar's fault: logged, answered 500
 * AICB_INTERNAL, never charged to an upstream.
 */
import type { Server } from 'node:http';
import type { Logger } from '../../shared/create-logger.ts';
import { createServer } from './node-http.ts';
import { guessFormat, sendError } from '../respond/response-writer.ts';
import { answerClientError } from './client-error.ts';
import { handleRequest, type ProxyContext } from './handle-request.ts';

/** Pending connections the kernel queues for accept (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** Idle keep-alive connections live a little longer than common client pools expect. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** How long a client may take to send its request; neither bounds the response (streams). */
export interface ClientTimeouts {
  /** Headers complete within this (Node's headersTimeout). */
  readonly headersMs: number;
  /** The whole request, body included, within this (Node's requestTimeout). */
  readonly requestMs: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

export function createProxyServer(
  ctx: ProxyContext,
  logger: Logger,
  timeouts: ClientTimeouts = {
    headersMs: DEFAULT_HEADERS_TIMEOUT_MS,
    requestMs: DEFAULT_REQUEST_TIMEOUT_MS,
  },
): Server {
  const server = createServer(
    {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      // Both must be set: Node's headersTimeout defaults to min(60 s, requestTimeout), so a
      // requestTimeout of 0 switched it off and a client that sent nothing held its connection
      // forever. The check runs often enough to hold short test timeouts, and costs nothing idle.
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: Math.min(
        5_000,
        Math.max(100, (timeouts.headersMs || 20_000) / 4),
      ),
    },
    (req, res) => {
      handleRequest(ctx, req, res).catch((error: unknown) => {
        logger.error({ err: error, url: req.url }, 'request failed inside the sidecar');
        sendError(
          res,
          guessFormat(req.url ?? '/'),
          'AICB_INTERNAL',
          'The sidecar failed to handle the request.',
        );
        if (!res.writableEnded) res.destroy();
      });
    },
  );
  // Node answers malformed requests and slow clients with empty bodies; ours carry a code.
  server.on('clientError', answerClientError);
  return server;
}

/** A built server that listens when told (building never listens, so tests pick the port). */
export interface Listener {
  readonly server: Server;
  /** Listens and resolves with the URL, e.g. http://127.0.0.1:15400. */
  listen(options: { readonly host: string; readonly port: number }): Promise<string>;
  /** Stops accepting, ends idle keep-alive connections, and waits for the rest to finish. */
  close(): Promise<void>;
}

export function listener(server: Server): Listener {
  return {
    server,
    listen: ({ host, port }) =>
      new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        // A burst of new connections (hundreds of agent streams at once) must not overflow the
        // accept queue: dropped SYNs come back a second later, a hidden delay on the first byte.
        server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          server.removeListener('error', reject);
          const address = server.address();
          const bound = typeof address === 'object' && address !== null ? address.port : port;
          const shown = host.includes(':') ? `[${host}]` : host;
          resolve(`http://${shown}:${bound}`);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
