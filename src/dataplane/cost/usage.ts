/**
 * Token usage as the providers report it. A complete JSON answer carries one top-level `usage`
 * object after its content in every API (chat completions, Messages, Responses), so only the
 * answer's tail is kept and searched; a stream's usage events are read by the stream grammar
 * (providers/stream-grammar.ts) with the helpers here.
 */
import { parseJsonObject, type JsonObject } from '../../shared/json-object.ts';
import { tokenCountOf } from '../providers/translate/json-values.ts';

/** Tokens of one answer: what cost is computed from and what token metrics count. */
export interface Usage {
  /** Every prompt token, cached or not (Anthropic cache reads and writes included). */
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * Where usage fields are named: OpenAI chat (`prompt_tokens`), or Anthropic Messages and the
 * OpenAI Responses API (`input_tokens`, `output_tokens`).
 */
export type UsageFormat = 'openai' | 'anthropic';

/** Bytes of an answer's end kept to find its usage (the usage object and what follows it). */
export const USAGE_TAIL_BYTES = 16 * 1024;

const USAGE_KEY = Buffer.from('"usage"');

/**
 * Usage of a complete JSON answer, given its last USAGE_TAIL_BYTES (or all of it); undefined
 * when it reports none. The last `"usage"` key followed by an object is the answer's own:
 * fields after it (`system_fingerprint`, `metadata`) are small scalars.
 */
export function usageFromTail(format: UsageFormat, tail: Buffer): Usage | undefined {
  for (let at = tail.lastIndexOf(USAGE_KEY); at !== -1;) {
    let i = at + USAGE_KEY.length;
    while (isSpace(tail[i])) i++;
    if (tail[i] === 0x3a) {
      i++;
      while (isSpace(tail[i])) i++;
      if (tail[i] !== 0x7b) return undefined; // "usage": null — the answer reports none
      const end = objectEnd(tail, i);
      if (end === -1) return undefined;
      const usage = parseJsonObject(tail.toString('utf8', i, end));
      return usage === undefined ? undefined : usageOf(format, usage);
    }
    at = at === 0 ? -1 : tail.lastIndexOf(USAGE_KEY, at - 1);
  }
  return undefined;
}

/** Usage of a parsed usage object in either naming. */
export function usageOf(format: UsageFormat, usage: JsonObject): Usage | undefined {
  return format === 'openai' ? openaiUsage(usage) : anthropicUsage(usage, undefined);
}

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** The end (exclusive) of the JSON object starting at `start`; -1 when it does not close. */
function objectEnd(buf: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < buf.length; i++) {
    const b = buf[i];
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x7b) {
      depth++;
    } else if (b === 0x7d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Chat completions usage (`prompt_tokens` already includes cached tokens). */
export function openaiUsage(usage: JsonObject): Usage | undefined {
  if (!isCount(usage.prompt_tokens) && !isCount(usage.completion_tokens)) return undefined;
  return {
    inputTokens: tokenCountOf(usage.prompt_tokens),
    outputTokens: tokenCountOf(usage.completion_tokens),
  };
}

/** Anthropic's input fields, kept apart because a `message_delta` may update any of them. */
export interface AnthropicCounts {
  readonly input: number;
  readonly cacheWrite: number;
  readonly cacheRead: number;
  readonly output: number;
}

/** Applies the counts present in `usage` over `base` (a `message_delta` repeats only some). */
export function anthropicCounts(
  usage: JsonObject,
  base: AnthropicCounts | undefined,
): AnthropicCounts {
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

export function usageOfCounts(counts: AnthropicCounts): Usage {
  // input_tokens excludes cache reads and writes; both are prompt tokens the provider served.
  return {
    inputTokens: counts.input + counts.cacheWrite + counts.cacheRead,
    outputTokens: counts.output,
  };
}

/** Keeps the last USAGE_TAIL_BYTES of a body as it passes (no copy of the whole answer). */
export class BodyTail {
  #chunks: Buffer[] = [];
  #bytes = 0;

  push(chunk: Buffer): void {
    const chunks = this.#chunks;
    chunks.push(chunk);
    this.#bytes += chunk.length;
    let drop = 0;
    while (
      drop < chunks.length - 1 &&
      this.#bytes - (chunks[drop]?.length ?? 0) >= USAGE_TAIL_BYTES
    ) {
      this.#bytes -= chunks[drop]?.length ?? 0;
      drop++;
    }
    if (drop > 0) chunks.splice(0, drop);
    // Many small chunks (a slow upstream) are folded into one copy of the window.
    if (chunks.length > 64) {
      const all = Buffer.concat(chunks);
      const keep = Buffer.from(all.subarray(Math.max(0, all.length - USAGE_TAIL_BYTES)));
      this.#chunks = [keep];
      this.#bytes = keep.length;
    }
  }

  usage(format: UsageFormat): Usage | undefined {
    if (this.#bytes === 0) return undefined;
    const all = Buffer.concat(this.#chunks);
    return usageFromTail(format, all.subarray(Math.max(0, all.length - USAGE_TAIL_BYTES)));
  }
}
