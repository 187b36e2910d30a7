/**
 * Anthropic Messages request → OpenAI chat completions request, for a fallback target that speaks
 * OpenAI (or Azure OpenAI, which differs in URL and auth only). A field is either mapped, dropped
 * (it only affects cost, latency, caching or routing, never what the answer says or how it is
 * shaped) or makes the target skipped with a reason (ignoring it would change the answer).
 * Unknown fields skip too: a field this file has never seen may change the answer.
 *
 * | Anthropic field                           | Handling                                          |
 * | ----------------------------------------- | ------------------------------------------------- |
 * | model                                     | replaced by the target's mapped model             |
 * | system (string or text blocks)            | leading system message                            |
 * | messages: role system (mid-conversation)  | system message at the same position               |
 * | messages: user, assistant                 | user / assistant messages                         |
 * | text, image (base64 / url source)         | text part, image_url part (base64 as data: URL)   |
 * | image with file source, document,         | SKIP (no chat completions equivalent)             |
 * |   search_result, server tool blocks       |                                                   |
 * | tool_use (assistant)                      | tool_calls, ids kept, input JSON.stringify'd      |
 * | tool_result (user)                        | role:tool messages before the rest of the turn,   |
 * |                                           | ids kept; text content only (images: SKIP)        |
 * | tool_result is_error                      | dropped (OpenAI has no flag; the text says it)    |
 * | thinking / redacted_thinking in history   | dropped (earlier turns' thinking is not context   |
 * |                                           | for OpenAI models either)                         |
 * | conversation ending with assistant        | SKIP (prefill has no OpenAI equivalent)           |
 * | max_tokens                                | max_completion_tokens (counts reasoning tokens    |
 * |                                           | like Anthropic's counts thinking); `max_tokens`   |
 * |                                           | by option for older OpenAI-compatible servers     |
 * | max_tokens: 0 (cache pre-warming)         | SKIP                                              |
 * | stop_sequences                            | stop (SKIP above OpenAI's limit of 4)             |
 * | temperature (0..1), top_p                 | same values (OpenAI's range includes Anthropic's) |
 * | top_k                                     | SKIP (no OpenAI equivalent; it narrows sampling)  |
 * | metadata.user_id                          | user                                              |
 * | tools (client tools)                      | function tools {name, description, parameters,    |
 * |                                           | strict}                                           |
 * | tools (server / built-in: web search,     | SKIP                                              |
 * |   bash, code execution, computer, ...),   |                                                   |
 * |   input_examples, defer_loading,          |                                                   |
 * |   allowed_callers other than direct       |                                                   |
 * | tool cache_control, eager_input_streaming | dropped (caching, stream granularity)             |
 * | tool_choice auto/any/tool/none            | auto/required/function/none                       |
 * | disable_parallel_tool_use                 | parallel_tool_calls: false                        |
 * | thinking (enabled, adaptive, ...)         | SKIP; `disabled` is dropped                       |
 * | output_config.format json_schema          | response_format json_schema, strict               |
 * | output_config.effort                      | dropped (a compute budget hint, not content)      |
 * | stream                                    | stream + stream_options.include_usage (Anthropic  |
 * |                                           | streams always report usage)                      |
 * | service_tier, speed, inference_geo,       | dropped (capacity, routing, caching, diagnostics) |
 * |   cache_control, diagnostics              |                                                   |
 * | container                                 | SKIP (code execution containers)                  |
 * | anything else                             | SKIP                                              |
 */
import { isJsonObject, type JsonObject } from '../../../shared/json-object.ts';
import { numberOf } from './json-values.ts';
import type {
  OpenaiChatRequest,
  OpenaiFunctionTool,
  OpenaiImagePart,
  OpenaiMessage,
  OpenaiTextPart,
  OpenaiToolCall,
  OpenaiToolChoice,
} from './openai-chat-shapes.ts';
import {
  quoted,
  translating,
  untranslatable,
  type TranslationResult,
} from './translation-result.ts';

/** What the caller knows about the OpenAI target. */
export interface AnthropicToOpenaiOptions {
  /**
   * The field that carries the output budget: `max_completion_tokens` (OpenAI, Azure OpenAI; the
   * default) or the deprecated `max_tokens` some OpenAI-compatible servers still expect.
   */
  readonly maxTokensField?: 'max_completion_tokens' | 'max_tokens';
}

/** Translates an Anthropic Messages request for an OpenAI target, or says why it cannot. */
export function anthropicMessagesToOpenai(
  body: Record<string, unknown>,
  targetModel: string,
  options: AnthropicToOpenaiOptions = {},
): TranslationResult<OpenaiChatRequest> {
  return translating(() => translateRequest(body, targetModel, options));
}

