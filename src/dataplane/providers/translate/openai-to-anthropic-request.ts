/**
 * OpenAI chat completions request → Anthropic Messages request, for a fallback target that speaks
 * Anthropic. A field is either mapped, dropped (it only affects cost, latency, caching, storage or
 * routing, never what the answer says or how it is shaped) or makes the target skipped with a
 * reason (ignoring it would change the answer the app gets). Unknown fields skip too: a field this
 * file has never seen may change the answer.
 *
 * | OpenAI field                             | Handling                                           |
 * | ---------------------------------------- | -------------------------------------------------- |
 * | model                                    | replaced by the target's mapped model              |
 * | messages: system, developer              | top-level `system` in order (developer = system);  |
 * |                                          | a mid-conversation one is hoisted there too:       |
 * |                                          | in-place system turns depend on the Claude model   |
 * | messages: user, assistant                | turns; empty ones omitted (Anthropic rejects them) |
 * | messages: tool                           | one user turn of tool_result blocks per run of     |
 * |                                          | consecutive tool messages, ids kept                |
 * | assistant tool_calls                     | tool_use blocks, ids kept, arguments parsed        |
 * | content: text, image_url (http(s)/data:) | text, image (url / base64 source)                  |
 * | content: input_audio, file               | SKIP (no Anthropic equivalent)                     |
 * | assistant audio, function_call           | SKIP                                               |
 * | message `name`, image `detail`           | dropped (no Anthropic field; content unchanged)    |
 * | conversation ending with assistant       | SKIP (Anthropic would continue it as a prefill)    |
 * | max_completion_tokens / max_tokens       | max_tokens (the first wins); default 4096, since   |
 * |                                          | Anthropic requires it                              |
 * | temperature                              | same value for 0..1 (same softmax temperature);    |
 * |                                          | SKIP above 1 (Anthropic's range ends at 1)         |
 * | top_p                                    | same value                                         |
 * | temperature/top_p = 1 (the default)      | dropped (same as not sending them)                 |
 * | temperature and top_p both non-default   | SKIP (current Claude models reject the pair)       |
 * | temperature/top_p on anthropic-version   | SKIP (2026-10-21 and later reject them with 400)   |
 * |   >= 2026-10-21                          | |                                                  |
 * | stop (string or array)                   | stop_sequences                                     |
 * | n                                        | 1 ok; SKIP above 1 (one answer per request)        |
 * | safety_identifier, user                  | metadata.user_id (safety_identifier first)         |
 * | tools (function)                         | tools {name, description, input_schema, strict}    |
 * | tools (custom, free-form text)           | SKIP                                               |
 * | tool_choice none/auto/required/function  | none/auto/any/tool                                 |
 * | tool_choice allowed_tools                | tools filtered to the allowed ones; auto/any       |
 * | parallel_tool_calls: false               | tool_choice.disable_parallel_tool_use              |
 * | response_format text                     | dropped (the default)                              |
 * | response_format json_schema              | output_config.format json_schema (structured       |
 * |                                          | outputs); the schema's name/description dropped    |
 * | response_format json_object              | SKIP (no "any JSON" mode on Anthropic)             |
 * | stream                                   | stream                                             |
 * | stream_options.include_usage             | honoured by the stream translator (Anthropic       |
 * |                                          | streams always report usage)                       |
 * | frequency_penalty, presence_penalty != 0 | SKIP (no Anthropic equivalent)                     |
 * | logit_bias (non-empty)                   | SKIP                                               |
 * | logprobs: true, top_logprobs > 0         | SKIP (the app asked for data Anthropic lacks)      |
 * | modalities with audio, audio             | SKIP                                               |
 * | verbosity other than medium              | SKIP (an explicit length control)                  |
 * | web_search_options, moderation           | SKIP                                               |
 * | functions, function_call (deprecated)    | SKIP (no call ids to preserve)                     |
 * | metadata, store                          | dropped (stored-completion tags only)              |
 * | prompt_cache_key/_retention/_options,    | dropped (caching, latency, billing tier: the       |
 * |   prediction, service_tier,              | answer is unchanged)                               |
 * |   stream_options.include_obfuscation     | |                                                  |
 * | reasoning_effort                         | dropped (a compute budget hint, not content)       |
 * | seed                                     | dropped (best-effort determinism, deprecated)      |
 * | anything else                            | SKIP                                               |
 */
