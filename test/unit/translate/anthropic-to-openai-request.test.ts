import type { MessageCreateParamsBase, Tool } from '@anthropic-ai/sdk/resources/messages';
import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import {
  anthropicMessagesToOpenai,
  type AnthropicToOpenaiOptions,
  type OpenaiChatRequest,
} from '../../../src/dataplane/providers/translate/index.ts';

const TARGET = 'gpt-4o';

/** The 2023-06-01 API (and SDKs before 1.0) also take sampling parameters. */
type LegacyParams = MessageCreateParamsBase & {
  temperature?: number;
  top_p?: number;
  top_k?: number;
};

function translate(
  body: LegacyParams | Record<string, unknown>,
  options?: AnthropicToOpenaiOptions,
): OpenaiChatRequest {
  const result = anthropicMessagesToOpenai(body as Record<string, unknown>, TARGET, options);
  if (!result.ok) throw new Error(`unexpected skip: ${result.reason}`);
  // Compile-time: what we send is what the OpenAI SDK would send.
  const params: ChatCompletionCreateParamsBase = result.body;
  return params as OpenaiChatRequest;
}

function skipReason(body: LegacyParams | Record<string, unknown>): string {
  const result = anthropicMessagesToOpenai(body as Record<string, unknown>, TARGET);
  if (result.ok) throw new Error('expected the target to be skipped');
  return result.reason;
}

const hello = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello, Claude' }],
} satisfies MessageCreateParamsBase;

describe('anthropicMessagesToOpenai: conversation', () => {
  it('puts the system prompt first and keeps the turns', () => {
    const body = {
      model: 'claude-sonnet-4-6',
      max_tokens: 512,
      system: 'You are a terse assistant.',
      messages: [
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: "Hi, I'm Claude. How can I help you?" },
        { role: 'user', content: 'Can you explain LLMs in plain English?' },
      ],
    } satisfies MessageCreateParamsBase;
    expect(translate(body)).toEqual({
      model: TARGET,
      max_completion_tokens: 512,
      messages: [
        { role: 'system', content: 'You are a terse assistant.' },
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: "Hi, I'm Claude. How can I help you?" },
        { role: 'user', content: 'Can you explain LLMs in plain English?' },
      ],
    });
  });

  it('keeps system text blocks as separate parts and drops cache_control', () => {
    const body = {
      ...hello,
      system: [
        { type: 'text', text: 'You analyse novels.' },
        {
          type: 'text',
          text: '<the entire contents of Pride and Prejudice>',
          cache_control: { type: 'ephemeral' },
        },
      ],
    } satisfies MessageCreateParamsBase;
    expect(translate(body).messages[0]).toEqual({
      role: 'system',
      content: [
        { type: 'text', text: 'You analyse novels.' },
        { type: 'text', text: '<the entire contents of Pride and Prejudice>' },
      ],
    });
  });

  it('keeps a mid-conversation system message where it stands', () => {
    const body = {
      ...hello,
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: 'Let us switch topics.' },
        { role: 'system', content: 'From now on, answer in German.' },
        { role: 'user', content: 'Weather?' },
      ],
    } satisfies MessageCreateParamsBase;
    expect(translate(body).messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'system',
      'user',
    ]);
  });

  it('maps text and image blocks: base64 to a data URL, url as is', () => {
    const body = {
      ...hello,
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'image',
              source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQSkZJRg==' },
            },
            { type: 'image', source: { type: 'url', url: 'https://example.com/ant.jpg' } },
            { type: 'text', text: 'Compare these images.', cache_control: { type: 'ephemeral' } },
          ],
        },
      ],
    } satisfies MessageCreateParamsBase;
    expect(translate(body).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQSkZJRg==' } },
          { type: 'image_url', image_url: { url: 'https://example.com/ant.jpg' } },
          { type: 'text', text: 'Compare these images.' },
        ],
      },
    ]);
  });

  it('turns tool_use into tool_calls and tool_result blocks into tool messages, ids kept', () => {
    const body = {
      ...hello,
      messages: [
        { role: 'user', content: "What's the S&P 500 at today?" },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should look it up.', signature: 'EqQBCgIYAhIM' },
            { type: 'text', text: 'Let me check.' },
            {
              type: 'tool_use',
              id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV',
              name: 'get_stock_price',
              input: { ticker: '^GSPC' },
            },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV',
              content: '259.75 USD',
            },
            { type: 'text', text: 'Is that high?' },
          ],
        },
      ],
    } satisfies MessageCreateParamsBase;
    expect(translate(body).messages).toEqual([
      { role: 'user', content: "What's the S&P 500 at today?" },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          {
            id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV',
            type: 'function',
            function: { name: 'get_stock_price', arguments: '{"ticker":"^GSPC"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', content: '259.75 USD' },
      { role: 'user', content: [{ type: 'text', text: 'Is that high?' }] },
    ]);
  });

  it('maps tool results given as text blocks, empty, or flagged as errors', () => {
    const body = {
      ...hello,
      messages: [
        { role: 'user', content: 'Run both' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_a', name: 'a', input: {} },
            { type: 'tool_use', id: 'toolu_b', name: 'b', input: {} },
            { type: 'tool_use', id: 'toolu_c', name: 'c', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_a',
              content: [
                { type: 'text', text: 'line 1' },
                { type: 'text', text: 'line 2' },
              ],
            },
            { type: 'tool_result', tool_use_id: 'toolu_b' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_c',
              content: 'ConnectionError: the weather service is down',
              is_error: true,
            },
          ],
        },
      ],
    } satisfies MessageCreateParamsBase;
    expect(translate(body).messages.slice(2)).toEqual([
      {
        role: 'tool',
        tool_call_id: 'toolu_a',
        content: [
          { type: 'text', text: 'line 1' },
          { type: 'text', text: 'line 2' },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_b', content: '' },
      {
        role: 'tool',
        tool_call_id: 'toolu_c',
        content: 'ConnectionError: the weather service is down',
      },
    ]);
  });
});