const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'max_tokens',
  'system',
  'stop_sequences',
  'temperature',
  'top_p',
  'top_k',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'stream',
  'output_config',
  'service_tier',
  'speed',
  'inference_geo',
  'cache_control',
  'diagnostics',
  'container',
]);

/** OpenAI rejects more stop sequences than this. */
const MAX_OPENAI_STOP_SEQUENCES = 4;
/** OpenAI function names: ^[a-zA-Z0-9_-]{1,64}$ (Anthropic allows longer ones). */
const OPENAI_FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function translateRequest(
  body: JsonObject,
  targetModel: string,
  options: AnthropicToOpenaiOptions,
): OpenaiChatRequest {
  for (const key of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(key)) untranslatable(`field ${quoted(key)} has no OpenAI mapping`);
  }
  rejectUnmappable(body);
  const messages = [...systemMessagesOf(body.system), ...translateMessages(body.messages)];
  const out: OpenaiChatRequest = { model: targetModel, messages };
  out[options.maxTokensField ?? 'max_completion_tokens'] = maxTokensOf(body.max_tokens);
  const temperature = rangeField(body, 'temperature', 1);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = rangeField(body, 'top_p', 1);
  if (topP !== undefined) out.top_p = topP;
  const stop = stopOf(body.stop_sequences);
  if (stop !== undefined) out.stop = stop;
  const user = userOf(body.metadata);
  if (user !== undefined) out.user = user;
  applyTools(body, out);
  const schema = jsonSchemaOf(body.output_config);
  if (schema !== undefined) {
    // Anthropic structured outputs always constrain decoding: that is OpenAI's strict mode.
    out.response_format = {
      type: 'json_schema',
      json_schema: { name: 'response', schema, strict: true },
    };
  }
  if (body.stream === true) {
    out.stream = true;
    // Anthropic streams always end with usage; OpenAI sends it only when asked.
    out.stream_options = { include_usage: true };
  }
  return out;
}

function rejectUnmappable(body: JsonObject): void {
  if (body.top_k !== undefined && body.top_k !== null) {
    untranslatable('top_k has no OpenAI equivalent');
  }
  const thinking = body.thinking;
  if (thinking !== undefined && thinking !== null) {
    if (!(isJsonObject(thinking) && thinking.type === 'disabled')) {
      untranslatable('extended thinking has no OpenAI chat completions equivalent');
    }
  }
  if (body.container !== undefined && body.container !== null) {
    untranslatable('containers (code execution) have no OpenAI equivalent');
  }
}

function maxTokensOf(value: unknown): number {
  if (value === undefined || value === null) untranslatable('max_tokens is required');
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    untranslatable('max_tokens must be a non-negative integer');
  }
  if (value === 0) untranslatable('max_tokens 0 (cache pre-warming) has no OpenAI equivalent');
  return value;
}

function stopOf(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) {
    untranslatable('stop_sequences must be an array of strings');
  }
  const sequences: string[] = value;
  if (sequences.length > MAX_OPENAI_STOP_SEQUENCES) {
    untranslatable(`OpenAI accepts at most ${MAX_OPENAI_STOP_SEQUENCES} stop sequences`);
  }
  return sequences.length === 0 ? undefined : [...sequences];
}

function userOf(metadata: unknown): string | undefined {
  if (metadata === undefined || metadata === null) return undefined;
  if (!isJsonObject(metadata)) untranslatable('metadata is invalid');
  const userId = metadata.user_id;
  if (userId === undefined || userId === null || userId === '') return undefined;
  if (typeof userId !== 'string') untranslatable('metadata.user_id must be a string');
  return userId;
}

// ---- messages ----------------------------------------------------------------------------

function systemMessagesOf(system: unknown): OpenaiMessage[] {
  if (system === undefined || system === null) return [];
  const content = systemContentOf(system, 'system');
  return content === undefined ? [] : [{ role: 'system', content }];
}

/** A system prompt as OpenAI content: one block stays a string, several stay separate parts. */
function systemContentOf(system: unknown, where: string): string | OpenaiTextPart[] | undefined {
  if (typeof system === 'string') return system === '' ? undefined : system;
  if (!Array.isArray(system)) untranslatable(`${where} is invalid`);
  const parts: OpenaiTextPart[] = [];
  for (const block of system as unknown[]) {
    if (!isJsonObject(block) || block.type !== 'text' || typeof block.text !== 'string') {
      untranslatable(`${where} must be text blocks`);
    }
    if (block.text !== '') parts.push({ type: 'text', text: block.text });
  }
  if (parts.length === 0) return undefined;
  return parts.length === 1 && parts[0] !== undefined ? parts[0].text : parts;
}

