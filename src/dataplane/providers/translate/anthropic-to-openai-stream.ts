/**
 * Anthropic Messages stream events → OpenAI `chat.completion.chunk` stream, event by event, so
 * an app using the OpenAI SDK streams an answer served by an Anthropic fallback. Nothing is held
 * back: each Anthropic event yields the OpenAI text for it at once.
 *
 * | Anthropic event                        | OpenAI output                                       |
 * | -------------------------------------- | --------------------------------------------------- |
 * | message_start                          | first chunk: delta {role: assistant} (no content:   |
 * |                                        | a tool-call answer keeps content null)              |
 * | content_block_start text               | its text, if any, as a content delta                |
 * | content_block_start tool_use           | tool_calls delta {index, id, type, function.name}   |
 * | content_block_delta text_delta         | content delta                                       |
 * | content_block_delta input_json_delta   | tool_calls delta {index, function.arguments}        |
 * | content_block_stop of an argument-less | tool_calls delta with the block's input ("{}")      |
 * |   tool_use                             |                                                     |
 * | thinking blocks, signature/citations   | nothing (chat completions never stream reasoning)   |
 * |   deltas, ping                         |                                                     |
 * | message_delta with stop_reason         | finish chunk {delta: {}, finish_reason}             |
 * | message_stop                           | usage chunk (choices: []) only when the app asked   |
 * |                                        | for stream_options.include_usage, then [DONE]       |
 * | error                                  | `data: {"error": …}` and the stream ends, no [DONE] |
 * | unknown event types                    | nothing (Anthropic may add event types)             |
 * | unknown content block types            | error: part of the answer would be lost             |
 *
 * Every chunk carries the same id (the upstream message id, optionally prefixed), `created` and
 * the model the target reports in message_start. With include_usage, every chunk carries
 * `usage: null` until the usage chunk, as OpenAI streams do.
 */
import { openaiErrorBodyFromAnthropic } from './error-bodies.ts';
import { isJsonObject, parseJsonObject, type JsonObject } from '../../../shared/json-object.ts';

import type {
  OpenaiChatCompletionChunk,
  OpenaiDelta,
  OpenaiErrorBody,
  OpenaiFinishReason,
} from './openai-chat-shapes.ts';
import type { SseEvent } from '../../sse/sse-reader.ts';
import { finishReasonFromStopReason } from './stop-reasons.ts';
import { quoted } from './translation-result.ts';
import { openaiUsageFromAnthropic } from './usage-tokens.ts';

/** How the OpenAI stream is shaped. */
export interface AnthropicToOpenaiStreamOptions {
  /** The app's `stream_options.include_usage`: send the usage chunk before [DONE]. */
  readonly includeUsage: boolean;
  /** `created` of every chunk, in Unix seconds (Anthropic events carry no timestamp). */
  readonly created: number;
  /** Prepended to the upstream message id to form the chunk id (default none). */
  readonly idPrefix?: string;
}

/**
 * A text delta as Anthropic writes it, `{"type":"content_block_delta","index":N,"delta":
 * {"type":"text_delta","text":"…"}}`: most events of a stream. Its text is already a JSON
 * string literal, so the chunk for it is a template around that literal, without parsing the
 * event or serializing the chunk. Anything else (other key order, spaces) takes the full path.
 */
// The text is a JSON string: no raw quote or control character, only JSON's escapes; the index
// a JSON integer. (Control characters are what the class must exclude: a raw one is not JSON.)
const TEXT_DELTA =
  // eslint-disable-next-line no-control-regex
  /^\{"type":"content_block_delta","index":(?:0|[1-9][0-9]{0,8}),"delta":\{"type":"text_delta","text":("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")\}\}$/;
/** Longer events take the full path (the pattern's backtracking stack grows with the text). */
const MAX_TEXT_DELTA_CHARS = 64 * 1024;

/** The JSON string literal (quotes included) of a text delta's text; undefined if not one. */
export function textDeltaLiteral(data: string): string | undefined {
  if (data.length > MAX_TEXT_DELTA_CHARS) return undefined;
  return TEXT_DELTA.exec(data)?.[1];
}

