/**
 * Re-emits a complete (non-streaming) answer as the server-sent events a streaming client of the
 * same API expects, so a cached answer can serve a streaming request. Whole blocks are sent in
 * one delta each: the answer is already complete, there is nothing to wait for.
 */
import { parseJsonObject, type JsonObject } from '../../shared/json-object.ts';
import type { ClientFormat } from '../client-errors.ts';

/** SSE text for a cached answer in the app's format; undefined if the body is not an answer. */
export function replayAsStream(
  format: ClientFormat,
  body: Buffer,
  includeUsage: boolean,
): string | undefined {
  const parsed = parseJsonObject(body.toString('utf8'));
  if (parsed === undefined) return undefined;
  return format === 'openai' ? openaiReplay(parsed, includeUsage) : anthropicReplay(parsed);
}

function openaiReplay(completion: JsonObject, includeUsage: boolean): string | undefined {
  if (completion.object !== 'chat.completion' || !Array.isArray(completion.choices))
    return undefined;
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    ...(completion.system_fingerprint === undefined
      ? {}
      : { system_fingerprint: completion.system_fingerprint }),
  };
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  let out = '';
  for (const raw of completion.choices as unknown[]) {
    const choice = (raw ?? {}) as JsonObject;
    const message = (choice.message ?? {}) as JsonObject;
    const index = choice.index ?? 0;
    out += data({
      ...base,
      choices: [
        { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
      ],
    });
    if (typeof message.content === 'string' && message.content !== '') {
      out += data({
        ...base,
        choices: [
          { index, delta: { content: message.content }, logprobs: null, finish_reason: null },
        ],
      });
    }
    if (Array.isArray(message.tool_calls)) {
      const toolCalls = (message.tool_calls as JsonObject[]).map((call, i) => ({
        index: i,
        ...call,
      }));
      out += data({
        ...base,
        choices: [{ index, delta: { tool_calls: toolCalls }, logprobs: null, finish_reason: null }],
      });
    }
    out += data({
      ...base,
      choices: [
        { index, delta: {}, logprobs: null, finish_reason: choice.finish_reason ?? 'stop' },
      ],
    });
  }
  if (includeUsage && completion.usage !== undefined)
    out += data({ ...base, choices: [], usage: completion.usage });
  return `${out}data: [DONE]\n\n`;
}

function anthropicReplay(message: JsonObject): string | undefined {
  if (message.type !== 'message' || !Array.isArray(message.content)) return undefined;
  const event = (name: string, o: unknown) => `event: ${name}\ndata: ${JSON.stringify(o)}\n\n`;
  const usage = (message.usage ?? {}) as JsonObject;
  let out = event('message_start', {
    type: 'message_start',
    message: {
      ...message,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 0 },
    },
  });
  (message.content as JsonObject[]).forEach((block, index) => {
    if (block.type === 'text') {
      out += event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      out += event('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text: block.text },
      });
    } else if (block.type === 'tool_use') {
      out += event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      out += event('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input ?? {}) },
      });
    } else {
      out += event('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: block,
      });
    }
    out += event('content_block_stop', { type: 'content_block_stop', index });
  });
  out += event('message_delta', {
    type: 'message_delta',
    delta: {
      stop_reason: message.stop_reason ?? 'end_turn',
      stop_sequence: message.stop_sequence ?? null,
    },
    usage: { output_tokens: usage.output_tokens ?? 0 },
  });
  return out + event('message_stop', { type: 'message_stop' });
}