function translateMessages(value: unknown): OpenaiMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    untranslatable('messages must be a non-empty array');
  }
  const out: OpenaiMessage[] = [];
  let lastRole: 'user' | 'assistant' | undefined;
  for (const [i, raw] of (value as unknown[]).entries()) {
    if (!isJsonObject(raw)) untranslatable(`messages[${i}] is not an object`);
    switch (raw.role) {
      case 'user':
        out.push(...userMessagesOf(raw.content, i));
        lastRole = 'user';
        break;
      case 'assistant': {
        const message = assistantMessageOf(raw.content, i);
        if (message !== undefined) out.push(message);
        lastRole = 'assistant';
        break;
      }
      case 'system': {
        // Mid-conversation system turns apply from where they stand; OpenAI allows the same.
        const content = systemContentOf(raw.content, `messages[${i}].content`);
        if (content !== undefined) out.push({ role: 'system', content });
        break;
      }
      default:
        untranslatable(`messages[${i}] has an unknown role`);
    }
  }
  if (lastRole === 'assistant') untranslatable('assistant prefill has no OpenAI equivalent');
  if (lastRole === undefined) untranslatable('no user or assistant message to answer');
  return out;
}

/** A user turn: its tool results become tool messages first, then the rest is one message. */
function userMessagesOf(content: unknown, i: number): OpenaiMessage[] {
  if (typeof content === 'string') {
    return content === '' ? [] : [{ role: 'user', content }];
  }
  if (!Array.isArray(content)) untranslatable(`messages[${i}].content is invalid`);
  const toolMessages: OpenaiMessage[] = [];
  const parts: (OpenaiTextPart | OpenaiImagePart)[] = [];
  for (const block of content as unknown[]) {
    if (!isJsonObject(block)) untranslatable(`messages[${i}].content has an invalid block`);
    switch (block.type) {
      case 'text':
        if (typeof block.text !== 'string') untranslatable(`messages[${i}]: text block is invalid`);
        if (block.text !== '') parts.push({ type: 'text', text: block.text });
        break;
      case 'image':
        parts.push(imagePartOf(block.source, i));
        break;
      case 'tool_result':
        toolMessages.push(toolMessageOf(block, i));
        break;
      default:
        untranslatable(`${quoted(block.type)} blocks have no OpenAI mapping`);
    }
  }
  if (parts.length === 0) return toolMessages;
  return [...toolMessages, { role: 'user', content: parts }];
}

function imagePartOf(source: unknown, i: number): OpenaiImagePart {
  if (!isJsonObject(source)) untranslatable(`messages[${i}]: image source is invalid`);
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string' || typeof source.data !== 'string') {
      untranslatable(`messages[${i}]: image source is invalid`);
    }
    return {
      type: 'image_url',
      image_url: { url: `data:${source.media_type};base64,${source.data}` },
    };
  }
  if (source.type === 'url') {
    if (typeof source.url !== 'string') untranslatable(`messages[${i}]: image source is invalid`);
    return { type: 'image_url', image_url: { url: source.url } };
  }
  untranslatable(`image source ${quoted(source.type)} has no OpenAI equivalent`);
}

function toolMessageOf(block: JsonObject, i: number): OpenaiMessage {
  if (typeof block.tool_use_id !== 'string') {
    untranslatable(`messages[${i}]: tool_result is invalid`);
  }
  const toolCallId = block.tool_use_id;
  const content = block.content;
  if (content === undefined || content === null) {
    return { role: 'tool', tool_call_id: toolCallId, content: '' };
  }
  if (typeof content === 'string') return { role: 'tool', tool_call_id: toolCallId, content };
  if (!Array.isArray(content)) untranslatable(`messages[${i}]: tool_result is invalid`);
  const parts: OpenaiTextPart[] = [];
  for (const item of content as unknown[]) {
    if (!isJsonObject(item)) untranslatable(`messages[${i}]: tool_result is invalid`);
    if (item.type === 'image') untranslatable('images in tool results have no OpenAI equivalent');
    if (item.type !== 'text' || typeof item.text !== 'string') {
      untranslatable(`${quoted(item.type)} blocks in tool results have no OpenAI mapping`);
    }
    if (item.text !== '') parts.push({ type: 'text', text: item.text });
  }
  return { role: 'tool', tool_call_id: toolCallId, content: parts };
}

