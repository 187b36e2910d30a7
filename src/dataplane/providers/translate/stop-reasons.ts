/**
 * Why generation stopped, both ways. Shared by the response and the stream translators so a
 * streamed answer and a whole one always report the same reason.
 *
 * | Anthropic `stop_reason`       | OpenAI `finish_reason`                                    |
 * | ----------------------------- | --------------------------------------------------------- |
 * | end_turn, stop_sequence       | stop                                                      |
 * | max_tokens                    | length                                                    |
 * | model_context_window_exceeded | length (OpenAI reports a full context the same way)       |
 * | tool_use                      | tool_calls                                                |
 * | refusal                       | content_filter                                            |
 * | pause_turn                    | stop (only server tools pause; they are never translated) |
 *
 * OpenAI does not say whether `stop` came from a stop sequence or a natural end, so `stop` maps
 * to `end_turn` (with `stop_sequence: null`): the text is the same either way.
 */
import type { AnthropicStopReason } from './anthropic-messages-shapes.ts';
import type { OpenaiFinishReason } from './openai-chat-shapes.ts';

/** OpenAI `finish_reason` for an Anthropic `stop_reason` (unknown or null: `stop`). */
export function finishReasonFromStopReason(stopReason: unknown): OpenaiFinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/** Anthropic `stop_reason` for an OpenAI `finish_reason` (unknown or null: `end_turn`). */
export function stopReasonFromFinishReason(finishReason: unknown): AnthropicStopReason {
  switch (finishReason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}
