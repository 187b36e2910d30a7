import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ANTHROPIC_MAX_TOKENS,
  openaiChatToAnthropic,
  wantsStreamUsage,
  type AnthropicMessagesRequest,
  type OpenaiToAnthropicOptions,
} from '../../../src/dataplane/providers/translate/index.ts';

const TARGET = 'claude-sonnet-4-6';

/** Translates and insists on success; the result must also be a valid SDK request shape. */
function translate(
  body: ChatCompletionCreateParams | Record<string, unknown>,
  options?: OpenaiToAnthropicOptions,
): AnthropicMessagesRequest {
  const result = openaiChatToAnthropic(body as Record<string, unknown>, TARGET, options);
  if (!result.ok) throw new Error(`unexpected skip: ${result.reason}`);
  // Compile-time: what we send is what the Anthropic SDK would send.
  const params: MessageCreateParamsBase = result.body;
  return params as AnthropicMessagesRequest;
}

function skipReason(
  body: ChatCompletionCreateParams | Record<string, unknown>,
  options?: OpenaiToAnthropicOptions,
): string {
  const result = openaiChatToAnthropic(body as Record<string, unknown>, TARGET, options);
  if (result.ok) throw new Error('expected the target to be skipped');
  return result.reason;
}

const hello = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hello' }],
} satisfies ChatCompletionCreateParams;

describe('openaiChatToAnthropic: conversation', () => {
  it('moves system and developer messages, in order, to the top-level system prompt', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are a terse assistant.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hi!' },
        { role: 'assistant', content: 'Bonjour !' },
        { role: 'user', content: 'What is the capital of Italy?' },
      ],
    } satisfies ChatCompletionCreateParams;
    expect(translate(body)).toEqual({
      model: TARGET,
      max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
      system: [
        { type: 'text', text: 'You are a terse assistant.' },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [
        { role: 'user', content: 'Hi!' },
        { role: 'assistant', content: 'Bonjour !' },
        { role: 'user', content: 'What is the capital of Italy?' },
      ],
    });
  });

  it('keeps a single system message a plain string', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
    } satisfies ChatCompletionCreateParams;
    expect(translate(body).system).toBe('Be brief.');
  });

  it('hoists a mid-conversation system message into the system prompt', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'system', content: 'From now on, answer in German.' },
        { role: 'user', content: 'Weather?' },
      ],
    } satisfies ChatCompletionCreateParams;
    const out = translate(body);
    expect(out.system).toBe('From now on, answer in German.');
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('maps text and image parts: https URL, base64 data URL, image/jpg as JPEG', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these images?' },
            {
              type: 'image_url',
              image_url: { url: 'https://upload.wikimedia.org/cat.jpg', detail: 'high' },
            },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'data:image/jpg;base64,/9j/4AAQSk=' } },
          ],
        },
      ],
    } satisfies ChatCompletionCreateParams;
    expect(translate(body).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these images?' },
          { type: 'image', source: { type: 'url', url: 'https://upload.wikimedia.org/cat.jpg' } },
          {
            type: 'image',
            source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
          },
          {
            type: 'image',
            source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQSk=' },
          },
        ],
      },
    ]);
  });

  it('turns assistant tool calls into tool_use blocks and tool messages into one tool_result turn', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location": "Paris"}' },
            },
            {
              id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location": "Tokyo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', content: '18°C, cloudy' },
        {
          role: 'tool',
          tool_call_id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5',
          content: [{ type: 'text', text: '24°C, sunny' }],
        },
      ],
    } satisfies ChatCompletionCreateParams;
    expect(translate(body).messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Tokyo?' },
      {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
            name: 'get_weather',
            input: { location: 'Paris' },
          },
          {
            type: 'tool_use',
            id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5',
            name: 'get_weather',
            input: { location: 'Tokyo' },
          },
        ],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
            content: '18°C, cloudy',
          },
          {
            type: 'tool_result',
            tool_use_id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5',
            content: [{ type: 'text', text: '24°C, sunny' }],
          },
        ],
      },
    ]);
  });

  it('keeps assistant text before its tool calls, and reads "" arguments as {}', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'What time is it?' },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'now', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '12:00' },
        { role: 'user', content: 'Thanks' },
      ],
    } satisfies ChatCompletionCreateParams;
    expect(translate(body).messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'call_1', name: 'now', input: {} },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '12:00' }] },
      { role: 'user', content: 'Thanks' },
    ]);
  });

  it('omits empty messages, which Anthropic rejects', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: '' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '' },
        { role: 'user', content: [{ type: 'text', text: '' }] },
        { role: 'user', content: 'Still there?' },
      ],
    } satisfies ChatCompletionCreateParams;
    const out = translate(body);
    expect(out.system).toBeUndefined();
    expect(out.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'user', content: 'Still there?' },
    ]);
  });

  it('carries an earlier assistant refusal as the text the model said', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Do something bad' },
        { role: 'assistant', content: null, refusal: "I can't help with that." },
        { role: 'user', content: 'OK, something good then' },
      ],
    } satisfies ChatCompletionCreateParams;
    expect(translate(body).messages[1]).toEqual({
      role: 'assistant',
      content: [{ type: 'text', text: "I can't help with that." }],
    });
  });
});

