import { describe, expect, it } from 'vitest';
import {
  BodyTail,
  USAGE_TAIL_BYTES,
  usageFromTail,
  type Usage,
  type UsageFormat,
} from '../../../src/dataplane/cost/usage.ts';
import { ClientRequest } from '../../../src/dataplane/request/client-request.ts';

/** A whole answer passed through the tail an attempt keeps, in chunks of `chunkBytes`. */
function usageFromBody(format: UsageFormat, body: Buffer, chunkBytes = 1000): Usage | undefined {
  const tail = new BodyTail();
  for (let at = 0; at < body.length; at += chunkBytes)
    tail.push(body.subarray(at, at + chunkBytes));
  return tail.usage(format);
}

function streamingRequest(body: Record<string, unknown>): ClientRequest {
  const read = ClientRequest.read({
    method: 'POST',
    path: '/v1/chat/completions',
    endpoint: 'chat',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
    api: 'openai-chat',
  });
  if (!read.ok) throw new Error(read.reason);
  return read.request;
}

function withStreamUsage(body: Record<string, unknown>): {
  body: unknown;
  added: boolean;
  same: boolean;
} {
  const request = streamingRequest(body);
  const result = request.withStreamUsage(request.body);
  return {
    body: result.body === null ? null : JSON.parse(result.body.toString()),
    added: result.added,
    same: result.body === request.body,
  };
}

const json = (value: unknown, indent?: number) => Buffer.from(JSON.stringify(value, null, indent));

// Shapes as the providers send them (the fake provider's and the SDK types').
const openaiCompletion = {
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion',
  created: 1_764_000_000,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hi! "usage": {"x": 1}', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 1117,
    completion_tokens: 46,
    total_tokens: 1163,
    prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
  service_tier: 'default',
  system_fingerprint: 'fp_f9f4fb6dbf',
};

const anthropicMessage = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku-4-5-20251001',
  content: [
    { type: 'text', text: 'Logging it.' },
    // A tool input is a real object and may hold its own "usage" key.
    { type: 'tool_use', id: 'toolu_01', name: 'log', input: { usage: { input_tokens: 999 } } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: {
    input_tokens: 472,
    cache_creation_input_tokens: 30,
    cache_read_input_tokens: 100,
    cache_creation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 0 },
    output_tokens: 89,
    server_tool_use: { web_search_requests: 0 },
    service_tier: 'standard',
  },
};

