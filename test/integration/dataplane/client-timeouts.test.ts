// Clients that send too slowly or send broken HTTP: the sidecar answers them itself with a JSON
// error and a stable code, closes the connection, and never calls or charges an upstream. A
// long streaming answer is not a slow request: the request timeouts never cut it.
import type { Socket } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { rawSocket, readResponse } from '../../support/raw-http.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai', words: 4 });
  sc = await startSidecar(
    { upstreams: [{ name: 'openai', provider: 'openai', baseURL: oa.url }] },
    // The body gap timeout is longer than the request timeout, so what answers is the latter.
    { headersTimeoutMs: 400, requestTimeoutMs: 1200, bodyTimeoutMs: 5000, logLevel: 'info' },
  );
});

afterEach(async () => {
  await sc.close();
  await oa.close();
});

/** Sends `first`, then one byte of `drip` every `everyMs`, and reads what the sidecar answers. */
async function slowClient(first: string, drip = '', everyMs = 200) {
  const socket = await rawSocket(sc.url);
  const response = readResponse(socket, 8000);
  socket.write(first);
  let i = 0;
  const timer = setInterval(() => {
    if (i < drip.length && socket.writable) socket.write(drip[i++] ?? '');
  }, everyMs);
  const started = Date.now();
  try {
    const res = await response;
    return { res, ms: Date.now() - started, closed: await closedSoon(socket) };
  } finally {
    clearInterval(timer);
    socket.destroy();
  }
}

function closedSoon(socket: Socket): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      resolve(false);
    }, 2000);
    socket.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    socket.once('end', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

const expectSidecarError = (
  res: { status: number; headers: Record<string, string>; body: string },
  status: number,
  code: string,
) => {
  expect(res.status).toBe(status);
  expect(res.headers['x-aicb-error']).toBe(code);
  expect(res.headers['x-should-retry']).toBe('false');
  expect(JSON.parse(res.body)).toMatchObject({ error: { code } });
};

const circuitFailures = async () =>
  (await sc.metricsText())
    .split('\n')
    .filter((l) => l.startsWith('circuit_breaker_failures_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);

describe('slow clients', () => {
  it('answers 408 AICB_REQUEST_TIMEOUT to a connection that sends nothing', async () => {
    const { res, ms, closed } = await slowClient('');
    expectSidecarError(res, 408, 'AICB_REQUEST_TIMEOUT');
    expect(ms).toBeLessThan(3000);
    expect(closed).toBe(true);
  });

  it('answers 408 to headers dripped a byte at a time past the headers timeout', async () => {
    const { res } = await slowClient(
      'POST /openai/v1/chat',
      '/completions HTTP/1.1\r\nHost: x',
      150,
    );
    expectSidecarError(res, 408, 'AICB_REQUEST_TIMEOUT');
  });

  it('answers 408 to a body dripped slower than the request timeout allows, though no gap is long', async () => {
    const { res, ms } = await slowClient(
      'POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
      ' '.repeat(100),
      100,
    );
    expectSidecarError(res, 408, 'AICB_REQUEST_TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(oa.requests).toHaveLength(0);
    expect(await circuitFailures()).toBe(0);
  });

  it('never cuts a streaming answer that lasts longer than the request timeout', async () => {
    oa.setDefault({ type: 'stream-slow', chunkDelayMs: 250, chunks: 8 });
    const started = Date.now();
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(Date.now() - started).toBeGreaterThan(1500);
    expect(text).toContain('data: [DONE]');
    expect(text).not.toContain('AICB_');
  });
});

describe('malformed HTTP', () => {
  const cases: [string, string, number][] = [
    [
      'a bare LF inside a header value',
      'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n',
      400,
    ],
    [
      'Content-Length together with Transfer-Encoding',
      'POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ],
    [
      'bad chunk framing',
      'POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      400,
    ],
    ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
    [
      'headers larger than the server takes',
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
      431,
    ],
  ];
  for (const [name, bytes, status] of cases) {
    it(`answers ${String(status)} AICB_MALFORMED_HTTP as JSON to ${name}`, async () => {
      const { res, closed } = await slowClient(bytes);
      expectSidecarError(res, status, 'AICB_MALFORMED_HTTP');
      expect(closed).toBe(true);
      expect(oa.requests).toHaveLength(0);
    });
  }

  it('bounds an HTTP/0.9 request line by the headers timeout', async () => {
    const { res } = await slowClient('GET /\r\n');
    expect([400, 408]).toContain(res.status);
    expect(res.headers['x-aicb-error']).toMatch(/^AICB_(MALFORMED_HTTP|REQUEST_TIMEOUT)$/);
    expect(await circuitFailures()).toBe(0);
  });
});
