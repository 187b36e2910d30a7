// Recorded stream payloads (shapes from the official SDKs' types and the providers' streaming
// docs), their SSE serialisation, and accumulators that fold a stream into the final answer the
// way the SDKs' stream helpers do (ChatCompletionStream, MessageStream).
import type { Message, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { SseParser, type SseEvent } from '../../../src/dataplane/sse/sse-reader.ts';

/** An answer that says something, then calls a tool (2026-10-21 wire shape, SDK 1.14 types). */
export const anthropicToolStream = [
  {
    type: 'message_start',
    message: {
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5-20251001',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage: {
        input_tokens: 472,
        output_tokens: 2,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 100,
        cache_creation: null,
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: 'standard',
        speed: null,
      },
    },
  },
  {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '', citations: null },
  },
  {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'Okay, let me check the ' },
  },
  {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'weather in Zürich 🌦' },
  },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'content_block_start',
    index: 1,
    content_block: {
      type: 'tool_use',
      id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
      name: 'get_weather',
      input: {},
      caller: { type: 'direct' },
    },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: '' },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: '{"location": "Zür' },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: 'ich", "unit": "celsius"}' },
  },
  { type: 'content_block_stop', index: 1 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: null,
      output_tokens: 89,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      output_tokens_details: null,
      server_tool_use: null,
    },
  },
  { type: 'message_stop' },
] satisfies (RawMessageStreamEvent | { type: 'ping' })[];

/** Anthropic SSE text for events, with the `ping` Anthropic sends after the first block start. */
export function anthropicSse(events: readonly { type: string }[], lineEnd = '\n'): string {
  let out = '';
  events.forEach((event, i) => {
    out += `event: ${event.type}${lineEnd}data: ${JSON.stringify(event)}${lineEnd}${lineEnd}`;
    if (i === 1) out += `event: ping${lineEnd}data: {"type": "ping"}${lineEnd}${lineEnd}`;
  });
  return out;
}

const chunkBase = {
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion.chunk',
  created: 1_764_000_000,
  model: 'gpt-4o-2024-08-06',
  system_fingerprint: 'fp_f9f4fb6dbf',
  service_tier: 'default',
} as const;

/** An answer with text and two parallel tool calls, then the usage chunk (include_usage). */
export const openaiToolStream = [
  {
    ...chunkBase,
    choices: [
      {
        index: 0,
        delta: { role: 'assistant', content: '', refusal: null },
        logprobs: null,
        finish_reason: null,
      },
    ],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [
      { index: 0, delta: { content: 'Checking both ' }, logprobs: null, finish_reason: null },
    ],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [{ index: 0, delta: { content: 'cities…' }, logprobs: null, finish_reason: null }],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [
      {
        index: 0,
        delta: {
          tool_calls: [
            {
              index: 0,
              id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
              type: 'function',
              function: { name: 'get_weather', arguments: '' },
            },
          ],
        },
        logprobs: null,
        finish_reason: null,
      },
    ],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] },
        logprobs: null,
        finish_reason: null,
      },
    ],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, function: { arguments: ' "Paris"}' } }] },
        logprobs: null,
        finish_reason: null,
      },
    ],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [
      {
        index: 0,
        delta: {
          tool_calls: [
            {
              index: 1,
              id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location": "Tokyo"}' },
            },
          ],
        },
        logprobs: null,
        finish_reason: null,
      },
    ],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }],
    usage: null,
  },
  {
    ...chunkBase,
    choices: [],
    usage: {
      prompt_tokens: 82,
      completion_tokens: 47,
      total_tokens: 129,
      prompt_tokens_details: { cached_tokens: 64, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    },
  },
] satisfies ChatCompletionChunk[];

/** OpenAI SSE text for chunks, ending with [DONE]. */
export function openaiSse(chunks: readonly unknown[], lineEnd = '\n'): string {
  let out = '';
  for (const chunk of chunks) out += `data: ${JSON.stringify(chunk)}${lineEnd}${lineEnd}`;
  return `${out}data: [DONE]${lineEnd}${lineEnd}`;
}

/** Parses SSE text back into events (one chunk, whole). */
export function sseEvents(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.finish()];
}

/** What an OpenAI chunk stream adds up to, as ChatCompletionStream accumulates it. */
export interface OpenaiStreamResult {
  readonly chunks: ChatCompletionChunk[];
  readonly content: string;
  readonly toolCalls: { id: string; name: string; arguments: string }[];
  readonly finishReason: string | null;
  readonly usage: ChatCompletionChunk['usage'];
  readonly done: boolean;
  readonly error: unknown;
}

