import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import {
  AnthropicToOpenaiStream,
  type AnthropicToOpenaiStreamOptions,
} from '../../../src/dataplane/providers/translate/index.ts';
import {
  accumulateOpenai,
  anthropicSse,
  bytesThrough,
  anthropicToolStream,
  sseEvents,
} from './recorded-streams.ts';

const CREATED = 1_764_000_321;

function translateAll(text: string, options: AnthropicToOpenaiStreamOptions): string {
  const stream = new AnthropicToOpenaiStream(options);
  return sseEvents(text)
    .map((event) => stream.push(event))
    .join('');
}

const base = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'claude-haiku-4-5-20251001',
} as const;

function chunk(
  delta: ChatCompletionChunk.Choice.Delta,
  finishReason: ChatCompletionChunk.Choice['finish_reason'] = null,
): ChatCompletionChunk {
  return {
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    usage: null,
  };
}

/** The chunks OpenAI itself would stream for the recorded answer. */
const expectedChunks: ChatCompletionChunk[] = [
  chunk({ role: 'assistant' }),
  chunk({ content: 'Okay, let me check the ' }),
  chunk({ content: 'weather in Zürich 🌦' }),
  chunk({
    tool_calls: [
      {
        index: 0,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      },
    ],
  }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"location": "Zür' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: 'ich", "unit": "celsius"}' } }] }),
  chunk({}, 'tool_calls'),
  {
    ...base,
    choices: [],
    usage: {
      prompt_tokens: 472 + 100,
      completion_tokens: 89,
      total_tokens: 472 + 100 + 89,
      prompt_tokens_details: { cached_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  },
];

describe('AnthropicToOpenaiStream', () => {
  const recorded = anthropicSse(anthropicToolStream);

  it('streams text, a tool call, the finish chunk, the usage chunk and [DONE], in that order', () => {
    const out = accumulateOpenai(translateAll(recorded, { includeUsage: true, created: CREATED }));
    expect(out.chunks).toEqual(expectedChunks);
    expect(out.done).toBe(true);
    expect(out.content).toBe('Okay, let me check the weather in Zürich 🌦');
    expect(out.toolCalls).toEqual([
      {
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        name: 'get_weather',
        arguments: '{"location": "Zürich", "unit": "celsius"}',
      },
    ]);
    expect(out.finishReason).toBe('tool_calls');
  });

  it('sends no usage chunk and no usage fields unless the app asked for include_usage', () => {
    const text = translateAll(recorded, { includeUsage: false, created: CREATED });
    const out = accumulateOpenai(text);
    const withoutUsage = expectedChunks.slice(0, -1).map((c) => {
      const copy = { ...c };
      delete copy.usage;
      return copy;
    });
    expect(out.chunks).toEqual(withoutUsage);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('gives every chunk the same id, prefixed when asked', () => {
    const out = accumulateOpenai(
      translateAll(recorded, { includeUsage: true, created: CREATED, idPrefix: 'chatcmpl-' }),
    );
    expect(new Set(out.chunks.map((c) => c.id))).toEqual(
      new Set(['chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL']),
    );
  });

  it('gives the same output however the upstream bytes are split, at every position', () => {
    const bytes = Buffer.from(recorded);
    const options = { includeUsage: true, created: CREATED };
    const whole = translateAll(recorded, options);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const converter = bytesThrough(new AnthropicToOpenaiStream(options));
      const out =
        converter.push(bytes.subarray(0, cut)) +
        converter.push(bytes.subarray(cut)) +
        converter.end();
      if (out !== whole) expect({ cut, out }).toEqual({ cut, out: whole });
    }
  });

  it('reads CRLF streams the same way', () => {
    const options = { includeUsage: true, created: CREATED };
    expect(translateAll(anthropicSse(anthropicToolStream, '\r\n'), options)).toBe(
      translateAll(recorded, options),
    );
  });

  it('ends with an OpenAI error line and no [DONE] when an error event arrives mid-stream', () => {
    const events = [
      ...anthropicToolStream.slice(0, 3),
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      ...anthropicToolStream.slice(3),
    ];
    const stream = new AnthropicToOpenaiStream({ includeUsage: true, created: CREATED });
    const outputs = sseEvents(anthropicSse(events)).map((event) => stream.push(event));
    const errorAt = outputs.findIndex((o) => o.includes('"error"'));
    expect(outputs[errorAt]).toBe(
      'data: {"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}\n\n',
    );
    expect(outputs.slice(errorAt + 1).join('')).toBe('');
    expect(stream.finished).toBe(true);
    const folded = accumulateOpenai(outputs.join(''));
    expect(folded.done).toBe(false);
    expect(folded.content).toBe('Okay, let me check the ');
  });

  it('sends "{}" as the arguments of a tool call without input deltas', () => {
    const events = [
      ...anthropicToolStream.slice(0, 1),
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_now', name: 'now', input: {} },
      },
      { type: 'content_block_stop', index: 0 },
      ...anthropicToolStream.slice(-2),
    ];
    const out = accumulateOpenai(
      translateAll(anthropicSse(events), { includeUsage: false, created: 1 }),
    );
    expect(out.toolCalls).toEqual([{ id: 'toolu_now', name: 'now', arguments: '{}' }]);
  });

  it('skips thinking blocks and unknown event types, and fails on unknown content blocks', () => {
    const events = [
      ...anthropicToolStream.slice(0, 1),
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm' } },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'signature_delta', signature: 'Eq' },
      },
      { type: 'content_block_stop', index: 0 },
      { type: 'brand_new_event', detail: 1 },
      {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} },
      },
    ];
    const out = accumulateOpenai(
      translateAll(anthropicSse(events), { includeUsage: false, created: 1 }),
    );
    expect(out.content).toBe('');
    expect(out.error).toEqual({
      message: '"server_tool_use" blocks in an answer have no OpenAI mapping',
      type: 'server_error',
      param: null,
      code: null,
    });
  });

  it('reports an unreadable event as an error instead of passing it on', () => {
    const stream = new AnthropicToOpenaiStream({ includeUsage: false, created: 1 });
    expect(stream.push({ event: 'content_block_delta', data: '{"type": "content_bl' })).toContain(
      '"error"',
    );
    expect(stream.finished).toBe(true);
  });
});

