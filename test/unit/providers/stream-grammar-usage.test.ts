import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Usage, UsageFormat } from '../../../src/dataplane/cost/usage.ts';
import { StreamGrammar } from '../../../src/dataplane/providers/stream-grammar.ts';
import { SseFramer } from '../../../src/dataplane/sse/sse-framer.ts';
import {
  anthropicSse,
  anthropicToolStream,
  openaiSse,
  openaiToolStream,
} from '../translate/recorded-streams.ts';

/** Cuts bytes at the given positions (sorted, deduplicated, inside the buffer). */
function cut(bytes: Buffer, positions: readonly number[]): Buffer[] {
  const at = [...new Set(positions)].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of at) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/**
 * An upstream stream read the way an attempt reads it: whole events through the framer, each
 * classified by the grammar (which reads usage); events the grammar drops are not passed on.
 */
class StreamRun {
  readonly grammar: StreamGrammar;
  readonly framer: SseFramer;
  out: Buffer[] = [];

  constructor(format: UsageFormat, stripUsageChunk = false) {
    this.grammar = new StreamGrammar(format === 'openai' ? 'openai-chat' : 'anthropic-messages', {
      stripUsageChunk,
    });
    this.framer = new SseFramer(
      (b, raw) => {
        if (this.grammar.event(b.name, b.data) === 'drop') return 'dropped';
        this.out.push(raw);
        return 'forwarded';
      },
      (lf) => this.out.push(lf),
    );
  }

  /** What the app has been sent since the last call. */
  take(chunk?: Buffer): string {
    if (chunk !== undefined) this.framer.push(chunk);
    const text = Buffer.concat(this.out).toString();
    this.out = [];
    return text;
  }
}

function scan(format: UsageFormat, chunks: readonly Buffer[]): Usage | undefined {
  const run = new StreamRun(format);
  for (const chunk of chunks) run.framer.push(chunk);
  run.framer.finish();
  return run.grammar.usage();
}

function strip(chunks: readonly Buffer[]): Buffer {
  const run = new StreamRun('openai', true);
  for (const chunk of chunks) run.framer.push(chunk);
  run.framer.finish();
  return Buffer.concat(run.out);
}

const openaiBytes = Buffer.from(openaiSse(openaiToolStream));
const openaiUsage = { inputTokens: 82, outputTokens: 47 };
const anthropicBytes = Buffer.from(anthropicSse(anthropicToolStream));
// message_start: 472 input + 0 cache writes + 100 cache reads; message_delta: 89 output.
const anthropicUsage = { inputTokens: 572, outputTokens: 89 };

