/**
 * The stream grammar of each provider API: which whole events end a stream, which report a
 * failure, which come before any content, and which carry token usage. Fed by the one SSE
 * reader (sse/sse-reader.ts) with whole events, so text inside an answer that looks like a
 * terminator (`data: [DONE]`, `event: message_stop`, `event: error`) is just content.
 *
 * - OpenAI chat completions: `data: [DONE]` ends; a chunk with a top-level `error` fails;
 *   usage comes in a chunk with `choices: []` when `stream_options.include_usage` is set.
 * - OpenAI Responses: `response.completed` and `response.incomplete` end (both carry
 *   `response.usage`); `response.failed` and `error` fail; `response.created`,
 *   `response.queued` and `response.in_progress` come before content.
 * - Anthropic Messages: `message_stop` ends; `error` fails; `ping` and `message_start` come
 *   before content; usage is in `message_start` and `message_delta`.
 */
import { isJsonObject, parseJsonObject, type JsonObject } from '../../shared/json-object.ts';
import {
  anthropicCounts,
  openaiUsage,
  usageOf,
  usageOfCounts,
  type AnthropicCounts,
  type Usage,
} from '../cost/usage.ts';
import type { WireApi } from './wire-api.ts';

export type EventKind =
  /** A comment or keep-alive (no data). */
  | 'none'
  /** An event that comes before the answer's content (a probe is not yet proven healthy). */
  | 'preamble'
  | 'content'
  /** The stream's terminator: the answer is complete. */
  | 'end'
  /** The provider reports a failure in the stream. */
  | 'error'
  /** An event the app did not ask for (the usage chunk the sidecar asked for): not forwarded. */
  | 'drop';

/** The first event past the preamble, checked before anything reaches the app. */
export type FirstEventVerdict = EventKind | 'invalid';