interface ToolBlock {
  readonly toolIndex: number;
  readonly input: unknown;
  sentArguments: boolean;
}

/** Translates one Anthropic event stream into OpenAI chunks; one instance per stream. */
export class AnthropicToOpenaiStream {
  readonly #includeUsage: boolean;
  readonly #created: number;
  readonly #idPrefix: string;
  #id = '';
  #model = '';
  #started = false;
  #finishSent = false;
  #finished = false;
  /** Cumulative usage: message_start's, updated by each message_delta. */
  #usage: JsonObject = {};
  /** Anthropic block index → the tool call it streams. */
  readonly #tools = new Map<number, ToolBlock>();
  #toolCount = 0;
  /** The text of every content chunk up to its delta: fixed once message_start is read. */
  #contentHead: string | undefined;
  #contentTail = '';

  constructor(options: AnthropicToOpenaiStreamOptions) {
    this.#includeUsage = options.includeUsage;
    this.#created = Math.floor(options.created);
    this.#idPrefix = options.idPrefix ?? '';
  }

  /** True once [DONE] or an error went out: the stream is over and later events are ignored. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Never: message_delta always carries Anthropic's stop reason before message_stop. */
  readonly cutShort = false;

  /** The OpenAI SSE text for one Anthropic event (often empty). */
  push(event: SseEvent): string {
    if (this.#finished) return '';
    const literal = textDeltaLiteral(event.data);
    if (literal !== undefined) return this.#textDelta(literal);
    const data = parseJsonObject(event.data);
    if (data === undefined) return this.#fail('the upstream sent an unreadable stream event');
    const type = typeof data.type === 'string' ? data.type : event.event;
    switch (type) {
      case 'message_start':
        return this.#onMessageStart(data.message);
      case 'content_block_start':
        return this.#onBlockStart(data.index, data.content_block);
      case 'content_block_delta':
        return this.#onBlockDelta(data.index, data.delta);
      case 'content_block_stop':
        return this.#onBlockStop(data.index);
      case 'message_delta':
        return this.#onMessageDelta(data.delta, data.usage);
      case 'message_stop':
        return this.#onMessageStop();
      case 'error':
        this.#finished = true;
        return errorLine(openaiErrorBodyFromAnthropic(data, undefined));
      case undefined:
      default:
        // ping, and event types added after this file was written.
        return '';
    }
  }

  /** A text delta from its JSON string literal: the chunk #chunk would write, by template. */
  #textDelta(literal: string): string {
    if (literal === '""') return '';
    if (this.#contentHead === undefined) {
      // The same fields, in the same order, as #chunk's object.
      const head = JSON.stringify({
        id: this.#id,
        object: 'chat.completion.chunk',
        created: this.#created,
        model: this.#model,
      });
      this.#contentHead = `data: ${head.slice(0, -1)},"choices":[{"index":0,"delta":{"content":`;
      this.#contentTail = `},"logprobs":null,"finish_reason":null}]${this.#includeUsage ? ',"usage":null' : ''}}\n\n`;
    }
    return this.#start() + this.#contentHead + literal + this.#contentTail;
  }

