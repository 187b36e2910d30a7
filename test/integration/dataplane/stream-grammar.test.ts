// Each API's real stream grammar through the sidecar: the Responses API as a first-class API,
// terminators and error events recognized only as whole events (never as text inside an
// answer), CRLF and `data:` without its space, and a terminator followed by a hang or a reset.
// Every case here was a wrong verdict on the old byte-marker scanners.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let claude: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai', words: 6 });
  claude = await startFakeProvider({ api: 'anthropic', words: 6 });
  sc = await startSidecar({
    upstreams: [
      {
        name: 'openai',
        provider: 'openai',
        baseURL: oa.url,
        timeouts: { firstByte: '2s', idle: '2s', total: '10s' },
      },
      {
        name: 'anthropic',
        provider: 'anthropic',
        baseURL: claude.url,
        timeouts: { firstByte: '2s', idle: '2s', total: '10s' },
      },
    ],
    breaker: { failureThreshold: 3 },
  });
});

afterEach(async () => {
  await sc.close();
  await Promise.all([oa.close(), claude.close()]);
});

async function stateOf(upstream: string): Promise<string> {
  return (await sc.health()).providers[upstream] ?? 'unknown';
}

async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await request(`${sc.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

const chatChunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const anthropicEvent = (type: string, body: Record<string, unknown> = {}, end = '\n') =>
  `event: ${type}${end}data: ${JSON.stringify({ type, ...body })}${end}${end}`;
const textDelta = (text: string) =>
  anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
const messageStart = anthropicEvent('message_start', {
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-6',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 1 },
  },
});
const blockStart = anthropicEvent('content_block_start', {
  index: 0,
  content_block: { type: 'text', text: '' },
});
const blockStop = anthropicEvent('content_block_stop', { index: 0 });
const messageDelta = anthropicEvent('message_delta', {
  delta: { stop_reason: 'end_turn', stop_sequence: null },
  usage: { output_tokens: 9 },
});
const messageStop = anthropicEvent('message_stop');

describe('OpenAI Responses API streams', () => {
  it('passes complete streams as successes: the circuit stays closed and usage is counted', async () => {
    const client = new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });
    for (let i = 0; i < 6; i++) {
      const stream = await client.responses.create({
        model: 'gpt-4o',
        input: 'hi',
        stream: true,
      });
      const types: string[] = [];
      let text = '';
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === 'response.output_text.delta') text += event.delta;
      }
      expect(types.at(-1)).toBe('response.completed');
      expect(types).not.toContain('error');
      expect(text).toBe('The circuit is closed and the');
    }
    expect(await stateOf('openai')).toBe('closed');
    const metrics = await sc.metricsText();
    expect(metrics).toMatch(
      /aicb_requests_total\{provider="openai",endpoint="responses",result="ok"\} 6/,
    );
    expect(metrics).not.toMatch(/circuit_breaker_failures_total\{provider="openai"/);
    expect(metrics).toMatch(/aicb_tokens_total\{provider="openai",model="[^"]+",kind="input"\} 72/);
  });

  it('ends a cut Responses stream with an error event of its own API, which the SDK raises', async () => {
    oa.setDefault({ type: 'stream-cut', afterChunks: 2 });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'hi', stream: true });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const event of stream) seen.push(event.type);
      })(),
    ).rejects.toThrow(/AICB_STREAM_INTERRUPTED|broke mid-stream/);
    expect(seen).toContain('response.output_text.delta');
    expect(seen).not.toContain('response.completed');
  });

  it('treats response.incomplete as a terminator and response.failed before content as a failure', async () => {
    oa.queue({
      type: 'raw',
      chunks: [
        `event: response.created\ndata: {"type":"response.created","response":{"id":"r"}}\n\n`,
        `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"x"}\n\n`,
        `event: response.incomplete\ndata: {"type":"response.incomplete","response":{"id":"r","usage":{"input_tokens":3,"output_tokens":1}}}\n\n`,
      ],
    });
    const incomplete = await post('/openai/v1/responses', {
      model: 'gpt-4o',
      input: 'x',
      stream: true,
    });
    expect(incomplete.status).toBe(200);
    expect(incomplete.text).not.toContain('AICB_STREAM_INTERRUPTED');
    oa.queue({
      type: 'raw',
      chunks: [
        `event: response.created\ndata: {"type":"response.created","response":{"id":"r"}}\n\n`,
        `event: response.failed\ndata: {"type":"response.failed","response":{"id":"r","error":{"code":"server_error","message":"boom"}}}\n\n`,
      ],
    });
    const failed = await post('/openai/v1/responses', {
      model: 'gpt-4o',
      input: 'x',
      stream: true,
    });
    // Nothing reached the app before the failure: the provider's own events are returned whole.
    expect(failed.text).toContain('response.failed');
    expect(await sc.metricsText()).toMatch(
      /circuit_breaker_failures_total\{provider="openai",endpoint="responses",reason="stream_error"\} 1/,
    );
  });
});

describe('terminators and error events inside content', () => {
  // The upstream ends its response cleanly but early: only the grammar knows it is cut.
  it('does not let "data: [DONE]" in an OpenAI answer hide a cut stream', async () => {
    oa.queue({
      type: 'raw',
      chunks: [
        chatChunk('a'),
        chatChunk('here is the SSE end marker: data: [DONE]\n\n'),
        chatChunk('b'),
      ],
      then: 'end',
    });
    const res = await post('/openai/v1/chat/completions', {
      model: 'gpt-4o',
      stream: true,
      messages: [],
    });
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/AICB_STREAM_INTERRUPTED/);
    const client = new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });
    oa.queue({
      type: 'raw',
      chunks: [chatChunk('a'), chatChunk('data: [DONE]\n\n')],
      then: 'end',
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [],
    });
    await expect(
      (async () => {
        const chunks = [];
        for await (const chunk of stream) chunks.push(chunk);
      })(),
    ).rejects.toThrow();
  });

  it('does not let "event: message_stop" in an Anthropic answer hide a cut stream', async () => {
    claude.queue({
      type: 'raw',
      chunks: [
        messageStart,
        blockStart,
        textDelta('done:\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'),
      ],
      then: 'end',
    });
    const client = new Anthropic({ apiKey: 'k', baseURL: `${sc.url}/anthropic`, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await expect(stream.finalMessage()).rejects.toThrow(/AICB_STREAM_INTERRUPTED|broke mid-stream/);
  });

  it('counts a complete Anthropic answer that mentions "event: error" as a success', async () => {
    const client = new Anthropic({ apiKey: 'k', baseURL: `${sc.url}/anthropic`, maxRetries: 0 });
    for (let i = 0; i < 5; i++) {
      claude.queue({
        type: 'raw',
        chunks: [
          messageStart,
          blockStart,
          textDelta('a stream ends on\nevent: error\ndata: {"type":"error"}\n\n'),
          blockStop,
          messageDelta,
          messageStop,
        ],
      });
      const message = await client.messages
        .stream({
          model: 'claude-sonnet-4-6',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
        })
        .finalMessage();
      expect(message.content[0]).toMatchObject({ type: 'text' });
    }
    expect(await stateOf('anthropic')).toBe('closed');
    expect(await sc.metricsText()).not.toMatch(
      /circuit_breaker_failures_total\{provider="anthropic"/,
    );
  });
});

describe('framing', () => {
  it.each([
    ['CRLF line ends', '\r\n'],
    ['CR line ends', '\r'],
  ])('reads %s as complete streams', async (_name, end) => {
    for (let i = 0; i < 4; i++) {
      claude.queue({
        type: 'raw',
        chunks: [
          messageStart,
          blockStart,
          textDelta('hi'),
          blockStop,
          messageDelta,
          messageStop,
        ].map((e) => e.replaceAll('\n', end)),
      });
      const res = await post('/anthropic/v1/messages', {
        model: 'claude-sonnet-4-6',
        max_tokens: 5,
        stream: true,
        messages: [],
      });
      expect(res.text).not.toContain('AICB_STREAM_INTERRUPTED');
      expect(
        res.text.endsWith(`event: message_stop${end}data: {"type":"message_stop"}${end}${end}`),
      ).toBe(true);
    }
    expect(await stateOf('anthropic')).toBe('closed');
  });

  it('reads data: without its space, split across chunks anywhere', async () => {
    const text = `data:${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' } }] })}\n\ndata:[DONE]\n\n`;
    for (let i = 0; i < 4; i++) {
      oa.queue({ type: 'raw', chunks: text.match(/[\s\S]{1,7}/g) ?? [] });
      const res = await post('/openai/v1/chat/completions', {
        model: 'gpt-4o',
        stream: true,
        messages: [],
      });
      expect(res.text).toBe(text);
    }
    expect(await stateOf('openai')).toBe('closed');
  });
});

describe('after the terminator', () => {
  it.each([
    ['hangs', 'hang'],
    ['resets the connection', 'reset'],
  ] as const)(
    'ends the app response at the terminator when the upstream then %s',
    async (_n, then) => {
      for (let i = 0; i < 4; i++) {
        claude.queue({
          type: 'raw',
          chunks: [
            messageStart,
            blockStart,
            textDelta('whole'),
            blockStop,
            messageDelta,
            messageStop,
          ],
          then,
        });
        const client = new Anthropic({
          apiKey: 'k',
          baseURL: `${sc.url}/anthropic`,
          maxRetries: 0,
        });
        const started = Date.now();
        const message = await client.messages
          .stream({
            model: 'claude-sonnet-4-6',
            max_tokens: 10,
            messages: [{ role: 'user', content: 'hi' }],
          })
          .finalMessage();
        expect(message.content[0]).toMatchObject({ type: 'text', text: 'whole' });
        // Not held until the idle timeout (2 s).
        expect(Date.now() - started).toBeLessThan(1500);
      }
      expect(await stateOf('anthropic')).toBe('closed');
      expect(await sc.metricsText()).not.toMatch(
        /circuit_breaker_failures_total\{provider="anthropic"/,
      );
    },
  );
});
