import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AnthropicToOpenaiStream,
  OpenaiToAnthropicStream,
} from '../../../src/dataplane/providers/translate/index.ts';
import {
  accumulateAnthropic,
  anthropicSse,
  bytesThrough,
  anthropicToolStream,
  openaiSse,
  openaiToolStream,
  sseEvents,
} from './recorded-streams.ts';

function translateAll(text: string): string {
  const stream = new OpenaiToAnthropicStream();
  return sseEvents(text)
    .map((event) => stream.push(event))
    .join('');
}

function events(text: string): RawMessageStreamEvent[] {
  return sseEvents(text).map((e) => JSON.parse(e.data) as RawMessageStreamEvent);
}

describe('OpenaiToAnthropicStream', () => {
  const recorded = openaiSse(openaiToolStream);

  it('streams message_start, a text block, one tool_use block per call, one message_delta and message_stop', () => {
    const text = translateAll(recorded);
    const out = accumulateAnthropic(text);
    expect(out.types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(out.stopped).toBe(true);
    expect(out.message).toEqual({
      id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-2024-08-06',
      content: [
        { type: 'text', text: 'Checking both cities…' },
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
      stop_reason: 'tool_use',
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage: {
        input_tokens: 82 - 64,
        output_tokens: 47,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 64,
        cache_creation: null,
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: null,
        speed: null,
      },
    });
  });

  it('sends the exact wire events Anthropic would for a tool call', () => {
    const all = events(translateAll(recorded));
    expect(all.slice(5, 9)).toEqual([
      {
        type: 'content_block_start',
        index: 1,
        content_block: {
          type: 'tool_use',
          id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
          name: 'get_weather',
          input: {},
        },
      },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"location":' },
      },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: ' "Paris"}' },
      },
      { type: 'content_block_stop', index: 1 },
    ]);
    expect(all.at(-2)).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
      usage: {
        input_tokens: 18,
        output_tokens: 47,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 64,
        output_tokens_details: null,
        server_tool_use: null,
      },
    });
  });

  it('holds message_delta until the usage chunk that follows the finish chunk', () => {
    const stream = new OpenaiToAnthropicStream();
    const outputs = sseEvents(recorded).map((event) => stream.push(event));
    const finishAt = openaiToolStream.findIndex(
      (c) => c.choices[0]?.finish_reason === 'tool_calls',
    );
    expect(outputs[finishAt]).toBe(
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}\n\n',
    );
    expect(outputs[finishAt + 1]).toMatch(/^event: message_delta\n/);
    expect(outputs[finishAt + 2]).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  });

  it('sends one message_delta when usage rides on the finish chunk', () => {
    const last = openaiToolStream.at(-1);
    const chunks = [
      ...openaiToolStream.slice(0, -2),
      { ...openaiToolStream.at(-2), usage: last?.usage },
    ];
    const out = accumulateAnthropic(translateAll(openaiSse(chunks)));
    expect(out.types.filter((t) => t === 'message_delta')).toHaveLength(1);
    expect(out.message?.usage.output_tokens).toBe(47);
  });

  it('sends message_delta at [DONE] when the usage chunk never came', () => {
    const out = accumulateAnthropic(translateAll(openaiSse(openaiToolStream.slice(0, -1))));
    expect(out.types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(out.message?.stop_reason).toBe('tool_use');
    expect(out.message?.usage.output_tokens).toBe(0);
  });

  it('gives the same output however the upstream bytes are split, at every position', () => {
    const bytes = Buffer.from(recorded);
    const whole = translateAll(recorded);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const converter = bytesThrough(new OpenaiToAnthropicStream());
      const out =
        converter.push(bytes.subarray(0, cut)) +
        converter.push(bytes.subarray(cut)) +
        converter.end();
      if (out !== whole) expect({ cut, out }).toEqual({ cut, out: whole });
    }
  });

  it('skips the prompt_filter_results chunk Azure OpenAI opens with', () => {
    const azureFirst = {
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: [
        {
          prompt_index: 0,
          content_filter_results: { hate: { filtered: false, severity: 'safe' } },
        },
      ],
    };
    const out = accumulateAnthropic(translateAll(openaiSse([azureFirst, ...openaiToolStream])));
    expect(out.message?.id).toBe('chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT');
    expect(out.message?.model).toBe('gpt-4o-2024-08-06');
  });

  it('turns an error chunk into an Anthropic error event and ends the stream', () => {
    const chunks = [
      ...openaiToolStream.slice(0, 2),
      {
        error: {
          message: 'The server had an error while processing your request.',
          type: 'server_error',
        },
      },
      ...openaiToolStream.slice(2),
    ];
    const stream = new OpenaiToAnthropicStream();
    const outputs = sseEvents(openaiSse(chunks)).map((event) => stream.push(event));
    expect(outputs[2]).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"The server had an error while processing your request."}}\n\n',
    );
    expect(outputs.slice(3).join('')).toBe('');
    expect(accumulateAnthropic(outputs.join('')).stopped).toBe(false);
  });

  it('streams a refusal as text that stops with refusal', () => {
    const chunks = [
      openaiToolStream.slice(0, 1),
      [
        {
          ...openaiToolStream.slice(0, 1)[0],
          choices: [
            { index: 0, delta: { refusal: "I'm sorry, I can't help." }, finish_reason: null },
          ],
        },
        {
          ...openaiToolStream.slice(0, 1)[0],
          choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        },
      ],
    ].flat();
    const out = accumulateAnthropic(translateAll(openaiSse(chunks)));
    expect(out.message?.content).toEqual([{ type: 'text', text: "I'm sorry, I can't help." }]);
    expect(out.message?.stop_reason).toBe('refusal');
  });

  it('ends with an error when fragments of an earlier tool call arrive after a later one started', () => {
    const [first] = openaiToolStream;
    const fragment = (index: number, id?: string) => ({
      ...first,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              id === undefined
                ? { index, function: { arguments: '{}' } }
                : { index, id, type: 'function', function: { name: 'f', arguments: '' } },
            ],
          },
          finish_reason: null,
        },
      ],
    });
    const chunks = [first, fragment(0, 'call_a'), fragment(1, 'call_b'), fragment(0)];
    const out = accumulateAnthropic(translateAll(openaiSse(chunks)));
    expect(out.error).toEqual({
      type: 'api_error',
      message: 'interleaved tool call arguments cannot be translated',
    });
  });
});

