import { describe, expect, it } from 'vitest';
import { usageFromBody, withStreamUsage } from '../../../src/dataplane/cost/usage.ts';

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

describe('withStreamUsage', () => {
  it('asks for the usage chunk on a streaming request that did not, without mutating it', () => {
    const body = { model: 'gpt-4o', stream: true, messages: [] };
    const result = withStreamUsage(body);
    expect(result.added).toBe(true);
    expect(result.body).toEqual({ ...body, stream_options: { include_usage: true } });
    expect(body).not.toHaveProperty('stream_options');
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
    });
    expect(body.stream_options.include_usage).toBe(false);
  });

  it.each([
    ['already asked', { stream: true, stream_options: { include_usage: true } }],
    ['not streaming', { stream: false }],
    ['stream unset', { model: 'gpt-4o' }],
  ])('returns the body itself when %s', (_name, body: Record<string, unknown>) => {
    const result = withStreamUsage(body);
    expect(result.added).toBe(false);
    expect(result.body).toBe(body);
  });
});