/** The fake provider's Anthropic stream shape: usage in message_start and message_delta only. */
function fakeAnthropicStream(input: number, output: number): Buffer {
  const ev = (type: string, o: unknown) => `event: ${type}\ndata: ${JSON.stringify(o)}\n\n`;
  return Buffer.from(
    ev('message_start', {
      type: 'message_start',
      message: { id: 'msg_fake1', content: [], usage: { input_tokens: input, output_tokens: 1 } },
    }) +
      ev('content_block_start', { type: 'content_block_start', index: 0 }) +
      ev('ping', { type: 'ping' }) +
      ev('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'The "usage": {} is fine' },
      }) +
      ev('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: output },
      }) +
      ev('message_stop', { type: 'message_stop' }),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('stream grammar: usage', () => {
  it.each([
    ['OpenAI', 'openai', openaiBytes, openaiUsage],
    ['Anthropic', 'anthropic', anthropicBytes, anthropicUsage],
    [
      'fake Anthropic',
      'anthropic',
      fakeAnthropicStream(12, 5),
      { inputTokens: 12, outputTokens: 5 },
    ],
  ] as const)(
    'reads the %s recorded stream whole and event by event',
    (_n, format, bytes, usage) => {
      expect(scan(format, [bytes])).toEqual(usage);
      const events = bytes
        .toString('utf8')
        .split(/(?<=\n\n)/)
        .map((e) => Buffer.from(e));
      expect(events.length).toBeGreaterThan(5);
      expect(scan(format, events)).toEqual(usage);
    },
  );

  it.each([
    ['OpenAI', 'openai', openaiBytes, openaiUsage],
    ['Anthropic', 'anthropic', anthropicBytes, anthropicUsage],
  ] as const)('reads the same %s usage whatever byte the stream is split at', (_n, f, bytes, u) => {
    for (let at = 1; at < bytes.length; at++) expect(scan(f, cut(bytes, [at]))).toEqual(u);
    expect(scan(f, cut(bytes, Array.from(bytes.keys())))).toEqual(u);
  });

  it('reads the same usage for any chunking and any line ending (property)', () => {
    const streams = [
      ['openai', openaiSse(openaiToolStream, '\n'), openaiUsage],
      ['openai', openaiSse(openaiToolStream, '\r\n'), openaiUsage],
      ['openai', openaiSse(openaiToolStream, '\r'), openaiUsage],
      ['anthropic', anthropicSse(anthropicToolStream, '\r\n'), anthropicUsage],
      ['anthropic', anthropicSse(anthropicToolStream, '\r'), anthropicUsage],
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...streams),
        fc.array(fc.nat(10_000), { maxLength: 40 }),
        ([format, text, usage], positions) => {
          const bytes = Buffer.from(text);
          expect(
            scan(
              format,
              cut(
                bytes,
                positions.map((p) => p % bytes.length),
              ),
            ),
          ).toEqual(usage);
        },
      ),
    );
  });

  it('parses only the event that carries usage, not the "usage":null on every OpenAI chunk', () => {
    const parse = vi.spyOn(JSON, 'parse');
    expect(scan('openai', [openaiBytes])).toEqual(openaiUsage);
    expect(parse).toHaveBeenCalledTimes(1);
    parse.mockClear();
    const events = openaiBytes
      .toString('utf8')
      .split(/(?<=\n\n)/)
      .map((e) => Buffer.from(e));
    expect(scan('openai', events)).toEqual(openaiUsage);
    expect(parse).toHaveBeenCalledTimes(1);
  });

  it('parses nothing on an Anthropic stream but message_start and message_delta', () => {
    const parse = vi.spyOn(JSON, 'parse');
    scan('anthropic', [fakeAnthropicStream(12, 5)]);
    expect(parse).toHaveBeenCalledTimes(2);
  });

  it('is undefined for a stream without usage', () => {
    const chunks = openaiToolStream.slice(0, -1);
    expect(scan('openai', [Buffer.from(openaiSse(chunks))])).toBeUndefined();
    expect(
      scan('anthropic', [Buffer.from('event: ping\ndata: {"type":"ping"}\n\n')]),
    ).toBeUndefined();
    expect(scan('openai', [])).toBeUndefined();
  });

  it('reads a last event the stream ended without its blank line', () => {
    const text = openaiSse(openaiToolStream)
      .replace(/data: \[DONE\]\n\n$/, '')
      .trimEnd();
    expect(scan('openai', [Buffer.from(text)])).toEqual(openaiUsage);
  });

  it('reports what a cut Anthropic stream said before it died', () => {
    const bytes = anthropicBytes.subarray(0, anthropicBytes.indexOf('event: content_block_start'));
    expect(scan('anthropic', [bytes])).toEqual({ inputTokens: 572, outputTokens: 2 });
  });

  it('takes input counts from a message_delta that repeats them (server tools)', () => {
    const ev = (o: { type: string; [field: string]: unknown }) =>
      `event: ${o.type}\ndata: ${JSON.stringify(o)}\n\n`;
    const text =
      ev({
        type: 'message_start',
        message: { usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 } },
      }) +
      ev({
        type: 'message_delta',
        usage: { input_tokens: 40, cache_read_input_tokens: null, output_tokens: 30 },
      });
    expect(scan('anthropic', [Buffer.from(text)])).toEqual({ inputTokens: 45, outputTokens: 30 });
  });

  it('keeps the last OpenAI usage when a provider sends it on every chunk', () => {
    const chunk = (n: number) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' } }], usage: { prompt_tokens: 9, completion_tokens: n } })}\n\n`;
    expect(scan('openai', [Buffer.from(chunk(1) + chunk(2)), Buffer.from(chunk(3))])).toEqual({
      inputTokens: 9,
      outputTokens: 3,
    });
  });

  it('tolerates a pretty-printed usage key split from its value', () => {
    const text = 'data: {"choices": [], "usage" :\n';
    const bytes = Buffer.from(`${text}data:   {"prompt_tokens": 1, "completion_tokens": 2}}\n\n`);
    // Two data lines join with LF into one JSON document.
    for (let at = 1; at < bytes.length; at++) {
      expect(scan('openai', cut(bytes, [at]))).toEqual({ inputTokens: 1, outputTokens: 2 });
    }
  });
});

