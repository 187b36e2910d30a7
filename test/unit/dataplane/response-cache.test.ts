import { describe, expect, it } from 'vitest';
import { replayAsStream } from '../../../src/dataplane/providers/replay-as-stream.ts';
import { ResponseCache } from '../../../src/dataplane/response-cache.ts';
import { ManualClock } from '../../../src/shared/clock.ts';

const config = { enabled: true, ttlMs: 60_000, maxEntries: 3, maxBytes: 4096 };
const entry = (text: string) => ({
  status: 200,
  body: Buffer.from(text),
  contentType: 'application/json',
  upstream: 'openai',
  model: 'gpt-4o',
});

describe('ResponseCache', () => {
  it('keys by upstream, format, path and body, ignoring delivery-only fields and key order', () => {
    const cache = new ResponseCache(config, new ManualClock());
    const a = cache.keyFor('openai', 'openai', '/v1/chat/completions', {
      model: 'm',
      messages: [1],
      stream: true,
    });
    const b = cache.keyFor('openai', 'openai', '/v1/chat/completions?x=1', {
      messages: [1],
      model: 'm',
      stream_options: {},
    });
    expect(a).toBe(b);
    expect(
      cache.keyFor('openai', 'openai', '/v1/chat/completions', { model: 'm', messages: [2] }),
    ).not.toBe(a);
    expect(
      cache.keyFor('azure', 'openai', '/v1/chat/completions', { model: 'm', messages: [1] }),
    ).not.toBe(a);
    expect(cache.keyFor('openai', 'openai', '/v1/chat/completions', undefined)).toBeUndefined();
  });

  it('serves entries only while fresh', () => {
    const clock = new ManualClock();
    const cache = new ResponseCache(config, clock);
    cache.set('k', entry('{}'));
    clock.advance(60_000);
    expect(cache.get('k')?.body.toString()).toBe('{}');
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used beyond maxEntries or maxBytes, and refuses oversized bodies', () => {
    const cache = new ResponseCache(config, new ManualClock());
    cache.set('a', entry('a'));
    cache.set('b', entry('b'));
    cache.set('c', entry('c'));
    cache.get('a');
    cache.set('d', entry('d'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    cache.set('huge', entry('x'.repeat(2000))); // > 25% of maxBytes
    expect(cache.get('huge')).toBeUndefined();
    const small = new ResponseCache(
      { ...config, maxEntries: 100, maxBytes: 2048 },
      new ManualClock(),
    );
    for (let i = 0; i < 10; i++) small.set(`k${i}`, entry('y'.repeat(500)));
    expect(small.bytes).toBeLessThanOrEqual(2048);
    expect(small.size).toBe(4);
  });

  it('keeps nothing when disabled', () => {
    const cache = new ResponseCache({ ...config, enabled: false }, new ManualClock());
    expect(
      cache.keyFor('openai', 'openai', '/v1/chat/completions', { model: 'm' }),
    ).toBeUndefined();
    cache.set('k', entry('{}'));
    expect(cache.size).toBe(0);
  });
});

describe('replayAsStream', () => {
  it('turns a chat.completion into OpenAI chunks ending in [DONE], usage only when asked', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    };
    const text = replayAsStream('openai', Buffer.from(JSON.stringify(completion)), false) ?? '';
    const events = text.trim().split('\n\n');
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events
      .slice(0, -1)
      .map(
        (e) => JSON.parse(e.slice(6)) as { choices: { delta: unknown; finish_reason: unknown }[] },
      );
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hello' },
      {},
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(replayAsStream('openai', Buffer.from(JSON.stringify(completion)), true)).toContain(
      '"usage":{"prompt_tokens":1',
    );
  });

  it('turns an Anthropic message into its event sequence', () => {
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [
        { type: 'text', text: 'Hi' },
        { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 4 },
    };
    const text = replayAsStream('anthropic', Buffer.from(JSON.stringify(message)), false) ?? '';
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(names).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toContain('"partial_json":"{\\"a\\":1}"');
    expect(text).toContain('"stop_reason":"tool_use"');
  });

  it('refuses bodies that are not answers', () => {
    expect(replayAsStream('openai', Buffer.from('{"error":{}}'), false)).toBeUndefined();
    expect(replayAsStream('anthropic', Buffer.from('not json'), false)).toBeUndefined();
  });
});