describe('openaiChatToAnthropic: parameters', () => {
  it.each([
    ['max_completion_tokens', { max_completion_tokens: 300 }, 300],
    ['max_tokens (deprecated)', { max_tokens: 200 }, 200],
    ['max_completion_tokens over max_tokens', { max_tokens: 200, max_completion_tokens: 300 }, 300],
    ['nothing: the default', {}, DEFAULT_ANTHROPIC_MAX_TOKENS],
    ['null: the default', { max_tokens: null }, DEFAULT_ANTHROPIC_MAX_TOKENS],
  ])('max tokens from %s', (_name, patch, expected) => {
    expect(translate({ ...hello, ...patch }).max_tokens).toBe(expected);
  });

  it('uses the configured default when the app set no max tokens', () => {
    expect(translate(hello, { defaultMaxTokens: 1024 }).max_tokens).toBe(1024);
  });

  it.each([
    ['temperature 0', { temperature: 0 }, { temperature: 0 }],
    ['temperature 0.7', { temperature: 0.7 }, { temperature: 0.7 }],
    ['temperature 1 (the default on both sides)', { temperature: 1 }, {}],
    ['top_p 0.9', { top_p: 0.9 }, { top_p: 0.9 }],
    ['top_p 1 (the default)', { top_p: 1 }, {}],
    ['temperature with a default top_p', { temperature: 0.2, top_p: 1 }, { temperature: 0.2 }],
    ['null temperature', { temperature: null }, {}],
  ])('sampling: %s', (_name, patch, expected) => {
    const out = translate({ ...hello, ...patch });
    expect({ temperature: out.temperature, top_p: out.top_p }).toEqual({
      temperature: undefined,
      top_p: undefined,
      ...expected,
    });
  });

  it('drops default sampling values on anthropic-version 2026-10-21, which rejects them', () => {
    const out = translate(
      { ...hello, temperature: 1, top_p: 1 },
      { anthropicVersion: '2026-10-21' },
    );
    expect(out).not.toHaveProperty('temperature');
    expect(out).not.toHaveProperty('top_p');
  });

  it.each([
    ['a string', 'END', ['END']],
    ['an array', ['\n\nHuman:', '###'], ['\n\nHuman:', '###']],
    ['an empty array', [], undefined],
    ['empty sequences only', [''], undefined],
  ])('stop as %s', (_name, stop, expected) => {
    expect(translate({ ...hello, stop }).stop_sequences).toEqual(expected);
  });

  it.each([
    ['user', { user: 'user-8d3f' }, 'user-8d3f'],
    ['safety_identifier', { safety_identifier: 'hash-77' }, 'hash-77'],
    ['safety_identifier over user', { user: 'user-8d3f', safety_identifier: 'hash-77' }, 'hash-77'],
  ])('metadata.user_id from %s', (_name, patch, expected) => {
    expect(translate({ ...hello, ...patch }).metadata).toEqual({ user_id: expected });
  });

  it('accepts n: 1', () => {
    expect(translate({ ...hello, n: 1 }).messages).toHaveLength(1);
  });

  it('passes stream on; include_usage is for the stream translator', () => {
    const body = {
      ...hello,
      stream: true,
      stream_options: { include_usage: true },
    } satisfies ChatCompletionCreateParams;
    const out = translate(body);
    expect(out.stream).toBe(true);
    expect(out).not.toHaveProperty('stream_options');
    expect(wantsStreamUsage(body)).toBe(true);
    expect(wantsStreamUsage({ ...hello, stream: true })).toBe(false);
  });

  it('maps response_format json_schema to structured outputs, and text to nothing', () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, population: { type: 'integer' } },
      required: ['city', 'population'],
      additionalProperties: false,
    };
    const body = {
      ...hello,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'city_info', schema, strict: true },
      },
    } satisfies ChatCompletionCreateParams;
    expect(translate(body).output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(translate({ ...hello, response_format: { type: 'text' } })).not.toHaveProperty(
      'output_config',
    );
  });

  it('drops fields that only affect storage, caching, latency, billing tier or determinism hints', () => {
    const body = {
      ...hello,
      metadata: { conversation: 'c-12' },
      store: true,
      service_tier: 'flex',
      reasoning_effort: 'low',
      prompt_cache_key: 'tenant-7',
      prediction: { type: 'content', content: 'Hello' },
      stream_options: { include_obfuscation: false },
      frequency_penalty: 0,
      presence_penalty: 0,
      logit_bias: {},
      logprobs: false,
      top_logprobs: 0,
      modalities: ['text'],
      verbosity: 'medium',
      parallel_tool_calls: true,
    } satisfies ChatCompletionCreateParams;
    // Deprecated but still sent by apps (typed loosely: the SDK marks them deprecated).
    const deprecated: Record<string, unknown> = { seed: 42, prompt_cache_retention: '24h' };
    expect(translate({ ...body, ...deprecated })).toEqual(translate(hello));
  });
});