import type {
  AnthropicContentBlock,
  AnthropicImageBlock,
  AnthropicImageMediaType,
  AnthropicInputSchema,
  AnthropicMessage,
  AnthropicMessagesRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
} from './anthropic-messages-shapes.ts';
import { isJsonObject, parseJsonObject, type JsonObject } from '../../../shared/json-object.ts';
import { numberOf } from './json-values.ts';
import {
  quoted,
  translating,
  untranslatable,
  type TranslationResult,
} from './translation-result.ts';

/** max_tokens sent when the app set none: Anthropic requires one and OpenAI has no default. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

/** The first anthropic-version that rejects temperature, top_p and top_k, even at defaults. */
export const ANTHROPIC_VERSION_WITHOUT_SAMPLING = '2026-10-21';

/** What the caller knows about the Anthropic target. */
export interface OpenaiToAnthropicOptions {
  /** The `anthropic-version` header the target is called with (default 2023-06-01). */
  readonly anthropicVersion?: string;
  /** max_tokens when the app set none (default DEFAULT_ANTHROPIC_MAX_TOKENS). */
  readonly defaultMaxTokens?: number;
}

/** Translates an OpenAI chat request for an Anthropic target, or says why it cannot. */
export function openaiChatToAnthropic(
  body: Record<string, unknown>,
  targetModel: string,
  options: OpenaiToAnthropicOptions = {},
): TranslationResult<AnthropicMessagesRequest> {
  return translating(() => translateRequest(body, targetModel, options));
}

/** True when an OpenAI streaming request asked for the final usage chunk. */
export function wantsStreamUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  return isJsonObject(options) && options.include_usage === true;
}

/** Fields this file knows; anything else makes the target skipped. */
const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'max_completion_tokens',
  'max_tokens',
  'temperature',
  'top_p',
  'stop',
  'n',
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'prediction',
  'service_tier',
  'reasoning_effort',
  'seed',
  'stream',
  'stream_options',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'modalities',
  'audio',
  'verbosity',
  'web_search_options',
  'moderation',
  'functions',
  'function_call',
]);

/** Anthropic's pattern for tool_use ids; other ids would be rejected with a 400. */
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

const IMAGE_TYPES: ReadonlySet<string> = new Set<AnthropicImageMediaType>([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
]);

function translateRequest(
  body: JsonObject,
  targetModel: string,
  options: OpenaiToAnthropicOptions,
): AnthropicMessagesRequest {
  for (const key of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(key)) untranslatable(`field ${quoted(key)} has no Anthropic mapping`);
  }
  rejectUnmappable(body);
  const { system, messages } = translateMessages(body.messages);
  const out: AnthropicMessagesRequest = {
    model: targetModel,
    max_tokens: maxTokensOf(body, options),
    messages,
  };
  if (system !== undefined) out.system = system;
  applySampling(body, out, options);
  const stop = stopSequencesOf(body.stop);
  if (stop !== undefined) out.stop_sequences = stop;
  const userId = userIdOf(body);
  if (userId !== undefined) out.metadata = { user_id: userId };
  applyTools(body, out);
  const schema = jsonSchemaOf(body.response_format);
  if (schema !== undefined) out.output_config = { format: { type: 'json_schema', schema } };
  if (body.stream === true) out.stream = true;
  return out;
}

/** Fields whose presence (at a non-neutral value) would change the answer. */
function rejectUnmappable(body: JsonObject): void {
  const n = present(body.n);
  if (n !== undefined && n !== 1) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) untranslatable('n is invalid');
    untranslatable('n > 1 is not supported by Anthropic');
  }
  for (const key of ['frequency_penalty', 'presence_penalty'] as const) {
    const value = present(body[key]);
    if (value !== undefined && value !== 0) untranslatable(`${key} has no Anthropic equivalent`);
  }
  const bias = present(body.logit_bias);
  if (bias !== undefined && !(isJsonObject(bias) && Object.keys(bias).length === 0)) {
    untranslatable('logit_bias has no Anthropic equivalent');
  }
  if (present(body.logprobs) === true) untranslatable('logprobs are not available from Anthropic');
  const topLogprobs = present(body.top_logprobs);
  if (topLogprobs !== undefined && topLogprobs !== 0) {
    untranslatable('logprobs are not available from Anthropic');
  }
  const modalities = present(body.modalities);
  if (
    modalities !== undefined &&
    !(Array.isArray(modalities) && modalities.every((m) => m === 'text'))
  ) {
    untranslatable('audio output is not supported by Anthropic');
  }
  if (present(body.audio) !== undefined)
    untranslatable('audio output is not supported by Anthropic');
  const verbosity = present(body.verbosity);
  if (verbosity !== undefined && verbosity !== 'medium') {
    untranslatable('verbosity has no Anthropic equivalent');
  }
  if (present(body.web_search_options) !== undefined) {
    untranslatable('web_search_options has no Anthropic equivalent');
  }
  if (present(body.moderation) !== undefined) {
    untranslatable('moderated completions are not available from Anthropic');
  }
  if (present(body.functions) !== undefined || present(body.function_call) !== undefined) {
    untranslatable('deprecated functions/function_call are not translated (use tools)');
  }
}

