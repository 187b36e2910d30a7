// What the sidecar holds and how long: request bodies are dropped when they stall (408) and
// bounded together (503 AICB_OVERLOADED, never an OOM kill); long streams are never queued
// behind a hidden connection cap; compressed upstream answers stay readable; interrupted
// streams are counted as such; and an app that hangs up mid-upload is not an error.
import { gzipSync } from 'node:zlib';
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
    { bodyTimeoutMs: 300, maxBufferedBodyBytes: 1024 * 1024, logLevel: 'info' },
  );
});

afterEach(async () => {
  await sc.close();
  await oa.close();
});

const head = (length: number) =>
  `POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe('request bodies', () => {
  it('answers 408 AICB_BODY_TIMEOUT to a body shorter than its Content-Length', async () => {
    const socket = await rawSocket(sc.url);
    const response = readResponse(socket, 5000);
    const started = Date.now();
    socket.write(head(1000) + '{"model":"gpt-4o",');
    const res = await response;
    expect(res.status).toBe(408);
    expect(res.headers['x-aicb-error']).toBe('AICB_BODY_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(oa.requests).toHaveLength(0);
  });

  it('bounds the bytes all stalled uploads hold together with 503 AICB_OVERLOADED', async () => {
    const stalled = [];
    for (let i = 0; i < 2; i++) {
      const socket = await rawSocket(sc.url);
      socket.write(head(400 * 1024) + '{');
      stalled.push(socket);
    }
    const socket = await rawSocket(sc.url);
    const response = readResponse(socket, 5000);
    socket.write(head(400 * 1024) + '{');
    const res = await response;
    expect(res.status).toBe(503);
    expect(res.headers['x-aicb-error']).toBe('AICB_OVERLOADED');
    expect(res.headers['retry-after-ms']).toBe('1000');
    for (const s of stalled) s.destroy();
    // Once those are gone the budget is free again.
    await new Promise((r) => setTimeout(r, 50));
    const ok = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', messages: [], pad: 'x'.repeat(600 * 1024) }),
    });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  it('logs an app that hangs up during its upload at debug level, not as a sidecar failure', async () => {
    const socket = await rawSocket(sc.url);
    socket.write(head(5000) + '{"model":');
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(sc.logs.join('')).not.toMatch(/"level":(50|"error")/);
    expect(await sc.metricsText()).toMatch(
      /aicb_requests_total\{provider="openai",endpoint="chat",result="cancelled"\} 1/,
    );
  });
});

describe('streams and connections', () => {
  it('opens every one of 600 concurrent slow streams to the provider at once (no hidden queue)', async () => {
    // Each stream lasts 2 s, far longer than opening all of them takes even on a loaded machine.
    oa.setDefault({ type: 'stream-slow', chunkDelayMs: 2000, chunks: 1 });
    const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] });
    let maxOpen = 0;
    const sampler = setInterval(() => {
      maxOpen = Math.max(maxOpen, oa.open);
    }, 10);
    const results = await Promise.all(
      Array.from({ length: 600 }, async () => {
        const res = await request(`${sc.url}/openai/v1/chat/completions`, { method: 'POST', body });
        return (await res.body.text()).includes('data: [DONE]');
      }),
    );
    clearInterval(sampler);
    expect(results.every(Boolean)).toBe(true);
    expect(maxOpen).toBe(600);
  });

  it("refuses a call past the upstream's maxConnections at once with 503 AICB_CONNECTION_LIMIT", async () => {
    sc.apply({
      upstreams: [{ name: 'openai', provider: 'openai', baseURL: oa.url, maxConnections: 2 }],
    });
    oa.setDefault({ type: 'stream-slow', chunkDelayMs: 300, chunks: 2 });
    const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] });
    const open = await Promise.all(
      [0, 1].map(() => request(`${sc.url}/openai/v1/chat/completions`, { method: 'POST', body })),
    );
    const started = Date.now();
    const refused = await request(`${sc.url}/openai/v1/chat/completions`, { method: 'POST', body });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['x-aicb-error']).toBe('AICB_CONNECTION_LIMIT');
    expect(refused.headers['retry-after-ms']).toBe('1000');
    await refused.body.dump();
    expect(Date.now() - started).toBeLessThan(200);
    for (const res of open) expect(await res.body.text()).toContain('data: [DONE]');
    // Not the provider's fault: its circuit saw nothing.
    const metrics = await sc.metricsText();
    expect(metrics).toMatch(/aicb_connection_limited_total\{provider="openai"\} 1/);
    expect(metrics).not.toMatch(/circuit_breaker_failures_total\{provider="openai"/);
  });

  it('counts a stream cut after content as interrupted, not ok', async () => {
    oa.setDefault({ type: 'stream-cut', afterChunks: 1 });
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] }),
    });
    expect(await res.body.text()).toContain('AICB_STREAM_INTERRUPTED');
    const metrics = await sc.metricsText();
    expect(metrics).toMatch(
      /aicb_requests_total\{provider="openai",endpoint="chat",result="interrupted"\} 1/,
    );
    expect(metrics).not.toMatch(/aicb_requests_total\{[^}]*result="ok"\}/);
  });
});

describe('encodings', () => {
  it('keeps a gzip answer readable when the upstream compresses despite identity', async () => {
    const answer = JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      choices: [],
      usage: { prompt_tokens: 2, completion_tokens: 3 },
    });
    oa.queue({
      type: 'raw',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      chunks: [gzipSync(answer)],
    });
    // fetch decodes what the header says, as the SDKs' clients do.
    const res = await fetch(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(answer));
  });

  it('keeps the content-encoding of an error body it cannot decode, so the app is not misled', async () => {
    oa.queue({
      type: 'raw',
      status: 500,
      headers: { 'content-type': 'application/json', 'content-encoding': 'x-unknown' },
      chunks: ['opaque bytes'],
    });
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-encoding']).toBe('x-unknown');
    expect(await res.body.text()).toBe('opaque bytes');
  });

  it('decodes a gzip event stream to read its grammar, and sends it plain', async () => {
    const stream =
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'hi' } }] })}\n\n` +
      'data: [DONE]\n\n';
    const zipped = gzipSync(stream);
    oa.queue({
      type: 'raw',
      headers: { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' },
      chunks: [zipped.subarray(0, 10), zipped.subarray(10)],
    });
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [] }),
    });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(await res.body.text()).toBe(stream);
    expect((await sc.health()).providers.openai).toBe('closed');
  });
});
