/**
 * The Anthropic Messages wire shapes the translators produce: a minimal structural subset of the
 * official SDK's types (the SDK is a dev dependency only; tests check these shapes against it).
 */

/** A text block. Citations are never produced (documents are not translated). */
export interface AnthropicTextBlock {
  type: 'text';
  text: string;
}

/** An image block from a URL or inline base64 data. */
export interface AnthropicImageBlock {
  type: 'image';
  source:
    | { type: 'url'; url: string }
    | { type: 'base64'; media_type: AnthropicImageMediaType; data: string };
}

/** Image formats the Messages API accepts. */
export type AnthropicImageMediaType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp';

/** A tool call made by the assistant; `input` is the parsed arguments object. */
export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

/** The result of a tool call, sent back in a user turn. */
export interface AnthropicToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: string | AnthropicTextBlock[];
}

/** A content block of a request message. */
export type AnthropicContentBlock =
  AnthropicTextBlock | AnthropicImageBlock | AnthropicToolUseBlock | AnthropicToolResultBlock;

/** One turn of a Messages request. */
export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | AnthropicContentBlock[];
}

/** A JSON Schema for a tool's input: always an object schema. */
export interface AnthropicInputSchema {
  type: 'object';
  [keyword: string]: unknown;
}

/** A client tool definition. */
export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: AnthropicInputSchema;
  strict?: boolean;
}

/** How the model may use tools. */
export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

/** A Messages request body. */
export interface AnthropicMessagesRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessage[];
  system?: string | AnthropicTextBlock[];
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  metadata?: { user_id: string };
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  output_config?: { format: { type: 'json_schema'; schema: Record<string, unknown> } };
  stream?: boolean;
}

/** Why generation stopped. */
export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

/** Token usage as a Message reports it (input excludes cache reads and writes). */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number | null;
  cache_read_input_tokens: number | null;
  cache_creation: null;
  inference_geo: null;
  output_tokens_details: { thinking_tokens: number } | null;
  server_tool_use: null;
  service_tier: null;
  speed: null;
}

/** A `message` response body. */
export interface AnthropicMessageResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: (AnthropicTextBlock | AnthropicToolUseBlock)[];
  stop_reason: AnthropicStopReason;
  stop_sequence: null;
  stop_details: null;
  container: null;
  diagnostics: null;
  usage: AnthropicUsage;
}

/** Cumulative usage carried by a `message_delta` event. */
export interface AnthropicDeltaUsage {
  input_tokens: number | null;
  output_tokens: number;
  cache_creation_input_tokens: number | null;
  cache_read_input_tokens: number | null;
  output_tokens_details: { thinking_tokens: number } | null;
  server_tool_use: null;
}

/** An Anthropic error body, also the data of an `error` stream event. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}
