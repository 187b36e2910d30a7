/**
 * Anthropic `message` response → OpenAI `chat.completion`, so an app using the OpenAI SDK reads
 * an answer served by an Anthropic fallback as if OpenAI had given it.
 *
 * - Text blocks join into `content` (citations and block boundaries split text that belongs
 *   together); no text gives `null` beside tool calls and `""` otherwise, as OpenAI does.
 * - tool_use blocks become `tool_calls` with the same ids and `JSON.stringify`'d input.
 * - thinking / redacted_thinking blocks are dropped: chat completions never return reasoning.
 * - Any other block (server tools, which are never requested by a translated request) makes the
 *   translation fail rather than silently lose part of the answer.
 * - `model` is the model the target reports; `id` is the upstream message id (optionally
 *   prefixed), so the answer stays traceable in the provider's logs.
 * - `finish_reason` and usage follow stop-reasons.ts and usage-tokens.ts.
 */
import { isJsonObject } from '../../../shared/json-object.ts';

import type { OpenaiChatCompletion, OpenaiToolCall } from './openai-chat-shapes.ts';
import { finishReasonFromStopReason } from './stop-reasons.ts';
import {
  quoted,
  translating,
  untranslatable,
  type TranslationResult,
} from './translation-result.ts';
import { openaiUsageFromAnthropic } from './usage-tokens.ts';

/** Translates an Anthropic message into an OpenAI chat completion, or says why it cannot. */
export function anthropicMessageToOpenai(
  message: unknown,
  nowSeconds: number,
  idPrefix = '',
): TranslationResult<OpenaiChatCompletion> {
  return translating(() => translateMessage(message, nowSeconds, idPrefix));
}

function translateMessage(
  message: unknown,
  nowSeconds: number,
  idPrefix: string,
): OpenaiChatCompletion {
  if (
    !isJsonObject(message) ||
    message.type !== 'message' ||
    typeof message.id !== 'string' ||
    typeof message.model !== 'string' ||
    !Array.isArray(message.content)
  ) {
    untranslatable('the Anthropic answer is not a message');
  }
  const texts: string[] = [];
  const toolCalls: OpenaiToolCall[] = [];
  for (const block of message.content as unknown[]) {
    if (!isJsonObject(block)) untranslatable('the Anthropic answer has an invalid block');
    switch (block.type) {
      case 'text':
        if (typeof block.text !== 'string') untranslatable('the Anthropic answer is invalid');
        texts.push(block.text);
        break;
      case 'tool_use':
        toolCalls.push(toolCallOf(block));
        break;
      case 'thinking':
      case 'redacted_thinking':
        break;
      default:
        untranslatable(`${quoted(block.type)} blocks in an answer have no OpenAI mapping`);
    }
  }
  const content = texts.length > 0 ? texts.join('') : toolCalls.length > 0 ? null : '';
  return {
    id: idPrefix + message.id,
    object: 'chat.completion',
    created: Math.floor(nowSeconds),
    model: message.model,
    choices: [
      {
        index: 0,
        message:
          toolCalls.length === 0
            ? { role: 'assistant', content, refusal: null }
            : { role: 'assistant', content, refusal: null, tool_calls: toolCalls },
        logprobs: null,
        finish_reason: finishReasonFromStopReason(message.stop_reason),
      },
    ],
    usage: openaiUsageFromAnthropic(message.usage),
  };
}

function toolCallOf(block: Record<string, unknown>): OpenaiToolCall {
  if (typeof block.id !== 'string' || typeof block.name !== 'string') {
    untranslatable('the Anthropic answer has an invalid tool_use block');
  }
  return {
    id: block.id,
    type: 'function',
    function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
  };
}