function maxTokensOf(body: JsonObject, options: OpenaiToAnthropicOptions): number {
  const requested = integerField(body, 'max_completion_tokens') ?? integerField(body, 'max_tokens');
  if (requested !== undefined && requested < 1) untranslatable('max_tokens must be positive');
  return requested ?? options.defaultMaxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS;
}

function applySampling(
  body: JsonObject,
  out: AnthropicMessagesRequest,
  options: OpenaiToAnthropicOptions,
): void {
  const temperature = rangeField(body, 'temperature', 2);
  const topP = rangeField(body, 'top_p', 1);
  // Both APIs divide logits by the same temperature; OpenAI just allows hotter sampling.
  if (temperature !== undefined && temperature > 1) {
    untranslatable('temperature above 1 has no Anthropic equivalent (Anthropic allows 0..1)');
  }
  // 1 is the default on both sides for both parameters: sending it or not is the same request.
  const t = temperature === 1 ? undefined : temperature;
  const p = topP === 1 ? undefined : topP;
  if (t === undefined && p === undefined) return;
  const version = options.anthropicVersion ?? '2023-06-01';
  if (!acceptsSampling(version)) {
    untranslatable(
      `${t !== undefined ? 'temperature' : 'top_p'} is rejected by anthropic-version ${quoted(version)}`,
    );
  }
  if (t !== undefined && p !== undefined) {
    untranslatable('temperature and top_p together are rejected by current Anthropic models');
  }
  if (t !== undefined) out.temperature = t;
  if (p !== undefined) out.top_p = p;
}

/** Dated versions compare as strings; an unrecognised one is assumed to be newer. */
function acceptsSampling(version: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(version) && version < ANTHROPIC_VERSION_WITHOUT_SAMPLING;
}

function stopSequencesOf(value: unknown): string[] | undefined {
  const stop = present(value);
  if (stop === undefined) return undefined;
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    untranslatable('stop must be a string or an array of strings');
  }
  // An empty sequence never matches anything OpenAI would stop on; Anthropic rejects it.
  const all: string[] = list;
  const sequences = all.filter((s) => s !== '');
  return sequences.length === 0 ? undefined : sequences;
}

function userIdOf(body: JsonObject): string | undefined {
  for (const key of ['safety_identifier', 'user'] as const) {
    const value = present(body[key]);
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') untranslatable(`${key} must be a string`);
    return value;
  }
  return undefined;
}

// ---- messages ----------------------------------------------------------------------------

interface TranslatedMessages {
  readonly system: string | AnthropicTextBlock[] | undefined;
  readonly messages: AnthropicMessage[];
}

function translateMessages(value: unknown): TranslatedMessages {
  if (!Array.isArray(value) || value.length === 0) {
    untranslatable('messages must be a non-empty array');
  }
  const systemTexts: string[] = [];
  const turns: AnthropicMessage[] = [];
  // The content of the user turn that collects consecutive tool messages, while it is last.
  let toolResults: AnthropicContentBlock[] | undefined;
  for (const [i, raw] of (value as unknown[]).entries()) {
    if (!isJsonObject(raw)) untranslatable(`messages[${i}] is not an object`);
    const role = raw.role;
    if (role === 'tool') {
      const result = toolResultOf(raw, i);
      if (toolResults === undefined) {
        toolResults = [result];
        turns.push({ role: 'user', content: toolResults });
      } else {
        toolResults.push(result);
      }
      continue;
    }
    if (role === 'system' || role === 'developer') {
      // Hoisting keeps tool results adjacent to their calls; the turn collecting them goes on.
      systemTexts.push(...systemTextsOf(raw.content, i));
      continue;
    }
    toolResults = undefined;
    if (role === 'user') {
      const content = userContentOf(raw.content, i);
      if (content !== undefined) turns.push({ role: 'user', content });
    } else if (role === 'assistant') {
      const content = assistantContentOf(raw, i);
      if (content !== undefined) turns.push({ role: 'assistant', content });
    } else if (role === 'function') {
      untranslatable('deprecated function messages are not translated (use tools)');
    } else {
      untranslatable(`messages[${i}] has an unknown role`);
    }
  }
  const last = turns.at(-1);
  if (last === undefined) untranslatable('no user or assistant message to answer');
  if (last.role === 'assistant') {
    untranslatable(
      'a conversation ending with an assistant message would be a prefill on Anthropic',
    );
  }
  const system =
    systemTexts.length === 0
      ? undefined
      : systemTexts.length === 1
        ? systemTexts[0]
        : systemTexts.map((text): AnthropicTextBlock => ({ type: 'text', text }));
  return { system, messages: turns };
}