describe('stream grammar: the usage chunk the sidecar asked for', () => {
  const expected = Buffer.from(openaiSse(openaiToolStream.slice(0, -1)));

  it('removes exactly the usage-only chunk and keeps [DONE]', () => {
    const out = strip([openaiBytes]);
    expect(out.equals(expected)).toBe(true);
    expect(out.toString()).toMatch(/data: \[DONE\]\n\n$/);
    expect(openaiBytes.length - out.length).toBe(
      `data: ${JSON.stringify(openaiToolStream.at(-1))}\n\n`.length,
    );
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('gives the same bytes whatever byte a %s stream is split at', (_name, end) => {
    const input = Buffer.from(openaiSse(openaiToolStream, end));
    const output = Buffer.from(openaiSse(openaiToolStream.slice(0, -1), end));
    for (let at = 1; at < input.length; at++) {
      expect(strip(cut(input, [at])).equals(output)).toBe(true);
    }
    expect(strip(cut(input, Array.from(input.keys()))).equals(output)).toBe(true);
  });

  it('gives the same bytes for any chunking and line ending (property)', () => {
    const cases = (['\n', '\r\n', '\r'] as const).map((end) => ({
      input: Buffer.from(openaiSse(openaiToolStream, end)),
      output: Buffer.from(openaiSse(openaiToolStream.slice(0, -1), end)),
    }));
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.array(fc.nat(10_000), { maxLength: 40 }),
        ({ input, output }, positions) => {
          const out = strip(
            cut(
              input,
              positions.map((p) => p % input.length),
            ),
          );
          expect(out.toString('latin1')).toBe(output.toString('latin1'));
        },
      ),
    );
  });

  it('passes a stream without a usage chunk through unchanged, multi-byte characters intact', () => {
    const input = Buffer.from(openaiSse(openaiToolStream.slice(0, -1)));
    expect(input.includes('…')).toBe(true);
    fc.assert(
      fc.property(fc.array(fc.nat(input.length), { maxLength: 30 }), (positions) => {
        expect(strip(cut(input, positions)).equals(input)).toBe(true);
      }),
    );
  });

  it('keeps chunks that carry usage beside choices, or empty choices without usage', () => {
    const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const text =
      data({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] }) +
      data({ choices: [{ index: 0, delta: { content: 'a' } }], usage: { prompt_tokens: 1 } }) +
      data({ choices: [], usage: null }) +
      data({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } }) +
      'data: [DONE]\n\n';
    const usageChunk = data({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } });
    expect(strip([Buffer.from(text)]).toString()).toBe(text.replace(usageChunk, ''));
  });

  it('drops a usage chunk the stream ended on without its blank line', () => {
    const kept = 'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n';
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}';
    expect(strip([Buffer.from(kept + usage)]).toString()).toBe(kept);
    expect(strip([Buffer.from(kept), Buffer.from(usage)]).toString()).toBe(kept);
  });

  it('releases only whole events', () => {
    const run = new StreamRun('openai', true);
    expect(run.take(Buffer.from('data: {"choices":[{"index":0,'))).toBe('');
    expect(run.take(Buffer.from('"delta":{}}]}\n\ndata: [DO'))).toBe(
      'data: {"choices":[{"index":0,"delta":{}}]}\n\n',
    );
    expect(run.take(Buffer.from('NE]\n'))).toBe('');
    // The blank line's second LF alone completes the event.
    expect(run.take(Buffer.from('\n'))).toBe('data: [DONE]\n\n');
    run.framer.finish();
    expect(run.take()).toBe('');
  });
});
