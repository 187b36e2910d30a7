import { createServer, type AddressInfo } from 'node:net';

/**
 * A port free on 127.0.0.1 right now: bound, then released. Nothing listens on it afterwards, so
 * it serves both as a port to start a server on and as a dead address to connect to.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}
