/**
 * OpenAI `chat.completion.chunk` stream → Anthropic Messages stream events, chunk by chunk, so an
 * app using the Anthropic SDK streams an answer served by an OpenAI fallback.
 *
 * | OpenAI input                  | Anthropic output                                 |
 * | ----------------------------- | ------------------------------------------------ |
 * | first chunk                   | message_start (id, model; input tokens when the  |
 * |                               | chunk has usage, else 0 until message_delta)     |
 * | delta.content / delta.refusal | a text block: content_block_start once, then     |
 * |                               | text_delta per chunk                             |
 * | delta.tool_calls, new index   | the open block stops; tool_use block starts with |
 * |                               | id and name; arguments as input_json_delta       |
 * | delta.tool_calls, same index  | input_json_delta                                 |
 * | finish_reason                 | the open block stops; the stop reason is kept    |
 * | usage chunk (choices: [])     | kept; message_delta (stop_reason + usage) goes   |
 * |                               | out once both the finish and the usage are known |
 * | [DONE]                        | message_delta if not sent yet (usage unknown:    |
 * |                               | output_tokens 0), then message_stop; without a   |
 * |                               | finish_reason nothing: the stream is cut short   |
 * | `{"error": …}`                | `event: error`, and the stream ends              |
 *
 * Chunks without choices or usage (Azure's opening prompt_filter_results chunk) carry nothing to
 * translate and are skipped, so message_start takes the id and model of the first real chunk.
 * The request translator always asks for `include_usage`, so the usage chunk normally arrives
 * after the finish chunk; some OpenAI-compatible servers put it on the finish chunk itself, or
 * omit it: all three cases send exactly one message_delta. A refusal (structured outputs)
 * streams as text and stops with `refusal`. Tool call fragments of an earlier call arriving after
 * a later one started cannot be expressed (Anthropic blocks do not interleave) and end the stream
 * with an error; OpenAI streams calls one after another.
 */
import type {
  AnthropicDeltaUsage,
  AnthropicErrorBody,
  AnthropicMessageResponse,
  AnthropicStopReason,
} from './anthropic-messages-shapes.ts';
import { anthropicErrorBodyFromOpenai } from './error-bodies.ts';
import { isJsonObject, parseJsonObject, type JsonObject } from '../../../shared/json-object.ts';

import type { SseEvent } from '../../sse/sse-reader.ts';
import { stopReasonFromFinishReason } from './stop-reasons.ts';
import { anthropicDeltaUsageFromOpenai, anthropicUsageFromOpenai } from './usage-tokens.ts';

type OpenBlock =
  | { readonly kind: 'text'; readonly index: number }
  | { readonly kind: 'tool'; readonly index: number; readonly toolIndex: number };

/** Usage of a stream whose usage chunk never came: output unknown, so 0. */
const UNKNOWN_USAGE: AnthropicDeltaUsage = {
  input_tokens: null,
  output_tokens: 0,
  cache_creation_input_tokens: null,
  cache_read_input_tokens: null,
  output_tokens_details: null,
  server_tool_use: null,
};

/** Translates one OpenAI chunk stream into Anthropic events; one instance per stream. */
export class OpenaiToAnthropicStream {
  #started = false;
  #finished = false;
  #cutShort = false;
  #nextBlock = 0;
  #open: OpenBlock | undefined;
  /** OpenAI tool call indexes already given a block. */
  readonly #tools = new Set<number>();
  #stopReason: AnthropicStopReason | undefined;
  #refused = false;
  #usage: JsonObject | undefined;
  #deltaSent = false;

  /** True once message_stop or an error went out: later chunks are ignored. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * True when [DONE] came without a finish_reason: the answer did not end, so it is not
   * presented as `end_turn` (the caller ends the stream as interrupted).
   */
  get cutShort(): boolean {
    return this.#cutShort;
  }

