import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../../src/dataplane/sse/sse-reader.ts';

function parseWhole(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.finish()];
}

describe('SseParser', () => {
  it.each([
    ['LF', 'event: ping\ndata: {"type":"ping"}\n\n'],
    ['CRLF', 'event: ping\r\ndata: {"type":"ping"}\r\n\r\n'],
    ['CR', 'event: ping\rdata: {"type":"ping"}\r\r'],
  ])('reads %s line endings', (_name, text) => {
    expect(parseWhole(text)).toEqual([{ event: 'ping', data: '{"type":"ping"}' }]);
  });

  it('joins multi-line data with LF and ignores comments, ids and retries', () => {
    const text =
      ': keep-alive\n\nid: 7\nretry: 1000\ndata: line one\ndata:line two\n: note\ndata\n\n';
    expect(parseWhole(text)).toEqual([{ data: 'line one\nline two\n' }]);
  });

  it('dispatches nothing for an event without data, and names only the event it belongs to', () => {
    const text = 'event: orphan\n\ndata: [DONE]\n\n';
    expect(parseWhole(text)).toEqual([{ data: '[DONE]' }]);
  });

  it('strips a byte order mark at the start of a string stream', () => {
    expect(parseWhole('\uFEFFdata: x\n\n')).toEqual([{ data: 'x' }]);
  });

  it('waits for the LF that may follow a CR at the end of a chunk', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    expect(parser.push('\n\r\ndata: b\r\n\r\n')).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  it('reassembles a UTF-8 character split between byte chunks', () => {
    const bytes = Buffer.from('data: Zürich 🌦\n\n');
    const parser = new SseParser();
    const events: SseEvent[] = [];
    for (const byte of bytes) events.push(...parser.push(Buffer.from([byte])));
    expect(events).toEqual([{ data: 'Zürich 🌦' }]);
  });

  it('dispatches a last event the server ended without its blank line', () => {
    const parser = new SseParser();
    expect(parser.push('data: [DONE]')).toEqual([]);
    expect(parser.finish()).toEqual([{ data: '[DONE]' }]);
  });

  it('yields the same events however the bytes are split', () => {
    const stream = Buffer.from(
      'event: message_start\r\ndata: {"a":"é"}\r\n\r\n: ping\n\nevent: x\ndata: 1\ndata: 2\n\ndata: 🌍\r\r',
    );
    const whole = parseWhole(stream.toString('utf8'));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 })), (cuts) => {
        const parser = new SseParser();
        const events: SseEvent[] = [];
        let start = 0;
        for (const cut of [...cuts].sort((x, y) => x - y)) {
          events.push(...parser.push(stream.subarray(start, cut)));
          start = cut;
        }
        events.push(...parser.push(stream.subarray(start)), ...parser.finish());
        expect(events).toEqual(whole);
      }),
    );
  });
});
