import { describe, expect, it } from 'vitest';
import { isJsonObject, parseJsonObject } from '../../../src/shared/json-object.ts';

describe('parseJsonObject', () => {
  it('returns the object a text holds, nested values as parsed', () => {
    expect(parseJsonObject('{"a":1,"b":{"c":[true,null]}}')).toEqual({
      a: 1,
      b: { c: [true, null] },
    });
    expect(parseJsonObject(' {} ')).toEqual({});
  });

  it('returns undefined for JSON that is not an object', () => {
    for (const text of ['[]', '[{"a":1}]', 'null', '42', '"text"', 'true'])
      expect(parseJsonObject(text), text).toBeUndefined();
  });

  it('returns undefined for text that is not JSON, instead of throwing', () => {
    for (const text of ['', '{', '{"a":}', '{not json}', "{'a':1}", '{"a":1} x'])
      expect(parseJsonObject(text), text).toBeUndefined();
  });
});

describe('isJsonObject', () => {
  it('is true for objects only: not arrays, not null, not primitives', () => {
    expect(isJsonObject({})).toBe(true);
    expect(isJsonObject({ a: 1 })).toBe(true);
    for (const value of [[], null, undefined, 0, '', 'x', true])
      expect(isJsonObject(value)).toBe(false);
  });
});
