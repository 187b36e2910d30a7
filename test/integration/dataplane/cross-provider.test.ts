// Cross-provider fallback end to end: an OpenAI SDK app answered by the Anthropic fake while
// the OpenAI fake is down, and the reverse, streaming and not, tool calls included. The app
// never notices which provider answered, except through the x-aicb-* headers.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_TRANSLATED_BODY_BYTES } from '../../../src/dataplane/exchange/attempt.ts';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let an: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai', words: 6 });
  an = await startFakeProvider({
    api: 'anthropic',
    words: 6,
    modelAliases: { 'claude-haiku-4-5': 'claude-haiku-4-5-20251001' },
  });
  sc = await startSidecar(
    {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: oa.url, apiKey: { env: 'OPENAI_KEY' } },
        {
          name: 'anthropic',
          provider: 'anthropic',
          baseURL: an.url,
          apiKey: { env: 'ANTHROPIC_KEY' },
        },
      ],
      breaker: { failureThreshold: 2 },
      fallbacks: [
        {
          from: 'openai',
          to: [
            {
              upstream: 'anthropic',
              modelMap: { 'gpt-4o-mini': 'claude-haiku-4-5', '*': 'claude-sonnet-4-6' },
            },
          ],
        },
        { from: 'anthropic', to: [{ upstream: 'openai', modelMap: { '*': 'gpt-4o' } }] },
      ],
    },
    { env: { OPENAI_KEY: 'sk-openai-policy-key', ANTHROPIC_KEY: 'sk-ant-policy-key' } },
  );
});

afterEach(async () => {
  await sc.close();
  await oa.close();
  await an.close();
});

const openaiClient = () =>
  new OpenAI({ apiKey: 'sk-app-openai', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });
const anthropicClient = () =>
  new Anthropic({ apiKey: 'sk-app-anthropic', baseURL: `${sc.url}/anthropic`, maxRetries: 0 });