describe('anthropicMessagesToOpenai: parameters', () => {
  it('sends max_tokens as max_completion_tokens, or as max_tokens when told to', () => {
    expect(translate(hello)).toEqual(expect.objectContaining({ max_completion_tokens: 1024 }));
    const old = translate(hello, { maxTokensField: 'max_tokens' });
    expect(old.max_tokens).toBe(1024);
    expect(old).not.toHaveProperty('max_completion_tokens');
  });

  it('maps stop sequences, sampling (2023-06-01 requests) and the user id', () => {
    const body = {
      ...hello,
      stop_sequences: ['\n\nHuman:', 'END'],
      temperature: 0.3,
      top_p: 0.8,
      metadata: { user_id: '13803d75-b4b5-4c3e-b2a2-6f21399b021b' },
    } satisfies LegacyParams;
    expect(translate(body)).toEqual({
      model: TARGET,
      max_completion_tokens: 1024,
      messages: [{ role: 'user', content: 'Hello, Claude' }],
      stop: ['\n\nHuman:', 'END'],
      temperature: 0.3,
      top_p: 0.8,
      user: '13803d75-b4b5-4c3e-b2a2-6f21399b021b',
    });
  });

  it('asks OpenAI for the usage chunk when streaming (Anthropic streams always carry usage)', () => {
    const out = translate({ ...hello, stream: true });
    expect(out.stream).toBe(true);
    expect(out.stream_options).toEqual({ include_usage: true });
  });

  it('maps structured outputs to a strict json_schema response format; effort is dropped', () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' } },
      required: ['name'],
      additionalProperties: false,
    };
    const body = {
      ...hello,
      output_config: { format: { type: 'json_schema', schema }, effort: 'low' },
    } satisfies MessageCreateParamsBase;
    expect(translate(body).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'response', schema, strict: true },
    });
  });

  it('drops capacity, routing, caching and diagnostics fields and disabled thinking', () => {
    const body = {
      ...hello,
      service_tier: 'standard_only',
      speed: 'fast',
      inference_geo: 'us',
      cache_control: { type: 'ephemeral' },
      diagnostics: { previous_message_id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF' },
      thinking: { type: 'disabled' },
    } satisfies MessageCreateParamsBase;
    expect(translate(body)).toEqual(translate(hello));
  });
});

