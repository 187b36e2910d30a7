// A real HTTP receiver on 127.0.0.1 (port 0) that records what alert deliveries look like on
// the wire and answers as a scripted webhook or Slack endpoint would.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../support/free-port.ts';

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** True when the sender closed the connection before we answered. */
  abortedBySender: boolean;
}

/** How to answer request number `index` (from 0). */
export type Reply = { readonly status: number; readonly body?: string } | 'hang';

export interface AlertReceiver {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startAlertReceiver(
  reply: (request: ReceivedRequest, index: number) => Reply = () => ({ status: 200, body: 'ok' }),
): Promise<AlertReceiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        abortedBySender: false,
      };
      const index = requests.length;
      requests.push(received);
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      res.on('close', () => {
        if (!res.writableEnded) received.abortedBySender = true;
      });
      const answer = reply(received, index);
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'content-type': 'text/plain' });
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    waitForRequests: (count) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export const deadPort = freePort;
