import type { Message, TextBlock, ToolUseBlock, Usage } from '@anthropic-ai/sdk/resources/messages';
import fc from 'fast-check';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import {
  anthropicMessageToOpenai,
  openaiCompletionToAnthropic,
  type AnthropicMessageResponse,
  type OpenaiChatCompletion,
} from '../../../src/dataplane/providers/translate/index.ts';

const NOW = 1_764_000_123;

const usage2026 = {
  input_tokens: 2095,
  output_tokens: 503,
  cache_creation_input_tokens: 10,
  cache_read_input_tokens: 1800,
  cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 10 },
  inference_geo: 'us',
  output_tokens_details: { thinking_tokens: 120 },
  server_tool_use: null,
  service_tier: 'standard',
  speed: null,
} satisfies Usage;

/** A tool-using answer as API version 2026-10-21 returns it (SDK 1.14 `Message`). */
const anthropicToolAnswer = {
  id: 'msg_01Aq9w938a90dw8q',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku-4-5-20251001',
  container: null,
  diagnostics: null,
  stop_details: null,
  content: [
    { type: 'thinking', thinking: 'The user wants the weather.', signature: 'EqQBCgIYAhIM' },
    { type: 'text', text: 'I will check ', citations: null },
    { type: 'text', text: 'the weather.', citations: null },
    {
      type: 'tool_use',
      id: 'toolu_01A09q90qw90lq917835lq9',
      name: 'get_weather',
      input: { location: 'San Francisco, CA', unit: 'celsius' },
      caller: { type: 'direct' },
    },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: usage2026,
} satisfies Message;

function toOpenai(message: unknown): OpenaiChatCompletion {
  const result = anthropicMessageToOpenai(message, NOW);
  if (!result.ok) throw new Error(result.reason);
  // Compile-time: the OpenAI SDK reads this as its own ChatCompletion.
  const completion: ChatCompletion = result.body;
  return completion as OpenaiChatCompletion;
}

function toAnthropic(completion: unknown): AnthropicMessageResponse {
  const result = openaiCompletionToAnthropic(completion);
  if (!result.ok) throw new Error(result.reason);
  // Compile-time: the Anthropic SDK reads this as its Message, minus the block fields an app
  // might echo back to an older API version (text citations, tool_use caller).
  const message: Omit<Message, 'content'> & {
    content: (Omit<TextBlock, 'citations'> | Omit<ToolUseBlock, 'caller'>)[];
  } = result.body;
  return message as AnthropicMessageResponse;
}

describe('anthropicMessageToOpenai', () => {
  it('turns a tool-using answer into a chat.completion with tool_calls', () => {
    expect(toOpenai(anthropicToolAnswer)).toEqual({
      id: 'msg_01Aq9w938a90dw8q',
      object: 'chat.completion',
      created: NOW,
      model: 'claude-haiku-4-5-20251001',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'I will check the weather.',
            refusal: null,
            tool_calls: [
              {
                id: 'toolu_01A09q90qw90lq917835lq9',
                type: 'function',
                function: {
                  name: 'get_weather',
                  arguments: '{"location":"San Francisco, CA","unit":"celsius"}',
                },
              },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 2095 + 10 + 1800,
        completion_tokens: 503,
        total_tokens: 2095 + 10 + 1800 + 503,
        prompt_tokens_details: { cached_tokens: 1800 },
        completion_tokens_details: { reasoning_tokens: 120 },
      },
    });
  });

  it('reads the 2023-06-01 shape the fake provider sends', () => {
    const answer = {
      id: 'msg_fake1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'The circuit is closed' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 4 },
    };
    const out = toOpenai(answer);
    expect(out.choices[0].message).toEqual({
      role: 'assistant',
      content: 'The circuit is closed',
      refusal: null,
    });
    expect(out.choices[0].finish_reason).toBe('stop');
    expect(out.usage).toEqual({
      prompt_tokens: 12,
      completion_tokens: 4,
      total_tokens: 16,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'stop'],
    ['a_reason_from_the_future', 'stop'],
  ])('stop_reason %s is finish_reason %s', (stopReason, finishReason) => {
    const answer = { ...anthropicToolAnswer, stop_reason: stopReason };
    expect(toOpenai(answer).choices[0].finish_reason).toBe(finishReason);
  });

  it('gives content "" for an empty answer and null beside tool calls only', () => {
    expect(toOpenai({ ...anthropicToolAnswer, content: [] }).choices[0].message.content).toBe('');
    const toolOnly = { ...anthropicToolAnswer, content: anthropicToolAnswer.content.slice(3) };
    expect(toOpenai(toolOnly).choices[0].message.content).toBeNull();
  });

  it('prefixes the id when asked', () => {
    const result = anthropicMessageToOpenai(anthropicToolAnswer, NOW, 'chatcmpl-');
    expect(result.ok && result.body.id).toBe('chatcmpl-msg_01Aq9w938a90dw8q');
  });

  it.each([
    ['not a message', { type: 'error', error: {} }, 'the Anthropic answer is not a message'],
    [
      'a server tool block',
      {
        ...anthropicToolAnswer,
        content: [{ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }],
      },
      '"server_tool_use" blocks in an answer have no OpenAI mapping',
    ],
  ])('fails rather than lose part of the answer: %s', (_name, answer, reason) => {
    expect(anthropicMessageToOpenai(answer, NOW)).toEqual({ ok: false, reason });
  });
});

/** A tool-calling completion as OpenAI returns it. */
const openaiToolAnswer = {
  id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
  object: 'chat.completion',
  created: 1_741_570_283,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: 'Checking.',
        refusal: null,
        annotations: [],
        tool_calls: [
          {
            id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
          },
          {
            id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5',
            type: 'function',
            function: { name: 'now', arguments: '' },
          },
        ],
      },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage: {
    prompt_tokens: 1117,
    completion_tokens: 46,
    total_tokens: 1163,
    prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0, cache_write_tokens: 13 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  service_tier: 'default',
} satisfies ChatCompletion;

describe('openaiCompletionToAnthropic', () => {
  it('turns a tool-calling completion into a message with tool_use blocks', () => {
    expect(toAnthropic(openaiToolAnswer)).toEqual({
      id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-2024-08-06',
      content: [
        { type: 'text', text: 'Checking.' },
        {
          type: 'tool_use',
          id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
          name: 'get_weather',
          input: { location: 'Paris' },
        },
        { type: 'tool_use', id: 'call_ABVQkOEt2VHHbmMtYJ3ZZNB5', name: 'now', input: {} },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage: {
        // Anthropic reports cache reads and writes beside input_tokens, not inside it.
        input_tokens: 1117 - 1024 - 13,
        output_tokens: 46,
        cache_creation_input_tokens: 13,
        cache_read_input_tokens: 1024,
        cache_creation: null,
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: null,
        speed: null,
      },
    });
  });

  it.each([
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['tool_calls', 'tool_use'],
    ['content_filter', 'refusal'],
  ])('finish_reason %s is stop_reason %s', (finishReason, stopReason) => {
    const [choice] = openaiToolAnswer.choices;
    const answer = { ...openaiToolAnswer, choices: [{ ...choice, finish_reason: finishReason }] };
    expect(toAnthropic(answer).stop_reason).toBe(stopReason);
  });

  it('reports a structured-outputs refusal as text with stop_reason refusal', () => {
    const answer = {
      ...openaiToolAnswer,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, refusal: "I'm sorry, I can't help." },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
    } satisfies ChatCompletion;
    const out = toAnthropic(answer);
    expect(out.content).toEqual([{ type: 'text', text: "I'm sorry, I can't help." }]);
    expect(out.stop_reason).toBe('refusal');
  });

  it('sends no empty text block (Anthropic rejects it when the app sends the turn back)', () => {
    const answer = {
      ...openaiToolAnswer,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: '', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
    } satisfies ChatCompletion;
    expect(toAnthropic(answer).content).toEqual([]);
  });

  it.each([
    ['not a completion', { error: { message: 'x' } }, 'the OpenAI answer is not a chat completion'],
    [
      'truncated tool arguments',
      {
        ...openaiToolAnswer,
        choices: [
          {
            ...openaiToolAnswer.choices[0],
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a": 1' } },
              ],
            },
          },
        ],
      },
      'tool call arguments are not a JSON object',
    ],
    [
      'a custom tool call',
      {
        ...openaiToolAnswer,
        choices: [
          {
            ...openaiToolAnswer.choices[0],
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'call_1', type: 'custom', custom: { name: 'sql', input: 'x' } }],
            },
          },
        ],
      },
      'custom tool calls have no Anthropic mapping',
    ],
  ])('fails rather than lose part of the answer: %s', (_name, answer, reason) => {
    expect(openaiCompletionToAnthropic(answer)).toEqual({ ok: false, reason });
  });
});

