// The injected key is masked as it is and as a JSON body may spell it, also across chunks.
import { describe, expect, it } from 'vitest';
import { SecretRedactor } from '../../../src/dataplane/exchange/secret-redactor.ts';

const KEY = 'sk-proj/ab-12';

function pushed(redactor: SecretRedactor, text: string, size: number): string {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size)
    out.push(redactor.push(bytes.subarray(at, at + size)));
  out.push(redactor.flush());
  return Buffer.concat(out).toString();
}

describe('SecretRedactor', () => {
  it.each([
    ['as it is', KEY],
    ['with \\u escapes', 'sk\\u002dproj\\u002Fab\\u002d12'],
    ['with \\/', 'sk-proj\\/ab-12'],
    [
      'every character escaped',
      Array.from(KEY)
        .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
        .join(''),
    ],
  ])('masks the key %s, with a mask of the same length', (_name, spelled) => {
    const body = `{"error":{"message":"bad key ${spelled} given"}}`;
    const expected = `{"error":{"message":"bad key ${'*'.repeat(spelled.length)} given"}}`;
    const redactor = new SecretRedactor(KEY);
    expect(redactor.mask(Buffer.from(body)).toString()).toBe(expected);
    expect(redactor.maskText(body)).toBe(expected);
    for (const size of [1, 3, 7, 64])
      expect(pushed(new SecretRedactor(KEY), body, size)).toBe(expected);
  });

  it('leaves other escapes and bytes alone (no copy when nothing matches)', () => {
    const body = Buffer.from('{"a":"line\\nbreak \\u00e9 sk-proj/ab-1 \\u002d"} é');
    const redactor = new SecretRedactor(KEY);
    expect(redactor.mask(body)).toBe(body);
    expect(pushed(redactor, body.toString(), 5)).toBe(body.toString());
  });

  it('does not recognize base64 (documented)', () => {
    const b64 = Buffer.from(KEY).toString('base64');
    expect(new SecretRedactor(KEY).maskText(b64)).toBe(b64);
  });
});
