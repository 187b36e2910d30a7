/**
 * Answers for connections Node's HTTP parser gives up on before any handler runs: malformed
 * framing, headers too large, and requests that arrive too slowly. Node's defaults answer these
 * with an empty body (or hold an HTTP/0.9 line until a timeout that was off); the app then gets
 * nothing it can read. These go out as the sidecar's own JSON errors with stable codes, and
 * nothing here ever reaches an upstream or a circuit.
 */
import type { Duplex } from 'node:stream';
import { errorBody, retryHeaders, statusOf, type SidecarErrorCode } from '../client-errors.ts';
import { STATUS_CODES } from './node-http.ts';

/** Node's parser and timeout error codes, mapped to our answers. */
function answerFor(code: string | undefined): {
  readonly code: SidecarErrorCode;
  readonly status?: number;
  readonly message: string;
} {
  switch (code ?? '') {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        code: 'AICB_REQUEST_TIMEOUT',
        message:
          'The request did not arrive in time (headers within --headers-timeout, the whole request within --request-timeout).',
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        code: 'AICB_MALFORMED_HTTP',
        status: 431,
        message: 'The request headers are too large.',
      };
    default:
      return {
        code: 'AICB_MALFORMED_HTTP',
        message: `The request is not valid HTTP/1.1${code === undefined ? '' : ` (${code})`}.`,
      };
  }
}

/** The `clientError` listener of the proxy server: answer once if the socket can still take it, then close. */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const answer = answerFor(error.code);
  // A reset connection, or one whose response already started, gets no second answer. (Node's
  // own handler makes the same test on the response it attached to the socket.)
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const body = errorBody('openai', answer.code, answer.message);
  const status = answer.status ?? statusOf(answer.code);
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-aicb-error': answer.code,
    ...retryHeaders(answer.code),
    connection: 'close',
  };
  let head = `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${body}`);
}
