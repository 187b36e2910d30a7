// A stream that fails before any content reached the app is never presented as an answer: an
// empty 200 stream, one of only comments or pings, or one that is not a stream of its API at
// all is a failure of that target. The chain falls back when a target is left; when none is,
// the app gets the previous upstream's error, or a 502 with a stable code — never a 200.
import OpenAI from 'openai';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let oa2: FakeProvider;
let an: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai', words: 4 });
  oa2 = await startFakeProvider({ api: 'openai', words: 4 });
  an = await startFakeProvider({ api: 'anthropic', words: 4 });
  sc = await startSidecar(
    {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: oa.url, apiKey: { env: 'OA_KEY' } },
        { name: 'oa2', provider: 'openai', baseURL: oa2.url, apiKey: { env: 'OA2_KEY' } },
        { name: 'solo', provider: 'openai', baseURL: oa.url, apiKey: { env: 'OA_KEY' } },
        { name: 'claude', provider: 'anthropic', baseURL: an.url, apiKey: { env: 'AN_KEY' } },
      ],
      breaker: { failureThreshold: 10 },
      fallbacks: [
        { from: 'oa2', to: [{ upstream: 'openai' }] },
        { from: 'openai', to: [{ upstream: 'claude', modelMap: { '*': 'claude-haiku-4-5' } }] },
      ],
    },
    { env: { OA_KEY: 'sk-oa-policy-key', OA2_KEY: 'sk-oa2-policy-key', AN_KEY: 'sk-ant-key' } },
  );
});