describe('AnthropicToOpenaiStream text deltas (the template path)', () => {
  const start = {
    event: 'message_start',
    data: JSON.stringify({
      type: 'message_start',
      message: { id: 'msg_1', model: 'claude-sonnet-4-6', usage: { input_tokens: 3 } },
    }),
  };
  /** Anthropic's own layout (the template path) and the same event with its keys reordered. */
  const layouts = (text: string, index = '0') => ({
    fast: `{"type":"content_block_delta","index":${index},"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}`,
    full: `{"index":${index},"delta":{"text":${JSON.stringify(text)},"type":"text_delta"},"type":"content_block_delta"}`,
  });
  const through = (data: string, includeUsage: boolean) => {
    const stream = new AnthropicToOpenaiStream({ includeUsage, created: CREATED });
    return stream.push(start) + stream.push({ event: 'content_block_delta', data });
  };
  const texts = [
    'word ',
    '',
    'Zürich 🌦 — 東京',
    'quote " backslash \\ slash / tab \t newline \n cr \r',
    'control \u0001 \u001f and \u2028 \u2029',
    '{"not":"json inside"}',
    '"}}',
    'x'.repeat(100_000),
  ];

  it.each(texts.map((t) => [t.slice(0, 40), t]))(
    'writes exactly what the full translation writes: %j',
    (_label, text) => {
      for (const includeUsage of [false, true]) {
        const { fast, full } = layouts(text);
        expect(through(fast, includeUsage)).toBe(through(full, includeUsage));
      }
    },
  );

  it('keeps escapes another encoder wrote, which decode to the same text', () => {
    const data =
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"caf\\u00e9 \\/ ok"}}';
    const text = through(data, false);
    // The literal is passed on as written (the template path), and means the same text.
    expect(text).toContain('"delta":{"content":"caf\\u00e9 \\/ ok"}');
    expect(accumulateOpenai(text).content).toBe('café / ok');
  });

  it.each([
    ['a backslash that escapes the closing quote', '"abc\\"}}'],
    ['a raw control character', '"a\u0001b"}}'],
    ['a bad \\u escape', '"\\u12G4"}}'],
    ['an unknown escape', '"\\x41"}}'],
    ['an unescaped quote', '"a"b"}}'],
  ])('treats %s as the full parse does (an unreadable event ends the stream)', (_label, tail) => {
    const data = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${tail}`;
    const out = through(data, false);
    expect(out).toContain('"error"');
    expect(out).not.toContain('"content":"a');
  });

  it('takes a leading-zero index as the full parse does', () => {
    const { fast } = layouts('hi', '01');
    expect(through(fast, false)).toContain('"error"');
  });
});