describe('openaiChatToAnthropic: tools', () => {
  const weatherTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: {
        type: 'object',
        properties: { location: { type: 'string' } },
        required: ['location'],
        additionalProperties: false,
      },
      strict: true,
    },
  } as const;
  const clockTool = { type: 'function', function: { name: 'now' } } as const;
  const withTools = {
    ...hello,
    tools: [weatherTool, clockTool],
  } satisfies ChatCompletionCreateParams;

  it('maps function tools to name, description, input_schema and strict', () => {
    expect(translate(withTools).tools).toEqual([
      {
        name: 'get_weather',
        description: 'Current weather for a city',
        input_schema: weatherTool.function.parameters,
        strict: true,
      },
      // OpenAI: omitting parameters defines a function with an empty parameter list.
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
  });

  it.each([
    ['none', 'none', { type: 'none' }],
    ['auto', 'auto', { type: 'auto' }],
    ['required', 'required', { type: 'any' }],
    [
      'a named function',
      { type: 'function', function: { name: 'get_weather' } },
      { type: 'tool', name: 'get_weather' },
    ],
  ] as const)('tool_choice %s', (_name, choice, expected) => {
    expect(translate({ ...withTools, tool_choice: choice }).tool_choice).toEqual(expected);
  });

  it.each([
    ['no tool_choice', undefined, { type: 'auto', disable_parallel_tool_use: true }],
    ['auto', 'auto', { type: 'auto', disable_parallel_tool_use: true }],
    ['required', 'required', { type: 'any', disable_parallel_tool_use: true }],
    [
      'a named function',
      { type: 'function', function: { name: 'now' } },
      { type: 'tool', name: 'now', disable_parallel_tool_use: true },
    ],
    ['none', 'none', { type: 'none' }],
  ] as const)('parallel_tool_calls: false with %s', (_name, choice, expected) => {
    const body = { ...withTools, parallel_tool_calls: false, tool_choice: choice };
    expect(translate(body).tool_choice).toEqual(expected);
  });

  it('offers only the allowed tools for an allowed_tools choice', () => {
    const body = {
      ...withTools,
      tool_choice: {
        type: 'allowed_tools',
        allowed_tools: {
          mode: 'required',
          tools: [{ type: 'function', function: { name: 'now' } }],
        },
      },
    } satisfies ChatCompletionCreateParams;
    const out = translate(body);
    expect(out.tools?.map((t) => t.name)).toEqual(['now']);
    expect(out.tool_choice).toEqual({ type: 'any' });
  });

  it('ignores tool_choice and parallel_tool_calls when no tools are offered', () => {
    const out = translate({ ...hello, tools: [], tool_choice: 'auto', parallel_tool_calls: false });
    expect(out).not.toHaveProperty('tools');
    expect(out).not.toHaveProperty('tool_choice');
  });
});

