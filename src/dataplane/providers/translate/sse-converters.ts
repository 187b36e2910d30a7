/**
 * Byte-level stream converters: an SSE parser feeding a stream translator, in the shape the
 * attempt's response adapter consumes (upstream bytes in, text for the app out, nothing
 * buffered beyond an unfinished line).
 */
import {
  AnthropicToOpenaiStream,
  type AnthropicToOpenaiStreamOptions,
} from './anthropic-to-openai-stream.ts';
import { OpenaiToAnthropicStream } from './openai-to-anthropic-stream.ts';
import { SseParser, type SseEvent } from './sse-parser.ts';

/** Converts one upstream event stream into the app's format. */
export interface SseConverter {
  /** Text to send to the app for this upstream chunk (may be empty). */
  push(chunk: Buffer | string): string;
  /** Text to send when the upstream stream ended cleanly (a final event without its blank line). */
  end(): string;
  /** True once the translated stream is over (terminator or error sent). */
  readonly finished: boolean;
}

interface EventTranslator {
  push(event: SseEvent): string;
  readonly finished: boolean;
}

/** Anthropic Messages SSE bytes → OpenAI chat completion chunks. */
export function anthropicToOpenaiSse(options: AnthropicToOpenaiStreamOptions): SseConverter {
  return converter(new AnthropicToOpenaiStream(options));
}

/** OpenAI chat completion chunk SSE bytes → Anthropic Messages events. */
export function openaiToAnthropicSse(): SseConverter {
  return converter(new OpenaiToAnthropicStream());
}

function converter(translator: EventTranslator): SseConverter {
  const parser = new SseParser();
  const translate = (events: SseEvent[]): string => {
    let out = '';
    for (const event of events) out += translator.push(event);
    return out;
  };
  return {
    push: (chunk) => translate(parser.push(chunk)),
    end: () => translate(parser.finish()),
    get finished() {
      return translator.finished;
    },
  };
}
