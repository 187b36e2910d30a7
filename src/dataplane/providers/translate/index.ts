/**
 * Translation between OpenAI chat completions and Anthropic Messages, for fallback targets that
 * speak the other API: requests, answers, errors and streams, both directions. Everything here is
 * pure (no I/O, no clock): callers pass the time and the target's facts in.
 */
export type { TranslationResult } from './translation-result.ts';
export type { JsonObject } from '../../../shared/json-object.ts';
export type * from './openai-chat-shapes.ts';
export type * from './anthropic-messages-shapes.ts';
export {
  ANTHROPIC_VERSION_WITHOUT_SAMPLING,
  DEFAULT_ANTHROPIC_MAX_TOKENS,
  openaiChatToAnthropic,
  wantsStreamUsage,
  type OpenaiToAnthropicOptions,
} from './openai-to-anthropic-request.ts';
export {
  anthropicMessagesToOpenai,
  type AnthropicToOpenaiOptions,
} from './anthropic-to-openai-request.ts';
export { anthropicMessageToOpenai } from './anthropic-to-openai-response.ts';
export { openaiCompletionToAnthropic } from './openai-to-anthropic-response.ts';
export {
  anthropicErrorBodyFromOpenai,
  anthropicErrorToOpenai,
  openaiErrorBodyFromAnthropic,
  openaiErrorToAnthropic,
  type TranslatedError,
} from './error-bodies.ts';
export {
  AnthropicToOpenaiStream,
  type AnthropicToOpenaiStreamOptions,
} from './anthropic-to-openai-stream.ts';
export { OpenaiToAnthropicStream } from './openai-to-anthropic-stream.ts';
export { finishReasonFromStopReason, stopReasonFromFinishReason } from './stop-reasons.ts';
export { anthropicUsageFromOpenai, openaiUsageFromAnthropic } from './usage-tokens.ts';