describe('response round trips', () => {
  const toolId = fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/);
  const toolName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,20}$/);
  const input = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 4,
  });
  const answer = fc.record({
    text: fc.string({ minLength: 1, maxLength: 40 }),
    tools: fc.uniqueArray(fc.record({ id: toolId, name: toolName, input }), {
      maxLength: 3,
      selector: (t) => t.id,
    }),
    stopReason: fc.constantFrom('end_turn', 'max_tokens', 'tool_use', 'refusal'),
    inputTokens: fc.nat(100_000),
    cacheRead: fc.nat(100_000),
    outputTokens: fc.nat(10_000),
  });

  it('Anthropic → OpenAI → Anthropic keeps text, tool ids, names, inputs, stop reason and token totals', () => {
    fc.assert(
      fc.property(answer, (a) => {
        const original = {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-haiku-4-5',
          content: [
            { type: 'text', text: a.text },
            ...a.tools.map((t) => ({ type: 'tool_use', ...t })),
          ],
          stop_reason: a.stopReason,
          stop_sequence: null,
          usage: {
            input_tokens: a.inputTokens,
            cache_read_input_tokens: a.cacheRead,
            output_tokens: a.outputTokens,
          },
        };
        const back = toAnthropic(toOpenai(original));
        expect(back.content).toEqual(
          // JSON text carries no -0; compare what a client would parse.
          JSON.parse(JSON.stringify(original.content)) as unknown,
        );
        expect(back.stop_reason).toBe(a.stopReason);
        expect(back.usage.input_tokens).toBe(a.inputTokens);
        expect(back.usage.cache_read_input_tokens).toBe(a.cacheRead);
        expect(back.usage.output_tokens).toBe(a.outputTokens);
      }),
    );
  });
});