describe('anthropicMessagesToOpenai: tools', () => {
  const stockTool = {
    name: 'get_stock_price',
    description: 'Get the current stock price for a given ticker symbol.',
    input_schema: {
      type: 'object',
      properties: { ticker: { type: 'string', description: 'e.g. AAPL' } },
      required: ['ticker'],
    },
    cache_control: { type: 'ephemeral' },
  } satisfies Tool;
  const withTools = { ...hello, tools: [stockTool] } satisfies MessageCreateParamsBase;

  it('maps client tools to function tools', () => {
    expect(translate({ ...withTools, tools: [{ ...stockTool, strict: true }] }).tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_stock_price',
          description: 'Get the current stock price for a given ticker symbol.',
          parameters: stockTool.input_schema,
          strict: true,
        },
      },
    ]);
  });

  it.each([
    ['auto', { type: 'auto' }, 'auto', undefined],
    ['any', { type: 'any' }, 'required', undefined],
    ['none', { type: 'none' }, 'none', undefined],
    [
      'tool',
      { type: 'tool', name: 'get_stock_price' },
      { type: 'function', function: { name: 'get_stock_price' } },
      undefined,
    ],
    ['auto without parallel use', { type: 'auto', disable_parallel_tool_use: true }, 'auto', false],
    [
      'any without parallel use',
      { type: 'any', disable_parallel_tool_use: true },
      'required',
      false,
    ],
  ] as const)('tool_choice %s', (_name, choice, expected, parallel) => {
    const out = translate({ ...withTools, tool_choice: choice });
    expect(out.tool_choice).toEqual(expected);
    expect(out.parallel_tool_calls).toBe(parallel);
  });
});

describe('anthropicMessagesToOpenai: targets that cannot answer faithfully are skipped', () => {
  it.each([
    ['top_k', { ...hello, top_k: 40 }, 'top_k has no OpenAI equivalent'],
    [
      'extended thinking',
      { ...hello, thinking: { type: 'enabled', budget_tokens: 2048 } },
      'extended thinking has no OpenAI chat completions equivalent',
    ],
    [
      'adaptive thinking',
      { ...hello, thinking: { type: 'adaptive' } },
      'extended thinking has no OpenAI chat completions equivalent',
    ],
    [
      'cache pre-warming',
      { ...hello, max_tokens: 0 },
      'max_tokens 0 (cache pre-warming) has no OpenAI equivalent',
    ],
    [
      'more than 4 stop sequences',
      { ...hello, stop_sequences: ['a', 'b', 'c', 'd', 'e'] },
      'OpenAI accepts at most 4 stop sequences',
    ],
    [
      'a server tool',
      { ...hello, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }] },
      'Anthropic tool "web_search_20250305" has no OpenAI equivalent',
    ],
    [
      'tool input examples',
      {
        ...hello,
        tools: [
          {
            name: 'f',
            input_schema: { type: 'object' },
            input_examples: [{ city: 'Paris' }],
          },
        ],
      },
      'tool input_examples have no OpenAI equivalent',
    ],
    [
      'a tool name OpenAI rejects',
      { ...hello, tools: [{ name: 'x'.repeat(65), input_schema: { type: 'object' } }] },
      'a tool name is longer or wider than OpenAI accepts',
    ],
    [
      'a document block',
      {
        ...hello,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'document',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              },
            ],
          },
        ],
      },
      '"document" blocks have no OpenAI mapping',
    ],
    [
      'an image from the Files API',
      {
        ...hello,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'file', file_id: 'file_011' } }],
          },
        ],
      },
      'image source "file" has no OpenAI equivalent',
    ],
    [
      'an image in a tool result',
      {
        ...hello,
        messages: [
          { role: 'user', content: 'Screenshot please' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'shot', input: {} }],
          },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                content: [
                  {
                    type: 'image',
                    source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
                  },
                ],
              },
            ],
          },
        ],
      },
      'images in tool results have no OpenAI equivalent',
    ],
    [
      'a prefill',
      {
        ...hello,
        messages: [
          { role: 'user', content: "What's the Greek name for Sun? (A) Sol (B) Helios (C) Sun" },
          { role: 'assistant', content: 'The best answer is (' },
        ],
      },
      'assistant prefill has no OpenAI equivalent',
    ],
    [
      'no max_tokens',
      { model: 'claude-sonnet-4-6', messages: hello.messages },
      'max_tokens is required',
    ],
    [
      'a code execution container',
      { ...hello, container: 'container_011CZ' },
      'containers (code execution) have no OpenAI equivalent',
    ],
    [
      'a field from the future',
      { ...hello, mcp_servers: [] },
      'field "mcp_servers" has no OpenAI mapping',
    ],
  ])('%s', (_name, body, reason) => {
    expect(skipReason(body)).toBe(reason);
  });
});
