// The request-body scanner accepts exactly the JSON objects JSON.parse accepts (structure,
// tokens, string contents), and finds the top-level values it is asked for.
import { describe, expect, it } from 'vitest';
import {
  scanJsonObject,
  spanValue,
  type JsonObjectScan,
} from '../../../src/dataplane/json/json-object-scan.ts';

const WANTED = new Set(['model', 'stream', 'stream_options']);

function scan(text: string | Buffer): JsonObjectScan {
  return scanJsonObject(typeof text === 'string' ? Buffer.from(text) : text, WANTED);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('scanJsonObject', () => {
  it('reads the wanted top-level values, the last one winning', () => {
    const body = Buffer.from(
      '{ "model" : "a", "x": {"model": "inner"}, "stream": true, "model": "gpt-\\u0034o" }',
    );
    const result = scanJsonObject(body, WANTED);
    if (!result.ok) throw new Error(result.reason);
    const model = result.values.get('model');
    expect(model && spanValue(body, model)).toBe('gpt-4o');
    const stream = result.values.get('stream');
    expect(stream && spanValue(body, stream)).toBe(true);
    expect(result.values.has('stream_options')).toBe(false);
  });

  // Each string below is put inside a string value (and a key), so it must be valid contents.
  const validContents = [
    'plain',
    '',
    'é 模型 🚀',
    '\\" \\\\ \\/ \\b \\f \\n \\r \\t',
    '\\u0000 \\u00e9 \\u00E9 \\uD83D\\uDE80 \\uabcd',
    'ends with an escaped quote \\"',
    'ends with a backslash \\\\',
    '\x7f DEL is allowed',
  ];
  const invalidContents: [string, string][] = [
    ['a raw tab', 'a\tb'],
    ['a raw newline', 'a\nb'],
    ['a raw CR', 'a\rb'],
    ['a NUL byte', 'a\u0000b'],
    ['0x1f', 'a\u001fb'],
    ['an unknown escape', 'a\\xb'],
    ['an escaped apostrophe', "a\\'b"],
    ['a short \\u', 'a\\u12'],
    ['\\u with a non-hex digit', '\\u12g4'],
    ['\\u at the end', 'abc\\u'],
    ['an escaped digit', '\\0'],
  ];

  it.each(validContents)('accepts the string contents %j as JSON.parse does', (contents) => {
    for (const text of [`{"k":"${contents}"}`, `{"${contents}":1}`, `{"a":["x","${contents}"]}`]) {
      expect(parses(text), text).toBe(true);
      expect(scan(text).ok, text).toBe(true);
    }
  });

  it.each(invalidContents)('refuses a string with %s, as JSON.parse does', (_name, contents) => {
    for (const text of [
      `{"k":"${contents}"}`,
      `{"${contents}":1}`,
      `{"a":[{"b":"x"},"${contents}"]}`,
      `{"model":"${contents}"}`,
      `{"stream_options":{"include_usage":"${contents}"}}`,
    ]) {
      expect(parses(text), text).toBe(false);
      const result = scan(text);
      expect(result.ok, text).toBe(false);
      expect(!result.ok && result.reason).toMatch(
        /(control character|invalid escape) in a string at byte \d+/,
      );
    }
  });

  it('names the offset of the bad byte', () => {
    expect(scan('{"k":"ab\tc"}')).toEqual({
      ok: false,
      reason: 'a control character in a string at byte 8',
    });
    expect(scan('{"k":"ab\\qc"}')).toEqual({
      ok: false,
      reason: 'an invalid escape in a string at byte 8',
    });
  });

  it('allows whitespace control characters between tokens, and no other', () => {
    expect(scan('{\n\t"model":\r\n "m" ,\t"x" : [ 1 ,\n2 ]\n}\n').ok).toBe(true);
    expect(scan('{"model":"m",\u0001"x":1}').ok).toBe(false);
  });

  it('finds a bad byte at any place of a long body, also past many good strings', () => {
    const good = JSON.stringify({
      model: 'gpt-4o',
      messages: Array.from({ length: 300 }, (_, i) => ({ role: 'user', content: `m ${i} \n é` })),
    });
    expect(scan(good).ok).toBe(true);
    // Pretty-printed: newlines between tokens are fine; one inside a string is not.
    const pretty = JSON.stringify(JSON.parse(good), null, 2);
    expect(scan(pretty).ok).toBe(true);
    for (const message of [0, 1, 150, 299]) {
      // Inside that message's content string.
      const at = good.indexOf(`"m ${String(message)} `) + 2;
      for (const bad of ['\u0002', '\t', '\\x']) {
        const text = good.slice(0, at) + bad + good.slice(at);
        expect(parses(text), `${bad} at ${String(at)}`).toBe(false);
        expect(scan(text).ok, `${bad} at ${String(at)}`).toBe(false);
      }
    }
  });

  it('reads a body at any alignment in its memory (pooled buffers)', () => {
    const text = `{"model":"m","content":"${'x'.repeat(200)}\u0003${'y'.repeat(50)}"}`;
    const good = text.replace('\u0003', ' ');
    for (let shift = 0; shift < 8; shift++) {
      const backing = Buffer.alloc(text.length + 16, 0x20);
      backing.write(text, shift);
      expect(scan(backing.subarray(shift, shift + text.length)).ok, String(shift)).toBe(false);
      backing.write(good, shift);
      expect(scan(backing.subarray(shift, shift + good.length)).ok, String(shift)).toBe(true);
    }
  });
});
