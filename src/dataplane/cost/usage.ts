/**
 * Token usage as the providers report it, read without parsing whole answers: a JSON body's
 * top-level `usage` object is found from the end (where both APIs put it) and parsed alone, and
 * a stream is watched with native byte searches so only the one or two events that carry usage
 * are ever decoded. Also the request side of OpenAI stream usage: asking the provider for the
 * usage chunk on the app's behalf, and removing that chunk again from what the app receives.
 */
import type { StreamConverter } from '../forward/response-adapter.ts';
import { isJsonObject, parseJson, tokenCountOf } from '../providers/translate/json-values.ts';
import type { JsonObject } from '../providers/translate/json-values.ts';
import { wantsStreamUsage } from '../providers/translate/openai-to-anthropic-request.ts';
import { SseParser, type SseEvent } from '../providers/translate/sse-parser.ts';
import {
  NOT_A_KEY,
  SseRuns,
  USAGE_KEY,
  nextEventEnd,
  objectEnd,
  usageObjectKeyAt,
  usageValueStart,
} from './sse-runs.ts';

/** Tokens of one answer: what cost is computed from and what token metrics count. */
export interface Usage {
  /** Every prompt token, cached or not (Anthropic cache reads and writes included). */
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** The API a body or stream speaks, which decides where usage sits in it. */
export type UsageFormat = 'openai' | 'anthropic';

/** A usage object is a few hundred bytes; scanning stops well before an answer's worth. */
const MAX_USAGE_OBJECT_BYTES = 16 * 1024;
/** One unfinished event held while waiting for its end; a usage event is far smaller. */
const MAX_EVENT_BYTES = 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;

/**
 * Usage of a complete JSON answer; undefined when it has none. Only the top-level `usage`
 * object is parsed: both APIs put it after the content, so the last `"usage"` key is found by a
 * native search from the end, and a megabyte of embeddings is never turned into objects.
 */
export function usageFromBody(format: UsageFormat, body: Buffer): Usage | undefined {
  for (let at = body.lastIndexOf(USAGE_KEY); at !== -1;) {
    const start = usageValueStart(body, at + USAGE_KEY.length);
    if (start >= 0) {
      const end = objectEnd(body, start, MAX_USAGE_OBJECT_BYTES);
      if (end === -1) return undefined;
      const usage = parseJson(body.toString('utf8', start, end));
      return isJsonObject(usage) ? usageOf(format, usage) : undefined;
    }
    // The last usage key is the answer's own; a null one means the answer reports none.
    if (start !== NOT_A_KEY) return undefined;
    // A negative offset would search from the end again.
    at = at === 0 ? -1 : body.lastIndexOf(USAGE_KEY, at - 1);
  }
  return undefined;
}

function usageOf(format: UsageFormat, usage: JsonObject): Usage | undefined {
  return format === 'openai' ? openaiUsage(usage) : anthropicUsage(usage, undefined);
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function openaiUsage(usage: JsonObject): Usage | undefined {
  if (!isCount(usage.prompt_tokens) && !isCount(usage.completion_tokens)) return undefined;
  // prompt_tokens already includes cached tokens (itemised in prompt_tokens_details).
  return {
    inputTokens: tokenCountOf(usage.prompt_tokens),
    outputTokens: tokenCountOf(usage.completion_tokens),
  };
}

/** Anthropic's input fields, kept apart because a `message_delta` may update any of them. */
interface AnthropicCounts {
  input: number;
  cacheWrite: number;
  cacheRead: number;
  output: number;
}

/** Applies the counts present in `usage` over `base` (a `message_delta` repeats only some). */
function anthropicCounts(usage: JsonObject, base: AnthropicCounts | undefined): AnthropicCounts {
  const pick = (value: unknown, previous: number | undefined): number =>
    isCount(value) ? tokenCountOf(value) : (previous ?? 0);
  return {
    input: pick(usage.input_tokens, base?.input),
    cacheWrite: pick(usage.cache_creation_input_tokens, base?.cacheWrite),
    cacheRead: pick(usage.cache_read_input_tokens, base?.cacheRead),
    output: pick(usage.output_tokens, base?.output),
  };
}

function anthropicUsage(usage: JsonObject, base: AnthropicCounts | undefined): Usage | undefined {
  if (!isCount(usage.input_tokens) && !isCount(usage.output_tokens)) return undefined;
  return usageOfCounts(anthropicCounts(usage, base));
}

function usageOfCounts(counts: AnthropicCounts): Usage {
  // input_tokens excludes cache reads and writes; both are prompt tokens the provider served.
  return {
    inputTokens: counts.input + counts.cacheWrite + counts.cacheRead,
    outputTokens: counts.output,
  };
}

/** True when event data has a `"usage"` key whose value is an object (not OpenAI's null). */
function hasUsageObject(data: string): boolean {
  for (let at = data.indexOf('"usage"'); at !== -1; at = data.indexOf('"usage"', at + 1)) {
    let i = at + USAGE_KEY.length;
    while (isSpace(data.charCodeAt(i))) i++;
    if (data.charCodeAt(i) !== COLON) continue;
    i++;
    while (isSpace(data.charCodeAt(i))) i++;
    if (data.charCodeAt(i) === OPEN_BRACE) return true;
  }
  return false;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === LF || code === CR;
}

/** Every event of a run of complete events (a fresh parser: runs start at event boundaries). */
function eventsOf(run: Buffer): SseEvent[] {
  const parser = new SseParser();
  const events = parser.push(run);
  for (const event of parser.finish()) events.push(event);
  return events;
}

/**
 * Reads usage from one upstream event stream as it passes, for streamed answers. Per chunk it
 * costs a few native byte searches; an event is decoded only when its `"usage"` value is an
 * object (OpenAI's `"usage":null` on every chunk is skipped without parsing). Chunks are held as
 * views until their event ends, so they must not be modified after `push`.
 */
export class StreamUsageScanner {
  readonly #format: UsageFormat;
  readonly #runs = new SseRuns(MAX_EVENT_BYTES);
  #openai: Usage | undefined;
  #anthropic: AnthropicCounts | undefined;
  #ended = false;

  constructor(format: UsageFormat) {
    this.#format = format;
  }

  /** Feeds one upstream chunk. */
  push(chunk: Buffer): void {
    const run = this.#runs.push(chunk, false);
    if (run !== undefined) this.#read(run);
  }

  /**
   * The usage seen, once the stream is over (a last event without its blank line is read
   * first); undefined when the stream reported none. A cut stream reports what arrived.
   */
  usage(): Usage | undefined {
    if (!this.#ended) {
      this.#ended = true;
      const run = this.#runs.flush();
      if (run !== undefined && this.#runs.runHasUsage) this.#read(run);
    }
    if (this.#format === 'openai') return this.#openai;
    return this.#anthropic === undefined ? undefined : usageOfCounts(this.#anthropic);
  }

  #read(run: Buffer): void {
    for (const event of eventsOf(run)) {
      // A run holds many events and usually one carries usage: parse only that one.
      if (!hasUsageObject(event.data)) continue;
      const data = parseJson(event.data);
      if (!isJsonObject(data)) continue;
      if (this.#format === 'openai') this.#readOpenai(data);
      else this.#readAnthropic(data);
    }
  }

  #readOpenai(chunk: JsonObject): void {
    if (!isJsonObject(chunk.usage)) return;
    const usage = openaiUsage(chunk.usage);
    if (usage !== undefined) this.#openai = usage;
  }

  #readAnthropic(event: JsonObject): void {
    if (event.type === 'message_start') {
      const message = event.message;
      if (isJsonObject(message) && isJsonObject(message.usage)) {
        this.#anthropic = anthropicCounts(message.usage, undefined);
      }
    } else if (event.type === 'message_delta' && isJsonObject(event.usage)) {
      // Delta counts are cumulative: the last output_tokens is the answer's; input fields,
      // when present (server tools), replace those of message_start.
      this.#anthropic = anthropicCounts(event.usage, this.#anthropic);
    }
  }
}

/**
 * True for OpenAI's usage-only chunk (`choices: []` with a usage object), which exists only
 * because `stream_options.include_usage` was set.
 */
function isUsageOnlyChunk(event: Buffer): boolean {
  const events = eventsOf(event);
  const only = events.length === 1 ? events[0] : undefined;
  if (only === undefined || !hasUsageObject(only.data)) return false;
  const data = parseJson(only.data);
  return (
    isJsonObject(data) &&
    Array.isArray(data.choices) &&
    data.choices.length === 0 &&
    isJsonObject(data.usage)
  );
}

/**
 * Passes an OpenAI stream to an app that did not ask for usage when the sidecar asked the
 * provider for it: every event byte for byte, `[DONE]` included, except the usage-only chunk,
 * which the app's SDK would not expect. Events are released whole, never split mid-event.
 */
export class OpenaiUsageStripper implements StreamConverter {
  readonly #runs = new SseRuns(MAX_EVENT_BYTES);
  /** The last run ended in CR: an LF opening the next run ends that run's last event (CRLF). */
  #endedInCr = false;
  /** That last event was the dropped usage chunk, so its LF goes too. */
  #droppedLast = false;

  /** Text for the app for this upstream chunk: the events it completed, minus the usage chunk. */
  push(chunk: Buffer): string {
    const run = this.#runs.push(chunk, true);
    return run === undefined ? '' : this.#emit(run);
  }

  /** Text for the app when the upstream stream ended: a last event left without its blank line. */
  end(): string {
    const run = this.#runs.flush();
    return run === undefined ? '' : this.#emit(run);
  }

  #emit(run: Buffer): string {
    let start = 0;
    let from = 0;
    if (this.#endedInCr && run[0] === LF) {
      from = 1;
      if (this.#droppedLast) start = 1;
    }
    this.#endedInCr = run[run.length - 1] === CR;
    this.#droppedLast = false;
    // Runs start and end at event boundaries (ASCII), so decoding one never splits a character.
    if (!this.#runs.runHasUsage) return run.toString('utf8', start);
    let out = '';
    let kept = start;
    for (let key = usageObjectKeyAt(run, from); key !== -1; key = usageObjectKeyAt(run, from)) {
      const eventStart = previousEventStart(run, from, key);
      let eventEnd = nextEventEnd(run, key);
      if (eventEnd === -1) eventEnd = run.length;
      if (isUsageOnlyChunk(run.subarray(eventStart, eventEnd))) {
        out += run.toString('utf8', kept, eventStart);
        kept = eventEnd;
        this.#droppedLast = eventEnd === run.length;
      }
      from = eventEnd;
    }
    return kept === start ? run.toString('utf8', start) : out + run.toString('utf8', kept);
  }
}

/** The start of the event holding position `at`, searching boundaries from `from` (an event start). */
function previousEventStart(run: Buffer, from: number, at: number): number {
  let start = from;
  for (let end = nextEventEnd(run, from); end !== -1 && end <= at; end = nextEventEnd(run, end)) {
    start = end;
  }
  return start;
}

/**
 * An OpenAI streaming request body that asks for the final usage chunk, so cost can be counted
 * for apps that did not ask; `added` says the stripper must hide that chunk from the app.
 * Other bodies are returned as they are.
 */
export function withStreamUsage(body: Record<string, unknown>): {
  readonly body: Record<string, unknown>;
  readonly added: boolean;
} {
  if (body.stream !== true || wantsStreamUsage(body)) return { body, added: false };
  const options = isJsonObject(body.stream_options) ? body.stream_options : {};
  return { body: { ...body, stream_options: { ...options, include_usage: true } }, added: true };
}
