// Streams through the sidecar: byte-for-byte passthrough, fallback when a stream fails before
// any content, an honest error when it breaks after content, and hung or slow providers.
import { request } from 'undici';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let primary: FakeProvider;
let backup: FakeProvider;
let claude: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  primary = await startFakeProvider({ api: 'openai', words: 8 });
  backup = await startFakeProvider({ api: 'openai', words: 8 });
  claude = await startFakeProvider({ api: 'anthropic', words: 8 });
  sc = await startSidecar(
    {
      upstreams: [
        {
          name: 'openai',
          provider: 'openai',
          baseURL: primary.url,
          timeouts: { firstByte: '300ms', idle: '300ms', total: '5s' },
        },
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: backup.url,
          apiKey: { env: 'BACKUP_KEY' },
        },
        { name: 'anthropic', provider: 'anthropic', baseURL: claude.url },
      ],
      breaker: { failureThreshold: 3 },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
    },
    { env: { BACKUP_KEY: 'sk-backup-key-1234' } },
  );
});

afterEach(async () => {
  await sc.close();
  await Promise.all([primary.close(), backup.close(), claude.close()]);
});

const body = JSON.stringify({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content: 'hi' }],
});

async function rawStream(
  url: string,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const res = await request(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

function openai(): OpenAI {
  return new OpenAI({ apiKey: 'sk-app', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });
}

describe('streaming through the sidecar', () => {
  it('passes an OpenAI stream through byte for byte', async () => {
    const direct = await rawStream(`${primary.url}/v1/chat/completions`);
    const proxied = await rawStream(`${sc.url}/openai/v1/chat/completions`);
    // Ids carry a per-request counter in the fake; normalise it and compare everything else.
    const normalise = (t: string) => t.replace(/chatcmpl-fake\d+/g, 'chatcmpl-fakeN');
    expect(proxied.status).toBe(200);
    expect(normalise(proxied.text)).toBe(normalise(direct.text));
    expect(proxied.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(proxied.headers['x-aicb-upstream']).toBe('openai');
  });

  it('delivers a streamed answer to the OpenAI SDK chunk by chunk', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      chunks++;
    }
    expect(text).toBe('The circuit is closed and the answer arrives');
    expect(chunks).toBe(10);
  });

  it('passes an Anthropic stream to the Anthropic SDK', async () => {
    const anthropic = new Anthropic({
      apiKey: 'sk-ant-app',
      baseURL: `${sc.url}/anthropic`,
      maxRetries: 0,
    });
    const stream = anthropic.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const message = await stream.finalMessage();
    expect(message.content[0]).toMatchObject({
      type: 'text',
      text: 'The circuit is closed and the answer arrives',
    });
    expect(message.stop_reason).toBe('end_turn');
    // The app's own credentials reach its own provider untouched.
    expect(claude.requests[0]?.headers.authorization).toBe('Bearer sk-ant-app');
  });

  it('falls back when the stream starts with an error event, before any content reached the app', async () => {
    primary.queue({ type: 'stream-error-first' });
    const proxied = await rawStream(`${sc.url}/openai/v1/chat/completions`);
    expect(proxied.status).toBe(200);
    expect(proxied.headers['x-aicb-attempts']).toBe('openai:stream_error,backup:200');
    expect(proxied.text).not.toContain('"error"');
    expect(proxied.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('falls back while streaming when the primary answers 500', async () => {
    primary.queue({ type: 'status', status: 500 });
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('The circuit is closed and the answer arrives');
    expect(backup.requests).toHaveLength(1);
  });

  it('ends a stream cut mid-way with an error event, never a clean finish, and counts a failure', async () => {
    primary.queue({ type: 'stream-cut', afterChunks: 3 });
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(text).toBe('The circuit is ');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toMatch(/broke mid-stream/);
    // Bytes had reached the app, so the sidecar did not switch to the backup.
    expect(backup.requests).toHaveLength(0);
    expect(await sc.metricsText()).toContain(
      'circuit_breaker_failures_total{provider="openai",endpoint="chat",reason="connection_error"} 1',
    );
  });

  it('ends an Anthropic stream cut mid-way with an Anthropic error event', async () => {
    claude.queue({ type: 'stream-cut', afterChunks: 2 });
    const proxied = await request(`${sc.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'k',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'claude-sonnet-4-6',
        max_tokens: 10,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    const text = await proxied.body.text();
    expect(text).toContain('event: content_block_delta');
    expect(text).not.toContain('event: message_stop');
    expect(text.trimEnd().split('\n\n').at(-1)).toMatch(
      /^event: error\ndata: \{"type":"error","error":\{"type":"api_error",.*"code":"AICB_STREAM_INTERRUPTED"/,
    );
  });

  it('falls back from a provider that never sends headers (first-byte timeout)', async () => {
    primary.queue({ type: 'hang' });
    const started = performance.now();
    const { response } = await openai()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(response.headers.get('x-aicb-attempts')).toBe('openai:first_byte_timeout,backup:200');
  });

  it('ends a stream that stalls after content (idle timeout) with an error', async () => {
    primary.queue({ type: 'stream-slow', chunkDelayMs: 2000, chunks: 4 });
    const proxied = await rawStream(`${sc.url}/openai/v1/chat/completions`);
    expect(proxied.text).toContain('"content":"The "');
    expect(proxied.text).toContain('AICB_STREAM_INTERRUPTED');
    expect(proxied.text).not.toContain('[DONE]');
  });

  it('aborts the upstream call when the app goes away, without counting a failure', async () => {
    primary.queue({ type: 'stream-slow', chunkDelayMs: 100, chunks: 50 });
    const controller = new AbortController();
    const stream = await openai().chat.completions.create(
      { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { signal: controller.signal },
    );
    let chunks = 0;
    await (async () => {
      for await (const chunk of stream) {
        expect(chunk.object).toBe('chat.completion.chunk');
        if (++chunks === 3) controller.abort();
      }
    })().catch(() => undefined);
    // The provider sees its connection closed well before the 5 s the stream would take.
    const deadline = Date.now() + 2000;
    while (primary.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(primary.open).toBe(0);
    const metrics = await sc.metricsText();
    expect(metrics).not.toContain('circuit_breaker_failures_total{provider="openai"');
    expect(metrics).toContain(
      'aicb_upstream_duration_seconds_count{provider="openai",endpoint="chat",outcome="ignored"} 1',
    );
  });
});