  /** The Anthropic SSE text for one OpenAI data line (a chunk or `[DONE]`; often empty). */
  push(event: SseEvent): string {
    if (this.#finished) return '';
    if (event.data.trim() === '[DONE]') return this.#onDone();
    const chunk = parseJsonObject(event.data);
    if (chunk === undefined) return this.#fail('the upstream sent an unreadable stream chunk');
    if (chunk.error !== undefined) {
      this.#finished = true;
      return errorEvent(anthropicErrorBodyFromOpenai(chunk, undefined));
    }
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
    const usage = isJsonObject(chunk.usage) ? chunk.usage : undefined;
    // Azure OpenAI opens with a prompt_filter_results chunk: no choices, empty id and model.
    if (choices.length === 0 && usage === undefined) return '';
    let out = this.#start(chunk);
    // A translated request never asks for n > 1: choice 0 is the answer.
    const choice = choices.find((c) => isJsonObject(c) && (c.index ?? 0) === 0);
    if (isJsonObject(choice)) {
      const delta = isJsonObject(choice.delta) ? choice.delta : {};
      if (typeof delta.refusal === 'string' && delta.refusal !== '') {
        this.#refused = true;
        out += this.#text(delta.refusal);
      }
      if (typeof delta.content === 'string' && delta.content !== '')
        out += this.#text(delta.content);
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls as unknown[]) {
          out += this.#toolCall(call);
          // The getter, not the field: #toolCall may have ended the stream.
          if (this.finished) return out;
        }
      }
      if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
        out += this.#closeOpen();
        this.#stopReason = this.#refused
          ? 'refusal'
          : stopReasonFromFinishReason(choice.finish_reason);
      }
    }
    if (usage !== undefined) this.#usage = usage;
    if (this.#stopReason !== undefined && this.#usage !== undefined)
      out += this.#messageDelta(this.#stopReason);
    return out;
  }

  #onDone(): string {
    const stopReason = this.#stopReason;
    this.#finished = true;
    if (stopReason === undefined) {
      // No finish_reason: the answer did not end, whatever [DONE] says; never an end_turn.
      this.#cutShort = true;
      return '';
    }
    let out = this.#start({}) + this.#closeOpen() + this.#messageDelta(stopReason);
    out += event('message_stop', { type: 'message_stop' });
    return out;
  }

  #start(chunk: JsonObject): string {
    if (this.#started) return '';
    this.#started = true;
    const usage = anthropicUsageFromOpenai(chunk.usage);
    usage.output_tokens = 0;
    const message: Omit<AnthropicMessageResponse, 'stop_reason'> & { stop_reason: null } = {
      id: typeof chunk.id === 'string' ? chunk.id : '',
      type: 'message',
      role: 'assistant',
      model: typeof chunk.model === 'string' ? chunk.model : '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage,
    };
    return event('message_start', { type: 'message_start', message });
  }

  #text(text: string): string {
    let out = '';
    let open = this.#open;
    if (open?.kind !== 'text') {
      out += this.#closeOpen();
      open = { kind: 'text', index: this.#nextBlock++ };
      this.#open = open;
      out += event('content_block_start', {
        type: 'content_block_start',
        index: open.index,
        content_block: { type: 'text', text: '' },
      });
    }
    return (
      out +
      event('content_block_delta', {
        type: 'content_block_delta',
        index: open.index,
        delta: { type: 'text_delta', text },
      })
    );
  }

  #toolCall(call: unknown): string {
    if (!isJsonObject(call) || typeof call.index !== 'number') {
      return this.#fail('the upstream sent an invalid tool call fragment');
    }
    const fn = isJsonObject(call.function) ? call.function : {};
    const fragment = typeof fn.arguments === 'string' ? fn.arguments : '';
    let out = '';
    let open = this.#open;
    if (open?.kind !== 'tool' || open.toolIndex !== call.index) {
      if (this.#tools.has(call.index)) {
        return this.#fail('interleaved tool call arguments cannot be translated');
      }
      if (typeof call.id !== 'string' || typeof fn.name !== 'string') {
        return this.#fail('the upstream started a tool call without id or name');
      }
      out += this.#closeOpen();
      open = { kind: 'tool', index: this.#nextBlock++, toolIndex: call.index };
      this.#open = open;
      this.#tools.add(call.index);
      out += event('content_block_start', {
        type: 'content_block_start',
        index: open.index,
        content_block: { type: 'tool_use', id: call.id, name: fn.name, input: {} },
      });
    }
    if (fragment === '') return out;
    return (
      out +
      event('content_block_delta', {
        type: 'content_block_delta',
        index: open.index,
        delta: { type: 'input_json_delta', partial_json: fragment },
      })
    );
  }

  #closeOpen(): string {
    const open = this.#open;
    if (open === undefined) return '';
    this.#open = undefined;
    return event('content_block_stop', { type: 'content_block_stop', index: open.index });
  }

  #messageDelta(stopReason: AnthropicStopReason): string {
    if (this.#deltaSent) return '';
    this.#deltaSent = true;
    return event('message_delta', {
      type: 'message_delta',
      delta: {
        stop_reason: stopReason,
        stop_sequence: null,
        stop_details: null,
        container: null,
      },
      usage: this.#usage === undefined ? UNKNOWN_USAGE : anthropicDeltaUsageFromOpenai(this.#usage),
    });
  }

  /** Ends the stream with an error event: never pass off a damaged answer as complete. */
  #fail(message: string): string {
    this.#finished = true;
    return errorEvent({ type: 'error', error: { type: 'api_error', message } });
  }
}

function event(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

function errorEvent(body: AnthropicErrorBody): string {
  return event('error', body);
}