function systemTextsOf(content: unknown, i: number): string[] {
  if (typeof content === 'string') return content === '' ? [] : [content];
  if (!Array.isArray(content)) untranslatable(`messages[${i}].content is invalid`);
  const texts: string[] = [];
  for (const part of content as unknown[]) {
    if (!isJsonObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
      untranslatable(`messages[${i}]: system content must be text`);
    }
    if (part.text !== '') texts.push(part.text);
  }
  return texts;
}

function userContentOf(content: unknown, i: number): string | AnthropicContentBlock[] | undefined {
  if (typeof content === 'string') return content === '' ? undefined : content;
  if (!Array.isArray(content)) untranslatable(`messages[${i}].content is invalid`);
  const blocks: AnthropicContentBlock[] = [];
  for (const part of content as unknown[]) {
    if (!isJsonObject(part)) untranslatable(`messages[${i}].content has an invalid part`);
    switch (part.type) {
      case 'text':
        if (typeof part.text !== 'string') untranslatable(`messages[${i}]: text part is invalid`);
        if (part.text !== '') blocks.push({ type: 'text', text: part.text });
        break;
      case 'image_url':
        blocks.push(imageBlockOf(part.image_url, i));
        break;
      case 'input_audio':
        untranslatable('audio input is not supported by Anthropic');
        break;
      case 'file':
        untranslatable('file inputs are not translated to Anthropic');
        break;
      default:
        untranslatable(`content part type ${quoted(part.type)} has no Anthropic mapping`);
    }
  }
  return blocks.length === 0 ? undefined : blocks;
}