describe('openaiChatToAnthropic: targets that cannot answer faithfully are skipped', () => {
  const imageMessage = (url: string) => ({
    ...hello,
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
  });
  it.each([
    ['n > 1', { ...hello, n: 2 }, 'n > 1 is not supported by Anthropic'],
    [
      'temperature above Anthropic’s range',
      { ...hello, temperature: 1.5 },
      'temperature above 1 has no Anthropic equivalent (Anthropic allows 0..1)',
    ],
    [
      'temperature with top_p',
      { ...hello, temperature: 0.5, top_p: 0.9 },
      'temperature and top_p together are rejected by current Anthropic models',
    ],
    [
      'response_format json_object',
      { ...hello, response_format: { type: 'json_object' } },
      'response_format json_object has no faithful Anthropic mapping',
    ],
    [
      'frequency_penalty',
      { ...hello, frequency_penalty: 0.5 },
      'frequency_penalty has no Anthropic equivalent',
    ],
    [
      'presence_penalty',
      { ...hello, presence_penalty: -0.5 },
      'presence_penalty has no Anthropic equivalent',
    ],
    [
      'logit_bias',
      { ...hello, logit_bias: { '50256': -100 } },
      'logit_bias has no Anthropic equivalent',
    ],
    ['logprobs', { ...hello, logprobs: true }, 'logprobs are not available from Anthropic'],
    ['top_logprobs', { ...hello, top_logprobs: 3 }, 'logprobs are not available from Anthropic'],
    [
      'audio output',
      { ...hello, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } },
      'audio output is not supported by Anthropic',
    ],
    ['verbosity', { ...hello, verbosity: 'low' }, 'verbosity has no Anthropic equivalent'],
    [
      'web search',
      { ...hello, web_search_options: {} },
      'web_search_options has no Anthropic equivalent',
    ],
    [
      'deprecated functions',
      { ...hello, functions: [{ name: 'f', parameters: { type: 'object' } }] },
      'deprecated functions/function_call are not translated (use tools)',
    ],
    [
      'custom tools',
      { ...hello, tools: [{ type: 'custom', custom: { name: 'sql' } }] },
      'custom (free-form) tools have no Anthropic equivalent',
    ],
    [
      'audio input',
      {
        ...hello,
        messages: [
          {
            role: 'user',
            content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }],
          },
        ],
      },
      'audio input is not supported by Anthropic',
    ],
    [
      'file input',
      {
        ...hello,
        messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc123' } }] }],
      },
      'file inputs are not translated to Anthropic',
    ],
    [
      'an SVG image',
      imageMessage('data:image/svg+xml;base64,PHN2Zz4='),
      'image type "image/svg+xml" is not supported by Anthropic',
    ],
    [
      'a non-base64 data URL',
      imageMessage('data:image/png,%89PNG'),
      'image data URLs must be base64',
    ],
    [
      'an ftp image URL',
      imageMessage('ftp://example.com/cat.png'),
      'image URLs must be http(s) or base64 data URLs',
    ],
    [
      'invalid tool call arguments',
      {
        ...hello,
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'x' },
        ],
      },
      'tool call arguments are not a JSON object',
    ],
    [
      'tool call arguments that are not an object',
      {
        ...hello,
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'f', arguments: '[1]' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'x' },
        ],
      },
      'tool call arguments are not a JSON object',
    ],
    [
      'a tool call id Anthropic rejects',
      {
        ...hello,
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            tool_calls: [
              { id: 'functions.f:0', type: 'function', function: { name: 'f', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'functions.f:0', content: 'x' },
        ],
      },
      'a tool call id has characters Anthropic rejects',
    ],
    [
      'a conversation ending with the assistant',
      {
        ...hello,
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'The answer is' },
        ],
      },
      'a conversation ending with an assistant message would be a prefill on Anthropic',
    ],
    [
      'only a system message',
      { ...hello, messages: [{ role: 'system', content: 'Be nice.' }] },
      'no user or assistant message to answer',
    ],
    ['no messages', { ...hello, messages: [] }, 'messages must be a non-empty array'],
    [
      'a field from the future',
      { ...hello, quantum_mode: true },
      'field "quantum_mode" has no Anthropic mapping',
    ],
  ])('%s', (_name, body, reason) => {
    expect(skipReason(body)).toBe(reason);
  });

  it('skips non-default sampling on anthropic-version 2026-10-21 and later', () => {
    const options = { anthropicVersion: '2026-10-21' };
    expect(skipReason({ ...hello, temperature: 0.2 }, options)).toBe(
      'temperature is rejected by anthropic-version "2026-10-21"',
    );
    expect(skipReason({ ...hello, top_p: 0.5 }, { anthropicVersion: '2027-01-01' })).toBe(
      'top_p is rejected by anthropic-version "2027-01-01"',
    );
    expect(translate({ ...hello, temperature: 0.2 }, { anthropicVersion: '2023-06-01' })).toEqual(
      expect.objectContaining({ temperature: 0.2 }),
    );
  });

  it('never copies request content into a reason', () => {
    const secret = 'sk-proj-this-must-not-leak';
    const reason = skipReason({
      ...hello,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: secret } }] }],
    });
    expect(reason).not.toContain(secret);
  });
});