function assistantMessageOf(content: unknown, i: number): OpenaiMessage | undefined {
  if (typeof content === 'string') {
    return content === '' ? undefined : { role: 'assistant', content };
  }
  if (!Array.isArray(content)) untranslatable(`messages[${i}].content is invalid`);
  const texts: OpenaiTextPart[] = [];
  const toolCalls: OpenaiToolCall[] = [];
  for (const block of content as unknown[]) {
    if (!isJsonObject(block)) untranslatable(`messages[${i}].content has an invalid block`);
    switch (block.type) {
      case 'text':
        if (typeof block.text !== 'string') untranslatable(`messages[${i}]: text block is invalid`);
        if (block.text !== '') texts.push({ type: 'text', text: block.text });
        break;
      case 'tool_use':
        toolCalls.push(toolCallOf(block, i));
        break;
      case 'thinking':
      case 'redacted_thinking':
        break;
      default:
        untranslatable(`${quoted(block.type)} blocks have no OpenAI mapping`);
    }
  }
  if (texts.length === 0 && toolCalls.length === 0) return undefined;
  const text = texts.length === 0 ? null : texts.length === 1 && texts[0] ? texts[0].text : texts;
  return toolCalls.length === 0
    ? { role: 'assistant', content: text }
    : { role: 'assistant', content: text, tool_calls: toolCalls };
}

function toolCallOf(block: JsonObject, i: number): OpenaiToolCall {
  if (typeof block.id !== 'string' || typeof block.name !== 'string') {
    untranslatable(`messages[${i}]: tool_use is invalid`);
  }
  const input = block.input ?? {};
  if (!isJsonObject(input)) untranslatable(`messages[${i}]: tool_use input must be an object`);
  return {
    id: block.id,
    type: 'function',
    function: { name: block.name, arguments: JSON.stringify(input) },
  };
}

// ---- tools -------------------------------------------------------------------------------

function applyTools(body: JsonObject, out: OpenaiChatRequest): void {
  const rawTools = body.tools;
  if (rawTools === undefined || rawTools === null) return;
  if (!Array.isArray(rawTools)) untranslatable('tools must be an array');
  if (rawTools.length === 0) return;
  out.tools = (rawTools as unknown[]).map(toolOf);
  const choice = body.tool_choice;
  if (choice === undefined || choice === null) return;
  if (!isJsonObject(choice)) untranslatable('tool_choice is invalid');
  let mapped: OpenaiToolChoice;
  switch (choice.type) {
    case 'auto':
      mapped = 'auto';
      break;
    case 'any':
      mapped = 'required';
      break;
    case 'none':
      mapped = 'none';
      break;
    case 'tool':
      if (typeof choice.name !== 'string') untranslatable('tool_choice is invalid');
      mapped = { type: 'function', function: { name: choice.name } };
      break;
    default:
      untranslatable('tool_choice is invalid');
  }
  out.tool_choice = mapped;
  if (choice.disable_parallel_tool_use === true && mapped !== 'none') {
    out.parallel_tool_calls = false;
  }
}

function toolOf(tool: unknown): OpenaiFunctionTool {
  if (!isJsonObject(tool)) untranslatable('a tool definition is invalid');
  if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
    untranslatable(`Anthropic tool ${quoted(tool.type)} has no OpenAI equivalent`);
  }
  if (typeof tool.name !== 'string' || !isJsonObject(tool.input_schema)) {
    untranslatable('a tool definition is invalid');
  }
  if (!OPENAI_FUNCTION_NAME.test(tool.name)) {
    untranslatable('a tool name is longer or wider than OpenAI accepts');
  }
  if (Array.isArray(tool.input_examples) && tool.input_examples.length > 0) {
    untranslatable('tool input_examples have no OpenAI equivalent');
  }
  if (tool.defer_loading === true) untranslatable('deferred tool loading has no OpenAI equivalent');
  const callers = tool.allowed_callers;
  if (Array.isArray(callers) && callers.some((caller) => caller !== 'direct')) {
    untranslatable('programmatic tool calling has no OpenAI equivalent');
  }
  const out: OpenaiFunctionTool = {
    type: 'function',
    function: { name: tool.name, parameters: tool.input_schema },
  };
  if (typeof tool.description === 'string') out.function.description = tool.description;
  if (tool.strict === true) out.function.strict = true;
  return out;
}

function jsonSchemaOf(config: unknown): Record<string, unknown> | undefined {
  if (config === undefined || config === null) return undefined;
  if (!isJsonObject(config)) untranslatable('output_config is invalid');
  const format = config.format;
  if (format === undefined || format === null) return undefined;
  if (!isJsonObject(format) || format.type !== 'json_schema' || !isJsonObject(format.schema)) {
    untranslatable('output_config.format has no OpenAI mapping');
  }
  return format.schema;
}

// ---- field helpers -------------------------------------------------------------------------

function rangeField(body: JsonObject, key: string, max: number): number | undefined {
  const raw = body[key];
  if (raw === undefined || raw === null) return undefined;
  const value = numberOf(raw);
  if (value === undefined || value < 0 || value > max) {
    untranslatable(`${key} must be a number between 0 and ${max}`);
  }
  return value;
}
