// A client that writes exactly the bytes it is given, for requests no well-behaved HTTP client
// sends: dot segments, bodies shorter than their Content-Length, stalled uploads.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Opens a socket to `url`'s host and port. */
export function rawSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads one response (the server closes or sends Content-Length bytes). */
export function readResponse(socket: Socket, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms: ${data.toString()}`));
    }, timeoutMs);
    const tryParse = (final: boolean): boolean => {
      const headEnd = data.indexOf('\r\n\r\n');
      if (headEnd === -1) return false;
      const lines = data.subarray(0, headEnd).toString('latin1').split('\r\n');
      const status = Number(lines[0]?.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = data.subarray(headEnd + 4);
      const length = headers['content-length'];
      if (length !== undefined && body.length < Number(length)) return false;
      if (length === undefined && !final) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        status,
        headers,
        body: (length === undefined ? body : body.subarray(0, Number(length))).toString('utf8'),
      });
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse(false);
    });
    socket.on('end', () => {
      if (!tryParse(true)) {
        clearTimeout(timer);
        reject(new Error(`connection closed without a response: ${data.toString()}`));
      }
    });
    socket.on('error', () => undefined);
  });
}

/** Sends `head` (and an optional body) as-is and reads the response. */
export async function rawRequest(url: string, head: string, body = ''): Promise<RawResponse> {
  const socket = await rawSocket(url);
  const response = readResponse(socket);
  socket.write(head + body);
  return response;
}