/** Folds OpenAI SSE text into its final answer; checks every chunk's invariant shape. */
export function accumulateOpenai(text: string): OpenaiStreamResult {
  const chunks: ChatCompletionChunk[] = [];
  let content = '';
  const toolCalls: { id: string; name: string; arguments: string }[] = [];
  let finishReason: string | null = null;
  let usage: ChatCompletionChunk['usage'] = undefined;
  let done = false;
  let error: unknown;
  for (const event of sseEvents(text)) {
    if (done || error !== undefined) throw new Error('data after the end of the stream');
    if (event.data === '[DONE]') {
      done = true;
      continue;
    }
    const parsed = JSON.parse(event.data) as ChatCompletionChunk | { error: unknown };
    if ('error' in parsed) {
      error = parsed.error;
      continue;
    }
    chunks.push(parsed);
    if (parsed.usage) usage = parsed.usage;
    for (const choice of parsed.choices) {
      if (choice.delta.content) content += choice.delta.content;
      for (const call of choice.delta.tool_calls ?? []) {
        const known = toolCalls[call.index];
        if (known === undefined) {
          toolCalls[call.index] = {
            id: call.id ?? '',
            name: call.function?.name ?? '',
            arguments: call.function?.arguments ?? '',
          };
        } else {
          known.arguments += call.function?.arguments ?? '';
        }
      }
      if (choice.finish_reason !== null) finishReason = choice.finish_reason;
    }
  }
  return { chunks, content, toolCalls, finishReason, usage, done, error };
}

/** What an Anthropic event stream adds up to, as MessageStream accumulates it. */
export interface AnthropicStreamResult {
  readonly types: string[];
  readonly message: Message | undefined;
  readonly stopped: boolean;
  readonly error: unknown;
}

/** Folds Anthropic SSE text into its final message; checks event names match data types. */
export function accumulateAnthropic(text: string): AnthropicStreamResult {
  const types: string[] = [];
  let message: Message | undefined;
  let stopped = false;
  let error: unknown;
  const json = new Map<number, string>();
  for (const event of sseEvents(text)) {
    if (stopped || error !== undefined) throw new Error('event after the end of the stream');
    const data = JSON.parse(event.data) as
      RawMessageStreamEvent | { type: 'error'; error: unknown };
    if (event.event !== data.type) throw new Error(`event ${event.event} carries ${data.type}`);
    types.push(data.type);
    switch (data.type) {
      case 'message_start':
        message = structuredClone(data.message);
        break;
      case 'content_block_start':
        if (message?.content.length !== data.index) {
          throw new Error('content_block_start out of order');
        }
        message.content.push(structuredClone(data.content_block));
        break;
      case 'content_block_delta': {
        const block = message?.content[data.index];
        if (data.delta.type === 'text_delta' && block?.type === 'text') {
          block.text += data.delta.text;
        } else if (data.delta.type === 'input_json_delta' && block?.type === 'tool_use') {
          json.set(data.index, (json.get(data.index) ?? '') + data.delta.partial_json);
        } else {
          throw new Error(`delta ${data.delta.type} for block ${block?.type ?? 'none'}`);
        }
        break;
      }
      case 'content_block_stop': {
        const block = message?.content[data.index];
        const partial = json.get(data.index);
        if (block?.type === 'tool_use' && partial !== undefined) {
          block.input = JSON.parse(partial);
        }
        break;
      }
      case 'message_delta':
        if (message === undefined) throw new Error('message_delta before message_start');
        message.stop_reason = data.delta.stop_reason;
        message.usage.output_tokens = data.usage.output_tokens;
        if (data.usage.input_tokens !== null) message.usage.input_tokens = data.usage.input_tokens;
        if (data.usage.cache_read_input_tokens !== null) {
          message.usage.cache_read_input_tokens = data.usage.cache_read_input_tokens;
        }
        break;
      case 'message_stop':
        stopped = true;
        break;
      case 'error':
        error = data.error;
        break;
    }
  }
  return { types, message, stopped, error };
}

/** Feeds upstream bytes to an event translator through the data plane's SSE parser. */
export function bytesThrough(translator: { push(event: SseEvent): string }): {
  push(chunk: Buffer): string;
  end(): string;
} {
  const parser = new SseParser();
  const run = (events: SseEvent[]) => events.map((e) => translator.push(e)).join('');
  return { push: (chunk) => run(parser.push(chunk)), end: () => run(parser.finish()) };
}
