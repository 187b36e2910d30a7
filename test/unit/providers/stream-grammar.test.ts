import { describe, expect, it } from 'vitest';
import { StreamGrammar, type EventKind } from '../../../src/dataplane/providers/stream-grammar.ts';
import type { WireApi } from '../../../src/dataplane/providers/wire-api.ts';
import { SseParser } from '../../../src/dataplane/sse/sse-reader.ts';

/** The kinds of every event of a stream, as an attempt sees them. */
function kinds(api: WireApi, text: string): EventKind[] {
  const grammar = new StreamGrammar(api);
  const parser = new SseParser();
  return [...parser.push(text), ...parser.finish()].map((e) =>
    grammar.event(e.event ?? '', e.data),
  );
}

const chunk = (content: string) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
const anthropic = (type: string, body: Record<string, unknown> = {}) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;
const responses = (type: string, body: Record<string, unknown> = {}) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...body })}\n\n`;

describe('StreamGrammar', () => {
  it('reads OpenAI chat: content, [DONE] and a top-level error', () => {
    expect(kinds('openai-chat', chunk('hi') + 'data: [DONE]\n\n')).toEqual(['content', 'end']);
    expect(kinds('openai-chat', 'data: {"error":{"message":"boom"}}\n\n')).toEqual(['error']);
  });

  it('treats text that looks like a terminator or an error as content', () => {
    const text =
      chunk('data: [DONE]\n\n') +
      chunk('event: message_stop\ndata: {}\n\n') +
      chunk('"error": {"message": "x"}');
    expect(kinds('openai-chat', text)).toEqual(['content', 'content', 'content']);
    const messages =
      anthropic('message_start', { message: { usage: { input_tokens: 1 } } }) +
      anthropic('content_block_delta', {
        delta: {
          type: 'text_delta',
          text: 'event: error\ndata: {"type":"error"}\n\nevent: message_stop',
        },
      });
    expect(kinds('anthropic-messages', messages)).toEqual(['preamble', 'content']);
  });

  it('reads an error nested in content as content, and only a top-level error as failure', () => {
    const nested = `data: ${JSON.stringify({ choices: [{ delta: { tool_calls: [{ function: { arguments: '{"error": 1}' } }] } }] })}\n\n`;
    expect(kinds('openai-chat', nested)).toEqual(['content']);
    const object = `data: ${JSON.stringify({ choices: [], x: { error: { message: 'no' } } })}\n\n`;
    expect(kinds('openai-chat', object)).toEqual(['content']);
  });

  it('reads Anthropic: ping and message_start before content, message_stop ends, error fails', () => {
    const text =
      anthropic('message_start', { message: { usage: { input_tokens: 5, output_tokens: 1 } } }) +
      anthropic('ping') +
      anthropic('content_block_start', { index: 0 }) +
      anthropic('message_delta', { usage: { output_tokens: 7 } }) +
      anthropic('message_stop');
    expect(kinds('anthropic-messages', text)).toEqual([
      'preamble',
      'preamble',
      'content',
      'content',
      'end',
    ]);
    const failed = kinds(
      'anthropic-messages',
      anthropic('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
    );
    expect(failed).toEqual(['error']);
  });

  it('reads the Responses API: created before content, completed/incomplete end, failed/error fail', () => {
    const text =
      responses('response.created', { response: { id: 'resp_1' } }) +
      responses('response.in_progress') +
      responses('response.output_text.delta', { delta: 'data: [DONE]' }) +
      responses('response.completed', {
        response: { usage: { input_tokens: 11, output_tokens: 3, total_tokens: 14 } },
      });
    const grammar = new StreamGrammar('openai-responses');
    const parser = new SseParser();
    expect(parser.push(text).map((e) => grammar.event(e.event ?? '', e.data))).toEqual([
      'preamble',
      'preamble',
      'content',
      'end',
    ]);
    expect(grammar.usage()).toEqual({ inputTokens: 11, outputTokens: 3 });
    expect(kinds('openai-responses', responses('response.incomplete', { response: {} }))).toEqual([
      'end',
    ]);
    const failed = new StreamGrammar('openai-responses');
    expect(
      failed.event(
        'response.failed',
        JSON.stringify({
          type: 'response.failed',
          response: { error: { message: 'server had an error' } },
        }),
      ),
    ).toBe('error');
    expect(failed.errorMessage).toBe('server had an error');
    expect(kinds('openai-responses', responses('error', { message: 'bad' }))).toEqual(['error']);
  });

  it('reads a Responses event by its data type when the event name is missing', () => {
    const text = `data: ${JSON.stringify({ type: 'response.completed', response: {} })}\n\n`;
    expect(kinds('openai-responses', text)).toEqual(['end']);
  });

  it('ignores keep-alives (events without data)', () => {
    expect(new StreamGrammar('openai-chat').event('', undefined)).toBe('none');
  });
});
