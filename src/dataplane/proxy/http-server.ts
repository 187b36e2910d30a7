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
import { handleRequest, type ProxyContext } from './handle-request.ts';

/** Pending connections the kernel queues for accept (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** Idle keep-alive connections live a little longer than common client pools expect. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function createProxyServer(ctx: ProxyContext, logger: Logger): Server {
  const server = createServer(
    { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, requestTimeout: 0 },
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
  // LLM calls are long; the policy's upstream timeouts bound them, and request bodies are bounded
  // by read-body.ts, so the server's own request timeout stays off.
  server.requestTimeout = 0;
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