afterEach(async () => {
  await sc.close();
  await Promise.all([oa.close(), oa2.close(), an.close()]);
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

async function post(path: string, body: Record<string, unknown>): Promise<Answer> {
  const res = await request(`${sc.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer sk-app',
      'x-api-key': 'sk-app',
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const chat = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] };
const messages = {
  model: 'claude-haiku-4-5',
  max_tokens: 20,
  stream: true,
  messages: [{ role: 'user', content: 'hi' }],
};
const ping = 'event: ping\ndata: {"type": "ping"}\n\n';

/** Bodies of 200 event streams that end before any content. */
const EMPTY_STREAMS: readonly [string, readonly string[]][] = [
  ['an empty body', []],
  ['only keep-alive comments', [': keepalive\n\n', ': keepalive\n\n']],
  [
    'only a chunk without choices',
    ['data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}\n\n'],
  ],
];

async function failures(provider: string): Promise<string | undefined> {
  const text = await sc.metricsText();
  return new RegExp(
    `circuit_breaker_failures_total\\{provider="${provider}",endpoint="chat",reason="stream_error"\\} (\\d+)`,
  ).exec(text)?.[1];
}

describe('a stream without content from the last target', () => {
  it.each(EMPTY_STREAMS)(
    'returns the previous upstream error, not a 200, for %s (same API)',
    async (_name, chunks) => {
      oa2.queue({ type: 'status', status: 503 });
      oa.queue({ type: 'raw', status: 200, chunks, then: 'end' });
      const answer = await post('/oa2/v1/chat/completions', { ...chat });
      expect(answer.status).toBe(503);
      expect(answer.headers['x-aicb-attempts']).toBe('oa2:503,openai:stream_error');
      expect(answer.headers['content-type']).toMatch(/application\/json/);
      expect(answer.text).toContain('"error"');
      expect(await failures('openai')).toBe('1');
    },
  );

  it('returns the previous upstream error for a translated stream of only pings', async () => {
    oa.queue({ type: 'status', status: 503 });
    an.queue({ type: 'raw', status: 200, chunks: [ping, ping], then: 'end' });
    const answer = await post('/openai/v1/chat/completions', { ...chat });
    expect(answer.status).toBe(503);
    expect(answer.headers['x-aicb-attempts']).toBe('openai:503,claude:stream_error');
    expect(answer.text).not.toContain('ping');
  });

  it.each(EMPTY_STREAMS)(
    'answers a single target 502 AICB_UPSTREAM_UNAVAILABLE for %s',
    async (_name, chunks) => {
      oa.queue({ type: 'raw', status: 200, chunks, then: 'end' });
      const answer = await post('/solo/v1/chat/completions', { ...chat });
      expect(answer.status).toBe(502);
      expect(answer.headers['x-aicb-error']).toBe('AICB_UPSTREAM_UNAVAILABLE');
      expect(answer.headers['x-aicb-attempts']).toBe('solo:stream_error');
      expect(JSON.parse(answer.text)).toMatchObject({
        error: { code: 'AICB_UPSTREAM_UNAVAILABLE', type: 'server_error' },
      });
    },
  );

  it('answers an Anthropic app 502 in its own API for a stream of only pings', async () => {
    an.queue({ type: 'raw', status: 200, chunks: [ping], then: 'end' });
    const answer = await post('/claude/v1/messages', { ...messages });
    expect(answer.status).toBe(502);
    expect(answer.headers['x-aicb-attempts']).toBe('claude:stream_error');
    expect(JSON.parse(answer.text)).toMatchObject({
      type: 'error',
      error: { type: 'api_error', code: 'AICB_UPSTREAM_UNAVAILABLE' },
    });
  });

  it('makes the OpenAI SDK raise instead of iterating no chunks', async () => {
    oa.queue({ type: 'raw', status: 200, chunks: [], then: 'end' });
    const client = new OpenAI({ apiKey: 'sk-app', baseURL: `${sc.url}/solo/v1`, maxRetries: 0 });
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 502, code: 'AICB_UPSTREAM_UNAVAILABLE' });
  });

  it('still falls back when another target is left', async () => {
    oa2.queue({ type: 'raw', status: 200, chunks: [': keepalive\n\n'], then: 'end' });
    const answer = await post('/oa2/v1/chat/completions', { ...chat });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-aicb-attempts']).toBe('oa2:stream_error,openai:200');
    expect(answer.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});

const chunk = (choices: unknown[]) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices })}\n\n`;
const textChunk = (content: string) =>
  chunk([{ index: 0, delta: { content }, finish_reason: null }]);

describe('an answer that is not a stream of its API, before any content', () => {
  it('falls back from a first event that is not JSON, and counts it against that target', async () => {
    oa2.queue({ type: 'raw', chunks: ['data: {not json\n\n', textChunk('x'), 'data: [DONE]\n\n'] });
    const client = new OpenAI({ apiKey: 'sk-app', baseURL: `${sc.url}/oa2/v1`, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    expect(text).toBe('The circuit is closed');
    expect(response.headers.get('x-aicb-attempts')).toBe('oa2:stream_error,openai:200');
    expect(await failures('oa2')).toBe('1');
  });

  it('falls back from a JSON answer to a streaming request', async () => {
    const completion = JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
    });
    oa2.queue({
      type: 'raw',
      headers: { 'content-type': 'application/json' },
      chunks: [completion],
    });
    const answer = await post('/oa2/v1/chat/completions', { ...chat });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-aicb-attempts']).toBe('oa2:stream_error,openai:200');
    expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(answer.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it.each([
    ['a first event that is not JSON', ['data: {not json\n\n', textChunk('x')]],
    ['a chunk without choices', ['data: {"id":"c"}\n\n']],
    ['a terminator before any content', ['data: [DONE]\n\n']],
  ])('answers a single target 502, not 200, for %s', async (_name, chunks) => {
    oa.queue({ type: 'raw', chunks, then: 'end' });
    const answer = await post('/solo/v1/chat/completions', { ...chat });
    expect(answer.status).toBe(502);
    expect(answer.headers['x-aicb-attempts']).toBe('solo:stream_error');
    expect(answer.headers['x-aicb-error']).toBe('AICB_UPSTREAM_UNAVAILABLE');
  });

  it('refuses an Anthropic stream whose content comes before message_start', async () => {
    an.queue({
      type: 'raw',
      chunks: [
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}\n\n',
      ],
    });
    const answer = await post('/claude/v1/messages', { ...messages });
    expect(answer.status).toBe(502);
    expect(answer.headers['x-aicb-attempts']).toBe('claude:stream_error');
  });

  it('holds an opening chunk without choices (Azure prompt_filter_results) and passes it on', async () => {
    const filter = chunk([]);
    oa.queue({
      type: 'raw',
      chunks: [filter, textChunk('a'), textChunk('b'), 'data: [DONE]\n\n'],
    });
    const answer = await post('/solo/v1/chat/completions', { ...chat });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(filter + textChunk('a') + textChunk('b') + 'data: [DONE]\n\n');
  });
});