const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('OpenAI app, OpenAI down, answered by Anthropic', () => {
  beforeEach(() => {
    oa.setDefault({ type: 'status', status: 503 });
  });

  it('returns a chat.completion built from the Claude answer, with the served model', async () => {
    const { data, response } = await openaiClient()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
        max_completion_tokens: 50,
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message).toMatchObject({
      role: 'assistant',
      content: 'The circuit is closed and the',
    });
    expect(data.choices[0]?.finish_reason).toBe('stop');
    // The body carries the model the provider reports (Anthropic resolves the alias to a dated
    // snapshot); x-aicb-model the model the sidecar asked for (docs/translation.md).
    expect(data.model).toBe('claude-haiku-4-5-20251001');
    expect(data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 });
    expect(response.headers.get('x-aicb-fallback')).toBe('openai->anthropic');
    expect(response.headers.get('x-aicb-model')).toBe('claude-haiku-4-5');
    // Anthropic received a real Messages request with the policy's key, never the app's.
    const sent = an.requests[0];
    expect(sent?.url).toBe('/v1/messages');
    expect(sent?.headers['x-api-key']).toBe('sk-ant-policy-key');
    expect(JSON.stringify(sent?.headers)).not.toContain('sk-app-openai');
    expect(sent?.json).toMatchObject({
      model: 'claude-haiku-4-5',
      system: 'Be brief.',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hi' }],
    });
  });

  it('streams Claude events to the OpenAI SDK as chat.completion.chunks, with usage when asked', async () => {
    const stream = await openaiClient().chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: unknown;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('The circuit is closed and the');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 6 });
  });

  it('carries tool definitions, tool calls and their ids across, streaming and not', async () => {
    an.setDefault({ type: 'tool', name: 'get_weather', input: { city: 'Paris' } });
    const completion = await openaiClient().chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
      tool_choice: 'auto',
    });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({
      city: 'Paris',
    });
    expect(an.requests[0]?.json).toMatchObject({
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather',
          input_schema: weatherTool.function.parameters,
        },
      ],
      tool_choice: { type: 'auto' },
    });

    // The tool result goes back to Claude with the same id.
    const callId = call?.id ?? '';
    await openaiClient().chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: callId,
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: callId, content: '18°C, sunny' },
      ],
      tools: [weatherTool],
    });
    expect(an.requests[1]?.json).toMatchObject({
      messages: [
        { role: 'user' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: callId, name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: callId, content: '18°C, sunny' }],
        },
      ],
    });

    const stream = openaiClient().chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
    });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0]?.message.tool_calls?.[0];
    expect(streamed?.type === 'function' && streamed.function.name).toBe('get_weather');
    expect(streamed?.type === 'function' && JSON.parse(streamed.function.arguments)).toEqual({
      city: 'Paris',
    });
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('skips the Anthropic target with the reason when the request cannot be served faithfully', async () => {
    const error = (await openaiClient()
      .chat.completions.create({
        model: 'gpt-4o',
        n: 2,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(503); // the primary's real error
    expect(error.headers?.get('x-aicb-attempts')).toMatch(
      /^openai:503,anthropic:skipped-untranslatable\(.+\)$/,
    );
    expect(an.requests).toHaveLength(0);
    expect(sc.logs.join('')).toContain('fallback target skipped');
  });

  it('translates an Anthropic error into the OpenAI error format', async () => {
    an.setDefault({ type: 'status', status: 400 });
    const error = (await openaiClient()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.message).toContain('fake anthropic error 400');
    expect(error.headers?.get('x-aicb-upstream')).toBe('anthropic');
  });

  it("answers an answer too large to translate with the sidecar's own error, not charging the target", async () => {
    // A healthy Claude answer just over the 32 MiB the sidecar holds to convert a body whole.
    const text = 'x'.repeat(MAX_TRANSLATED_BODY_BYTES + 1024);
    const message = `{"id":"msg_big","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"${text}"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`;
    an.queue({
      type: 'raw',
      headers: { 'content-type': 'application/json' },
      chunks: [Buffer.from(message)],
    });
    const error = (await openaiClient()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(502);
    expect(error.code).toBe('AICB_ANSWER_TOO_LARGE');
    expect(error.message).toMatch(/32 MiB/);
    expect(error.headers?.get('x-should-retry')).toBe('false');
    expect(error.headers?.get('x-aicb-attempts')).toBe('openai:503,anthropic:answer_too_large');
    const metrics = await sc.metricsText();
    expect(metrics).not.toMatch(/circuit_breaker_failures_total\{provider="anthropic"/);
    expect(metrics).toContain(
      'aicb_upstream_duration_seconds_count{provider="anthropic",endpoint="chat",outcome="ignored"} 1',
    );
  });

  it('streams a tool-call answer without an empty content, so the final message has content null', async () => {
    an.setDefault({ type: 'tool', name: 'get_weather', input: { city: 'Paris' } });
    const stream = openaiClient().chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
    });
    const contents: unknown[] = [];
    stream.on('chunk', (chunk) => {
      const delta = chunk.choices[0]?.delta;
      if (delta !== undefined && 'content' in delta) contents.push(delta.content);
    });
    const final = await stream.finalChatCompletion();
    expect(contents).toEqual([]);
    expect(final.choices[0]?.message.content).toBeNull();
    expect(final.choices[0]?.message.tool_calls).toHaveLength(1);
  });
});

describe('Anthropic app, Anthropic down, answered by OpenAI', () => {
  beforeEach(() => {
    an.setDefault({ type: 'status', status: 529 });
  });

  it('ends an OpenAI stream without a finish_reason as interrupted, never as end_turn', async () => {
    const chunk = (delta: Record<string, unknown>) =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    oa.queue({
      type: 'raw',
      chunks: [
        chunk({ role: 'assistant', content: '' }),
        chunk({ content: 'half an ans' }),
        'data: [DONE]\n\n',
      ],
    });
    const stream = anthropicClient().messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    await expect(stream.finalMessage()).rejects.toThrow(/AICB_STREAM_INTERRUPTED|finish reason/);
    expect(text).toBe('half an ans');
    expect(await sc.metricsText()).toContain(
      'circuit_breaker_failures_total{provider="openai",endpoint="chat",reason="stream_error"} 1',
    );
  });

  it('returns an Anthropic message built from the OpenAI answer', async () => {
    const { data, response } = await anthropicClient()
      .messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(data).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o',
      content: [{ type: 'text', text: 'The circuit is closed and the' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 12, output_tokens: 6 },
    });
    expect(response.headers.get('x-aicb-fallback')).toBe('anthropic->openai');
    expect(oa.requests[0]?.url).toBe('/v1/chat/completions');
    expect(oa.requests[0]?.headers.authorization).toBe('Bearer sk-openai-policy-key');
    expect(oa.requests[0]?.json).toMatchObject({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    });
  });

  it('streams OpenAI chunks to the Anthropic SDK as Messages events', async () => {
    const stream = anthropicClient().messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const message = await stream.finalMessage();
    expect(message.content).toMatchObject([
      { type: 'text', text: 'The circuit is closed and the' },
    ]);
    expect(message.stop_reason).toBe('end_turn');
    expect(oa.requests[0]?.json).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('carries tool use across, streaming and not', async () => {
    oa.setDefault({ type: 'tool', name: 'get_weather', input: { city: 'Oslo' } });
    const tool = {
      name: 'get_weather',
      description: 'Current weather',
      input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
    };
    const message = await anthropicClient().messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      tools: [tool],
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content[0]).toMatchObject({
      type: 'tool_use',
      name: 'get_weather',
      input: { city: 'Oslo' },
    });
    const streamed = await anthropicClient()
      .messages.stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        tools: [tool],
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      })
      .finalMessage();
    expect(streamed.content[0]).toMatchObject({
      type: 'tool_use',
      name: 'get_weather',
      input: { city: 'Oslo' },
    });
    expect(streamed.stop_reason).toBe('tool_use');
  });
});