describe('stream round trip', () => {
  it('Anthropic → OpenAI → Anthropic keeps the text, tool ids, names, inputs and stop reason', () => {
    const text = fc.array(fc.string({ minLength: 1, maxLength: 12 }), {
      minLength: 1,
      maxLength: 6,
    });
    const tool = fc.record({
      id: fc.stringMatching(/^toolu_[A-Za-z0-9]{4,24}$/),
      name: fc.stringMatching(/^[a-z_]{1,16}$/),
      input: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), {
        maxKeys: 3,
      }),
      cuts: fc.array(fc.nat(), { maxLength: 4 }),
    });
    fc.assert(
      fc.property(
        text,
        fc.uniqueArray(tool, { maxLength: 3, selector: (t) => t.id }),
        (deltas, tools) => {
          const [start, , , , , , , , , , message_delta, stop] = anthropicToolStream;
          const upstream: unknown[] = [
            start,
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
            ...deltas.map((t) => ({
              type: 'content_block_delta',
              index: 0,
              delta: { type: 'text_delta', text: t },
            })),
            { type: 'content_block_stop', index: 0 },
          ];
          tools.forEach((t, i) => {
            const json = JSON.stringify(t.input);
            const cuts = [...new Set(t.cuts.map((c) => c % (json.length + 1)))].sort(
              (a, b) => a - b,
            );
            upstream.push({
              type: 'content_block_start',
              index: i + 1,
              content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} },
            });
            let from = 0;
            for (const cut of [...cuts, json.length]) {
              upstream.push({
                type: 'content_block_delta',
                index: i + 1,
                delta: { type: 'input_json_delta', partial_json: json.slice(from, cut) },
              });
              from = cut;
            }
            upstream.push({ type: 'content_block_stop', index: i + 1 });
          });
          upstream.push(message_delta, stop);

          const toOpenai = new AnthropicToOpenaiStream({ includeUsage: true, created: 1 });
          const openaiText = sseEvents(anthropicSse(upstream as { type: string }[]))
            .map((e) => toOpenai.push(e))
            .join('');
          const back = accumulateAnthropic(translateAll(openaiText));
          expect(back.stopped).toBe(true);
          expect(back.message?.stop_reason).toBe('tool_use');
          expect(back.message?.content).toEqual([
            { type: 'text', text: deltas.join('') },
            ...tools.map((t) => ({
              type: 'tool_use',
              id: t.id,
              name: t.name,
              input: JSON.parse(JSON.stringify(t.input)) as unknown,
            })),
          ]);
          expect(back.message?.usage.output_tokens).toBe(89);
        },
      ),
      { numRuns: 60 },
    );
  });
});