  #onMessageStart(message: unknown): string {
    this.#contentHead = undefined;
    if (isJsonObject(message)) {
      if (typeof message.id === 'string') this.#id = this.#idPrefix + message.id;
      if (typeof message.model === 'string') this.#model = message.model;
      if (isJsonObject(message.usage)) this.#usage = { ...message.usage };
    }
    return this.#start();
  }

  #onBlockStart(index: unknown, block: unknown): string {
    if (typeof index !== 'number' || !isJsonObject(block)) {
      return this.#fail('the upstream sent an invalid content block');
    }
    switch (block.type) {
      case 'text':
        return typeof block.text === 'string' && block.text !== ''
          ? this.#start() + this.#chunk({ content: block.text }, null)
          : this.#start();
      case 'tool_use': {
        if (typeof block.id !== 'string' || typeof block.name !== 'string') {
          return this.#fail('the upstream sent an invalid tool_use block');
        }
        const tool: ToolBlock = {
          toolIndex: this.#toolCount++,
          input: block.input ?? {},
          sentArguments: false,
        };
        this.#tools.set(index, tool);
        return (
          this.#start() +
          this.#chunk(
            {
              tool_calls: [
                {
                  index: tool.toolIndex,
                  id: block.id,
                  type: 'function',
                  function: { name: block.name, arguments: '' },
                },
              ],
            },
            null,
          )
        );
      }
      case 'thinking':
      case 'redacted_thinking':
        return this.#start();
      default:
        return this.#fail(`${quoted(block.type)} blocks in an answer have no OpenAI mapping`);
    }
  }

  #onBlockDelta(index: unknown, delta: unknown): string {
    if (!isJsonObject(delta)) return this.#fail('the upstream sent an invalid delta');
    switch (delta.type) {
      case 'text_delta':
        if (typeof delta.text !== 'string') return this.#fail('the upstream sent an invalid delta');
        return delta.text === '' ? '' : this.#start() + this.#chunk({ content: delta.text }, null);
      case 'input_json_delta': {
        const tool = typeof index === 'number' ? this.#tools.get(index) : undefined;
        if (tool === undefined || typeof delta.partial_json !== 'string') {
          return this.#fail('the upstream sent tool input outside a tool_use block');
        }
        if (delta.partial_json === '') return '';
        tool.sentArguments = true;
        return this.#argumentsChunk(tool, delta.partial_json);
      }
      default:
        // thinking_delta, signature_delta, citations_delta and later additions carry no text.
        return '';
    }
  }

  #onBlockStop(index: unknown): string {
    const tool = typeof index === 'number' ? this.#tools.get(index) : undefined;
    if (tool === undefined || tool.sentArguments) return '';
    // A tool without parameters streams no input deltas; OpenAI sends its arguments anyway.
    tool.sentArguments = true;
    return this.#argumentsChunk(tool, JSON.stringify(tool.input));
  }

  #onMessageDelta(delta: unknown, usage: unknown): string {
    if (isJsonObject(usage)) {
      for (const [key, value] of Object.entries(usage)) {
        if (value !== null && value !== undefined) this.#usage[key] = value;
      }
    }
    const stopReason = isJsonObject(delta) ? delta.stop_reason : undefined;
    if (stopReason === undefined || stopReason === null) return '';
    return this.#finish(finishReasonFromStopReason(stopReason));
  }

  #onMessageStop(): string {
    // message_delta always carries the stop reason first; a stream without one ended naturally.
    let out = this.#finish('stop');
    if (this.#includeUsage) {
      const chunk: OpenaiChatCompletionChunk = {
        id: this.#id,
        object: 'chat.completion.chunk',
        created: this.#created,
        model: this.#model,
        choices: [],
        usage: openaiUsageFromAnthropic(this.#usage),
      };
      out += `data: ${JSON.stringify(chunk)}\n\n`;
    }
    this.#finished = true;
    return `${out}data: [DONE]\n\n`;
  }

  /** The role chunk OpenAI streams open with, once. */
  #start(): string {
    if (this.#started) return '';
    this.#started = true;
    return this.#chunk({ role: 'assistant' }, null);
  }

  #finish(reason: OpenaiFinishReason): string {
    if (this.#finishSent) return '';
    this.#finishSent = true;
    return this.#start() + this.#chunk({}, reason);
  }

  #argumentsChunk(tool: ToolBlock, fragment: string): string {
    return this.#chunk(
      { tool_calls: [{ index: tool.toolIndex, function: { arguments: fragment } }] },
      null,
    );
  }

  #chunk(delta: OpenaiDelta, finishReason: OpenaiFinishReason | null): string {
    const chunk: OpenaiChatCompletionChunk = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (this.#includeUsage) chunk.usage = null;
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  /** Ends the stream with an error line: never pass off a damaged answer as complete. */
  #fail(message: string): string {
    this.#finished = true;
    return errorLine({ error: { message, type: 'server_error', param: null, code: null } });
  }
}

function errorLine(body: OpenaiErrorBody): string {
  return `data: ${JSON.stringify(body)}\n\n`;
}
