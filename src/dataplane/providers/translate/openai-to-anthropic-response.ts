/**
 * OpenAI `chat.completion` → Anthropic `message`, so an app using the Anthropic SDK reads an
 * answer served by an OpenAI fallback as if Anthropic had given it.
 *
 * - `content` becomes one text block (omitted when empty: Anthropic rejects empty text blocks
 *   when the app sends the turn back), then one tool_use block per tool call, ids kept and
 *   arguments parsed; arguments that are not a JSON object fail the translation, since an
 *   Anthropic tool_use always carries an object.
 * - A `refusal` (structured outputs) becomes the text and stop_reason `refusal`.
 * - Custom (free-form) tool calls and audio are never requested by a translated request; they
 *   fail the translation rather than silently lose part of the answer. URL annotations are
 *   dropped (only web search, never requested, produces them).
 * - `stop_sequence` is always null: OpenAI does not say which sequence stopped it.
 * - The fields the Messages API added later (`container`, `stop_details`, `diagnostics`) are
 *   null; tool_use blocks carry no `caller`, so the app can send them back under any version.
 */
import type {
  AnthropicMessageResponse,
  AnthropicTextBlock,
  AnthropicToolUseBlock,
} from './anthropic-messages-shapes.ts';
import { isJsonObject, parseJsonObject } from '../../../shared/json-object.ts';

import { stopReasonFromFinishReason } from './stop-reasons.ts';
import { translating, untranslatable, type TranslationResult } from './translation-result.ts';
import { anthropicUsageFromOpenai } from './usage-tokens.ts';

/** Translates an OpenAI chat completion into an Anthropic message, or says why it cannot. */
export function openaiCompletionToAnthropic(
  completion: unknown,
): TranslationResult<AnthropicMessageResponse> {
  return translating(() => translateCompletion(completion));
}

function translateCompletion(completion: unknown): AnthropicMessageResponse {
  if (
    !isJsonObject(completion) ||
    typeof completion.id !== 'string' ||
    typeof completion.model !== 'string' ||
    !Array.isArray(completion.choices)
  ) {
    untranslatable('the OpenAI answer is not a chat completion');
  }
  // A translated request never asks for n > 1: the first choice is the answer.
  const choice: unknown = completion.choices[0];
  if (!isJsonObject(choice) || !isJsonObject(choice.message)) {
    untranslatable('the OpenAI answer has no choice');
  }
  const message = choice.message;
  if (message.audio !== undefined && message.audio !== null) {
    untranslatable('audio answers have no Anthropic mapping');
  }
  const content: (AnthropicTextBlock | AnthropicToolUseBlock)[] = [];
  const refusal = typeof message.refusal === 'string' && message.refusal !== '';
  const text = refusal ? message.refusal : message.content;
  if (typeof text === 'string') {
    if (text !== '') content.push({ type: 'text', text });
  } else if (text !== null && text !== undefined) {
    untranslatable('the OpenAI answer content is invalid');
  }
  const toolCalls = message.tool_calls;
  if (Array.isArray(toolCalls)) {
    for (const call of toolCalls as unknown[]) content.push(toolUseOf(call));
  } else if (toolCalls !== undefined && toolCalls !== null) {
    untranslatable('the OpenAI answer tool_calls are invalid');
  }
  return {
    id: completion.id,
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content,
    stop_reason: refusal ? 'refusal' : stopReasonFromFinishReason(choice.finish_reason),
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: anthropicUsageFromOpenai(completion.usage),
  };
}

function toolUseOf(call: unknown): AnthropicToolUseBlock {
  if (!isJsonObject(call)) untranslatable('the OpenAI answer has an invalid tool call');
  if (call.type === 'custom') untranslatable('custom tool calls have no Anthropic mapping');
  const fn = call.function;
  if (
    typeof call.id !== 'string' ||
    !isJsonObject(fn) ||
    typeof fn.name !== 'string' ||
    typeof fn.arguments !== 'string'
  ) {
    untranslatable('the OpenAI answer has an invalid tool call');
  }
  const input = fn.arguments.trim() === '' ? {} : parseJsonObject(fn.arguments);
  if (input === undefined) untranslatable('tool call arguments are not a JSON object');
  return { type: 'tool_use', id: call.id, name: fn.name, input };
}