describe('usageFromBody', () => {
  it('reads OpenAI prompt and completion tokens (cached tokens are inside prompt_tokens)', () => {
    expect(usageFromBody('openai', json(openaiCompletion))).toEqual({
      inputTokens: 1117,
      outputTokens: 46,
    });
  });

  it('counts Anthropic cache writes and reads as input, ignoring a tool input named usage', () => {
    expect(usageFromBody('anthropic', json(anthropicMessage))).toEqual({
      inputTokens: 602,
      outputTokens: 89,
    });
  });

  it('reads pretty-printed bodies', () => {
    expect(usageFromBody('anthropic', json(anthropicMessage, 2))).toEqual({
      inputTokens: 602,
      outputTokens: 89,
    });
    expect(usageFromBody('openai', json(openaiCompletion, 4))?.outputTokens).toBe(46);
  });

  it('reads embeddings usage (no output tokens) without parsing the vectors', () => {
    const body = json({
      object: 'list',
      data: Array.from({ length: 50 }, (_, index) => ({
        object: 'embedding',
        index,
        embedding: Array.from({ length: 256 }, (_v, i) => i / 1000),
      })),
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    expect(usageFromBody('openai', body)).toEqual({ inputTokens: 4, outputTokens: 0 });
  });

  it('reads the fake provider answers', () => {
    const openai = { choices: [], usage: { prompt_tokens: 12, completion_tokens: 5 } };
    const anthropic = { content: [], usage: { input_tokens: 12, output_tokens: 5 } };
    expect(usageFromBody('openai', json(openai))).toEqual({ inputTokens: 12, outputTokens: 5 });
    expect(usageFromBody('anthropic', json(anthropic))).toEqual({
      inputTokens: 12,
      outputTokens: 5,
    });
  });

  it.each([
    ['no usage', { id: 'x', choices: [] }],
    ['a null usage', { choices: [], usage: null }],
    ['usage only as a string value', { choices: [], note: 'usage', tag: '"usage"' }],
    ['a usage object without counts', { choices: [], usage: { total: 'n/a' } }],
    ['an error body', { error: { message: 'fake openai error 500', type: 'server_error' } }],
  ])('is undefined for %s', (_name, body) => {
    expect(usageFromBody('openai', json(body))).toBeUndefined();
  });

  it('is undefined for bodies that are not JSON or are cut inside the usage object', () => {
    expect(usageFromBody('openai', Buffer.from(''))).toBeUndefined();
    expect(usageFromBody('openai', Buffer.from('"usage"'))).toBeUndefined();
    const whole = JSON.stringify(openaiCompletion);
    const cut = whole.slice(0, whole.indexOf('"total_tokens"'));
    expect(usageFromBody('openai', Buffer.from(cut))).toBeUndefined();
  });

  it('skips a "usage" string value that follows the usage key', () => {
    const body = Buffer.from('{"usage":{"prompt_tokens":3,"completion_tokens":4},"x":"usage"}');
    expect(usageFromBody('openai', body)).toEqual({ inputTokens: 3, outputTokens: 4 });
  });

  it('ignores malformed counts rather than trusting them', () => {
    const body = json({ usage: { prompt_tokens: -5, completion_tokens: 2.5, total_tokens: 1 } });
    expect(usageFromBody('openai', body)).toBeUndefined();
    const half = json({ usage: { prompt_tokens: 7, completion_tokens: 'many' } });
    expect(usageFromBody('openai', half)).toEqual({ inputTokens: 7, outputTokens: 0 });
  });
});

describe('BodyTail', () => {
  it('finds the usage of a body far longer than its window, whatever the chunk size', () => {
    const body = json({
      object: 'list',
      data: [{ embedding: Array.from({ length: 20_000 }, (_, i) => i / 7) }],
      usage: { prompt_tokens: 8, total_tokens: 8 },
    });
    expect(body.length).toBeGreaterThan(USAGE_TAIL_BYTES * 4);
    for (const size of [1, 999, 16_384, body.length])
      expect(usageFromBody('openai', body, size)).toEqual({ inputTokens: 8, outputTokens: 0 });
  });

  it('reads a usage object in the tail directly', () => {
    expect(
      usageFromTail('anthropic', Buffer.from('"usage":{"input_tokens":1,"output_tokens":2}}')),
    ).toEqual({
      inputTokens: 1,
      outputTokens: 2,
    });
  });
});

describe('ClientRequest.withStreamUsage', () => {
  it('asks for the usage chunk on a streaming request that did not, splicing the bytes', () => {
    const body = { model: 'gpt-4o', stream: true, messages: [] };
    const result = withStreamUsage(body);
    expect(result.added).toBe(true);
    expect(result.body).toEqual({ ...body, stream_options: { include_usage: true } });
  });

  it('keeps other stream options and overrides an explicit false', () => {
    const body = {
      stream: true,
      stream_options: { include_usage: false, include_obfuscation: false },
    };
    const result = withStreamUsage(body);
    expect(result).toEqual({
      body: { stream: true, stream_options: { include_usage: true, include_obfuscation: false } },
      added: true,
      same: false,
    });
  });

  it.each([
    ['already asked', { stream: true, stream_options: { include_usage: true } }],
    ['not streaming', { stream: false }],
    ['stream unset', { model: 'gpt-4o' }],
  ])('returns the body itself when %s', (_name, body: Record<string, unknown>) => {
    const result = withStreamUsage(body);
    expect(result.added).toBe(false);
    expect(result.same).toBe(true);
  });
});
