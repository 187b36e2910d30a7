/**
 * The OpenAI Chat Completions wire shapes the translators produce: a minimal structural subset of
 * the official SDK's types (the SDK is a dev dependency only; tests check these shapes against it).
 */

/** A text content part. */
export interface OpenaiTextPart {
  type: 'text';
  text: string;
}

/** An image content part: an http(s) URL or a base64 `data:` URL. */
export interface OpenaiImagePart {
  type: 'image_url';
  image_url: { url: string };
}

/** A call the assistant made to a function tool; `arguments` is JSON text. */
export interface OpenaiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One message of a chat completions request. */
export type OpenaiMessage =
  | { role: 'system'; content: string | OpenaiTextPart[] }
  | { role: 'user'; content: string | (OpenaiTextPart | OpenaiImagePart)[] }
  | { role: 'assistant'; content: string | OpenaiTextPart[] | null; tool_calls?: OpenaiToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string | OpenaiTextPart[] };

/** A function tool definition. */
export interface OpenaiFunctionTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    parameters: Record<string, unknown>;
    strict?: boolean;
  };
}

/** How the model may use tools. */
export type OpenaiToolChoice =
  'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/** Structured output: the answer must match the schema. */
export interface OpenaiJsonSchemaFormat {
  type: 'json_schema';
  json_schema: { name: string; schema: Record<string, unknown>; strict: boolean };
}

/** A chat completions request body. */
export interface OpenaiChatRequest {
  model: string;
  messages: OpenaiMessage[];
  max_completion_tokens?: number;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  user?: string;
  tools?: OpenaiFunctionTool[];
  tool_choice?: OpenaiToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: OpenaiJsonSchemaFormat;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
}

/** Why generation stopped. */
export type OpenaiFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** Token usage of one completion. */
export interface OpenaiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

/** The answer message of a completion. */
export interface OpenaiAssistantMessage {
  role: 'assistant';
  content: string | null;
  refusal: string | null;
  tool_calls?: OpenaiToolCall[];
}

/** A `chat.completion` response body. */
export interface OpenaiChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [
    {
      index: 0;
      message: OpenaiAssistantMessage;
      logprobs: null;
      finish_reason: OpenaiFinishReason;
    },
  ];
  usage: OpenaiUsage;
}

/** A streamed tool call fragment: the first one carries id and name, later ones arguments. */
export interface OpenaiToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

/** The delta of one streamed chunk. */
export interface OpenaiDelta {
  role?: 'assistant';
  content?: string;
  tool_calls?: OpenaiToolCallDelta[];
}

/** One `chat.completion.chunk` of a stream. */
export interface OpenaiChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: 0;
    delta: OpenaiDelta;
    logprobs: null;
    finish_reason: OpenaiFinishReason | null;
  }[];
  usage?: OpenaiUsage | null;
}

/** An OpenAI error body (`{"error": {...}}`), also sent as a stream data line. */
export interface OpenaiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
