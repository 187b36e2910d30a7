/**
 * Token usage, both ways. The two APIs count the prompt differently: OpenAI's `prompt_tokens` is
 * the whole prompt with cache hits itemised inside it; Anthropic's `input_tokens` excludes cache
 * reads and cache writes, which it reports beside it. Totals are preserved in both directions so
 * cost dashboards keep adding up after a fallback.
 */
import type { AnthropicDeltaUsage, AnthropicUsage } from './anthropic-messages-shapes.ts';
import { isJsonObject } from '../../../shared/json-object.ts';
import { tokenCountOf } from './json-values.ts';
import type { OpenaiUsage } from './openai-chat-shapes.ts';

/** OpenAI usage for an Anthropic `usage` object (missing fields count as 0). */
export function openaiUsageFromAnthropic(usage: unknown): OpenaiUsage {
  const u = isJsonObject(usage) ? usage : {};
  const cacheRead = tokenCountOf(u.cache_read_input_tokens);
  const prompt =
    tokenCountOf(u.input_tokens) + tokenCountOf(u.cache_creation_input_tokens) + cacheRead;
  const completion = tokenCountOf(u.output_tokens);
  const details = isJsonObject(u.output_tokens_details) ? u.output_tokens_details : {};
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
    completion_tokens_details: { reasoning_tokens: tokenCountOf(details.thinking_tokens) },
  };
}

/** Anthropic usage for an OpenAI `usage` object (missing fields count as 0). */
export function anthropicUsageFromOpenai(usage: unknown): AnthropicUsage {
  const parts = anthropicCountsFromOpenai(usage);
  return {
    input_tokens: parts.input,
    output_tokens: parts.output,
    cache_creation_input_tokens: parts.cacheWrite,
    cache_read_input_tokens: parts.cacheRead,
    cache_creation: null,
    inference_geo: null,
    output_tokens_details: parts.thinking > 0 ? { thinking_tokens: parts.thinking } : null,
    server_tool_use: null,
    service_tier: null,
    speed: null,
  };
}

/** The cumulative usage of a `message_delta` event for an OpenAI `usage` object. */
export function anthropicDeltaUsageFromOpenai(usage: unknown): AnthropicDeltaUsage {
  const parts = anthropicCountsFromOpenai(usage);
  return {
    input_tokens: parts.input,
    output_tokens: parts.output,
    cache_creation_input_tokens: parts.cacheWrite,
    cache_read_input_tokens: parts.cacheRead,
    output_tokens_details: parts.thinking > 0 ? { thinking_tokens: parts.thinking } : null,
    server_tool_use: null,
  };
}

interface AnthropicCounts {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  readonly thinking: number;
}

function anthropicCountsFromOpenai(usage: unknown): AnthropicCounts {
  const u = isJsonObject(usage) ? usage : {};
  const prompt = isJsonObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const completion = isJsonObject(u.completion_tokens_details) ? u.completion_tokens_details : {};
  const cacheRead = tokenCountOf(prompt.cached_tokens);
  const cacheWrite = tokenCountOf(prompt.cache_write_tokens);
  return {
    // Cache hits and writes are inside prompt_tokens; Anthropic reports them beside input_tokens.
    input: Math.max(0, tokenCountOf(u.prompt_tokens) - cacheRead - cacheWrite),
    output: tokenCountOf(u.completion_tokens),
    cacheRead,
    cacheWrite,
    thinking: tokenCountOf(completion.reasoning_tokens),
  };
}