function imageBlockOf(imageUrl: unknown, i: number): AnthropicImageBlock {
  if (!isJsonObject(imageUrl) || typeof imageUrl.url !== 'string') {
    untranslatable(`messages[${i}]: image_url is invalid`);
  }
  const url = imageUrl.url;
  if (url.startsWith('data:')) {
    // data:[<media type>][;base64],<data> — parsed by hand: the payload may be megabytes.
    const comma = url.indexOf(',');
    const header = comma === -1 ? '' : url.slice(5, comma).toLowerCase();
    if (!header.endsWith(';base64')) untranslatable('image data URLs must be base64');
    const declared = header.slice(0, -';base64'.length);
    // image/jpg is a common misspelling clients send; it means JPEG.
    const mediaType = declared === 'image/jpg' ? 'image/jpeg' : declared;
    if (!IMAGE_TYPES.has(mediaType)) {
      untranslatable(`image type ${quoted(mediaType)} is not supported by Anthropic`);
    }
    return {
      type: 'image',
      source: {
        type: 'base64',
        media_type: mediaType as AnthropicImageMediaType,
        data: url.slice(comma + 1),
      },
    };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  untranslatable('image URLs must be http(s) or base64 data URLs');
}

function assistantContentOf(
  message: JsonObject,
  i: number,
): string | AnthropicContentBlock[] | undefined {
  if (present(message.audio) !== undefined) {
    untranslatable('assistant audio is not supported by Anthropic');
  }
  if (present(message.function_call) !== undefined) {
    untranslatable('deprecated function_call messages are not translated (use tools)');
  }
  const toolCalls = present(message.tool_calls);
  const content = present(message.content);
  if (typeof content === 'string' && (toolCalls === undefined || isEmptyArray(toolCalls))) {
    return content === '' ? refusalOnly(message) : content;
  }
  const blocks: AnthropicContentBlock[] = [];
  if (typeof content === 'string') {
    if (content !== '') blocks.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    for (const part of content as unknown[]) {
      if (isJsonObject(part) && part.type === 'text' && typeof part.text === 'string') {
        if (part.text !== '') blocks.push({ type: 'text', text: part.text });
      } else if (
        isJsonObject(part) &&
        part.type === 'refusal' &&
        typeof part.refusal === 'string'
      ) {
        // A refusal the model gave earlier is what it said in that turn.
        if (part.refusal !== '') blocks.push({ type: 'text', text: part.refusal });
      } else {
        untranslatable(`messages[${i}]: assistant content must be text or refusal parts`);
      }
    }
  } else if (content !== undefined) {
    untranslatable(`messages[${i}].content is invalid`);
  }
  if (blocks.length === 0) {
    const refusal = refusalOnly(message);
    if (refusal !== undefined) blocks.push({ type: 'text', text: refusal });
  }
  if (toolCalls !== undefined) {
    if (!Array.isArray(toolCalls)) untranslatable(`messages[${i}].tool_calls is invalid`);
    for (const call of toolCalls as unknown[]) blocks.push(toolUseOf(call, i));
  }
  return blocks.length === 0 ? undefined : blocks;
}

function refusalOnly(message: JsonObject): string | undefined {
  const refusal = present(message.refusal);
  return typeof refusal === 'string' && refusal !== '' ? refusal : undefined;
}

function toolUseOf(call: unknown, i: number): AnthropicToolUseBlock {
  if (!isJsonObject(call)) untranslatable(`messages[${i}]: a tool call is invalid`);
  if (call.type === 'custom') untranslatable('custom tool calls have no Anthropic equivalent');
  const fn = call.function;
  if (
    typeof call.id !== 'string' ||
    !isJsonObject(fn) ||
    typeof fn.name !== 'string' ||
    typeof fn.arguments !== 'string'
  ) {
    untranslatable(`messages[${i}]: a tool call is invalid`);
  }
  return {
    type: 'tool_use',
    id: toolIdOf(call.id),
    name: fn.name,
    input: argumentsOf(fn.arguments),
  };
}

/** Parses tool call arguments: Anthropic wants the object, OpenAI sends JSON text. */
function argumentsOf(text: string): Record<string, unknown> {
  // Some servers send "" for a call without arguments; it means {}.
  if (text.trim() === '') return {};
  const parsed = parseJsonObject(text);
  if (parsed === undefined) untranslatable('tool call arguments are not a JSON object');
  return parsed;
}

function toolIdOf(id: string): string {
  if (!TOOL_ID.test(id)) untranslatable('a tool call id has characters Anthropic rejects');
  return id;
}

function toolResultOf(message: JsonObject, i: number): AnthropicToolResultBlock {
  if (typeof message.tool_call_id !== 'string') {
    untranslatable(`messages[${i}].tool_call_id is invalid`);
  }
  const content = message.content;
  const toolUseId = toolIdOf(message.tool_call_id);
  if (typeof content === 'string') return { type: 'tool_result', tool_use_id: toolUseId, content };
  if (!Array.isArray(content)) untranslatable(`messages[${i}].content is invalid`);
  const blocks: AnthropicTextBlock[] = [];
  for (const part of content as unknown[]) {
    if (!isJsonObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
      untranslatable(`messages[${i}]: tool content must be text`);
    }
    if (part.text !== '') blocks.push({ type: 'text', text: part.text });
  }
  return { type: 'tool_result', tool_use_id: toolUseId, content: blocks };
}

// ---- tools -------------------------------------------------------------------------------

function applyTools(body: JsonObject, out: AnthropicMessagesRequest): void {
  const rawTools = present(body.tools);
  if (rawTools === undefined) return;
  if (!Array.isArray(rawTools)) untranslatable('tools must be an array');
  // Without tools, tool_choice and parallel_tool_calls have nothing to act on.
  if (rawTools.length === 0) return;
  let tools = (rawTools as unknown[]).map(toolOf);
  let choice: AnthropicToolChoice | undefined;
  const rawChoice = present(body.tool_choice);
  if (rawChoice === 'none') choice = { type: 'none' };
  else if (rawChoice === 'auto') choice = { type: 'auto' };
  else if (rawChoice === 'required') choice = { type: 'any' };
  else if (isJsonObject(rawChoice) && rawChoice.type === 'function') {
    const fn = rawChoice.function;
    if (!isJsonObject(fn) || typeof fn.name !== 'string') untranslatable('tool_choice is invalid');
    choice = { type: 'tool', name: fn.name };
  } else if (isJsonObject(rawChoice) && rawChoice.type === 'allowed_tools') {
    // Restricting what may be called is the same as offering only those tools.
    const allowed = allowedToolsOf(rawChoice.allowed_tools);
    tools = tools.filter((tool) => allowed.names.has(tool.name));
    choice = { type: allowed.required ? 'any' : 'auto' };
  } else if (isJsonObject(rawChoice) && rawChoice.type === 'custom') {
    untranslatable('custom tool choice has no Anthropic equivalent');
  } else if (rawChoice !== undefined) {
    untranslatable('tool_choice is invalid');
  }
  if (present(body.parallel_tool_calls) === false) {
    if (choice === undefined) choice = { type: 'auto', disable_parallel_tool_use: true };
    else if (choice.type !== 'none') choice.disable_parallel_tool_use = true;
  }
  out.tools = tools;
  if (choice !== undefined) out.tool_choice = choice;
}

function toolOf(tool: unknown): AnthropicTool {
  if (!isJsonObject(tool)) untranslatable('a tool definition is invalid');
  if (tool.type === 'custom')
    untranslatable('custom (free-form) tools have no Anthropic equivalent');
  const fn = tool.function;
  if (tool.type !== 'function' || !isJsonObject(fn) || typeof fn.name !== 'string') {
    untranslatable('a tool definition is invalid');
  }
  const out: AnthropicTool = { name: fn.name, input_schema: inputSchemaOf(fn.parameters) };
  const description = present(fn.description);
  if (typeof description === 'string') out.description = description;
  // Both APIs guarantee schema-valid arguments under `strict`.
  if (fn.strict === true) out.strict = true;
  return out;
}

function inputSchemaOf(parameters: unknown): AnthropicInputSchema {
  const schema = present(parameters);
  // OpenAI: omitting parameters defines a function with an empty parameter list.
  if (schema === undefined || (isJsonObject(schema) && Object.keys(schema).length === 0)) {
    return { type: 'object', properties: {} };
  }
  if (!isJsonObject(schema) || schema.type !== 'object') {
    untranslatable('tool parameters must be a JSON Schema object');
  }
  return { ...schema, type: 'object' };
}

function allowedToolsOf(value: unknown): { names: Set<string>; required: boolean } {
  if (!isJsonObject(value) || !Array.isArray(value.tools)) untranslatable('tool_choice is invalid');
  const names = new Set<string>();
  for (const entry of value.tools as unknown[]) {
    const fn = isJsonObject(entry) && entry.type === 'function' ? entry.function : undefined;
    if (!isJsonObject(fn) || typeof fn.name !== 'string') {
      untranslatable('allowed_tools may only name function tools');
    }
    names.add(fn.name);
  }
  return { names, required: value.mode === 'required' };
}

// ---- response format -----------------------------------------------------------------------

function jsonSchemaOf(value: unknown): Record<string, unknown> | undefined {
  const format = present(value);
  if (format === undefined) return undefined;
  if (!isJsonObject(format)) untranslatable('response_format is invalid');
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_schema': {
      const spec = format.json_schema;
      if (!isJsonObject(spec) || !isJsonObject(spec.schema)) {
        untranslatable('response_format json_schema needs a schema');
      }
      return spec.schema;
    }
    case 'json_object':
      untranslatable('response_format json_object has no faithful Anthropic mapping');
      break;
    default:
      untranslatable(`response_format ${quoted(format.type)} has no Anthropic mapping`);
  }
}

// ---- field helpers -------------------------------------------------------------------------

/** OpenAI treats null like an absent field. */
function present(value: unknown): unknown {
  return value === null ? undefined : value;
}

function isEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}

function integerField(body: JsonObject, key: string): number | undefined {
  const value = present(body[key]);
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    untranslatable(`${key} must be an integer`);
  }
  return value;
}

function rangeField(body: JsonObject, key: string, max: number): number | undefined {
  const raw = present(body[key]);
  if (raw === undefined) return undefined;
  const value = numberOf(raw);
  if (value === undefined || value < 0 || value > max) {
    untranslatable(`${key} must be a number between 0 and ${max}`);
  }
  return value;
}