/** Matches a JSON key `"error"` (in a string value the quotes would be escaped). */
const ERROR_KEY = /"error"\s*:/;
const USAGE_OBJECT = /"usage"\s*:\s*\{/;

export class StreamGrammar {
  readonly #api: WireApi;
  /** Drop OpenAI's usage-only chunk: the sidecar asked for it, the app did not. */
  readonly #stripUsageChunk: boolean;
  #usage: Usage | undefined;
  #anthropic: AnthropicCounts | undefined;
  /** An Anthropic stream's message_start was seen (its content must come after it). */
  #messageStarted = false;
  /** The provider's message when the stream reported a failure. */
  errorMessage: string | undefined;

  constructor(api: WireApi, options: { readonly stripUsageChunk?: boolean } = {}) {
    this.#api = api;
    this.#stripUsageChunk = options.stripUsageChunk ?? false;
  }

  /** Classifies one whole event (and reads its usage, if it carries any). */
  event(name: string, data: string | undefined): EventKind {
    if (data === undefined) return 'none';
    switch (this.#api) {
      case 'openai-chat':
        return this.#chat(data);
      case 'openai-responses':
        return this.#responses(new TypedEvent(name, data));
      case 'anthropic-messages':
        return this.#messages(new TypedEvent(name, data));
    }
  }

  /**
   * Checks the first event classified `content` or `end`, before the stream is committed to the
   * app: it must be an event of the API's grammar with something in it. Returns its kind —
   * `preamble` for an OpenAI chunk without choices (Azure's prompt_filter_results opening) — or
   * `invalid` for unreadable JSON, an event out of order, or a terminator before any content (an
   * empty answer). Only this one event is parsed; later events stay on the cheap path.
   */
  firstContent(kind: 'content' | 'end', data: string): FirstEventVerdict {
    switch (this.#api) {
      case 'openai-chat': {
        if (kind === 'end') return 'invalid';
        const chunk = parseJsonObject(data);
        if (chunk === undefined || !Array.isArray(chunk.choices)) return 'invalid';
        return chunk.choices.length === 0 ? 'preamble' : 'content';
      }
      case 'anthropic-messages':
        if (kind === 'end' || !this.#messageStarted) return 'invalid';
        return typedObject(data) ? kind : 'invalid';
      case 'openai-responses':
        // response.completed carries the whole response: an answer even without deltas.
        return typedObject(data) ? kind : 'invalid';
    }
  }

  /** Tokens the stream reported so far (undefined when none). */
  usage(): Usage | undefined {
    if (this.#api === 'anthropic-messages')
      return this.#anthropic === undefined ? undefined : usageOfCounts(this.#anthropic);
    return this.#usage;
  }

  #chat(data: string): EventKind {
    if (data === '[DONE]') return 'end';
    const hasError = ERROR_KEY.test(data);
    const hasUsage = USAGE_OBJECT.test(data);
    if (!hasError && !hasUsage) return 'content';
    const chunk = parseJsonObject(data);
    if (chunk === undefined) return 'content';
    if (chunk.error !== undefined && chunk.error !== null) {
      this.errorMessage = messageOf(chunk.error);
      return 'error';
    }
    if (isJsonObject(chunk.usage)) {
      const usage = openaiUsage(chunk.usage);
      if (usage !== undefined) this.#usage = usage;
      if (this.#stripUsageChunk && Array.isArray(chunk.choices) && chunk.choices.length === 0)
        return 'drop';
    }
    return 'content';
  }

  #responses(event: TypedEvent): EventKind {
    switch (event.type) {
      case 'response.completed':
      case 'response.incomplete': {
        const json = event.json();
        const response = json?.response;
        if (isJsonObject(response) && isJsonObject(response.usage)) {
          this.#usage = usageOf('anthropic', response.usage);
        }
        return 'end';
      }
      case 'response.failed': {
        const json = event.json();
        const response = json?.response;
        this.errorMessage = messageOf(isJsonObject(response) ? response.error : undefined);
        return 'error';
      }
      case 'error': {
        const json = event.json();
        this.errorMessage = messageOf(json);
        return 'error';
      }
      case 'response.created':
      case 'response.queued':
      case 'response.in_progress':
        return 'preamble';
      default:
        return 'content';
    }
  }

  #messages(event: TypedEvent): EventKind {
    switch (event.type) {
      case 'message_stop':
        return 'end';
      case 'error': {
        const json = event.json();
        this.errorMessage = messageOf(json?.error);
        return 'error';
      }
      case 'ping':
        return 'preamble';
      case 'message_start': {
        this.#messageStarted = true;
        const json = event.json();
        const message = json?.message;
        if (isJsonObject(message) && isJsonObject(message.usage))
          this.#anthropic = anthropicCounts(message.usage, undefined);
        return 'preamble';
      }
      case 'message_delta': {
        const json = event.json();
        // Delta counts are cumulative: the last output_tokens is the answer's; input fields,
        // when present (server tools), replace those of message_start.
        if (isJsonObject(json?.usage))
          this.#anthropic = anthropicCounts(json.usage, this.#anthropic);
        return 'content';
      }
      default:
        return 'content';
    }
  }
}

/**
 * An event's type — its `event:` name, else its data's `type` (the name is optional on the wire;
 * the data always says it) — and its data parsed once, only when asked.
 */
class TypedEvent {
  readonly type: string;
  readonly #data: string;
  #parsed: JsonObject | undefined;
  #read = false;

  constructor(name: string, data: string) {
    this.#data = data;
    if (name !== '') {
      this.type = name;
    } else {
      const json = this.json();
      this.type = typeof json?.type === 'string' ? json.type : '';
    }
  }

  json(): JsonObject | undefined {
    if (!this.#read) {
      this.#parsed = parseJsonObject(this.#data);
      this.#read = true;
    }
    return this.#parsed;
  }
}

/** Whether event data is a JSON object with a string `type` (every Messages and Responses event). */
function typedObject(data: string): boolean {
  return typeof parseJsonObject(data)?.type === 'string';
}

function messageOf(error: unknown): string {
  if (isJsonObject(error)) {
    const { message } = error;
    if (typeof message === 'string') return message.slice(0, 200);
  }
  return 'error event in stream';
}
