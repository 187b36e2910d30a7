import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskSecrets } from '../../../src/shared/create-logger.ts';

function capture(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  return {
    lines,
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    }),
  };
}

describe('createLogger', () => {
  it('redacts credential headers by path', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination });
    logger.info(
      { req: { headers: { authorization: 'Bearer sk-1', 'x-api-key': 'ak', 'api-key': 'az' } } },
      'request',
    );
    expect(lines[0]).toContain('"authorization":"[redacted]"');
    expect(lines[0]).toContain('"x-api-key":"[redacted]"');
    expect(lines[0]).toContain('"api-key":"[redacted]"');
    expect(lines[0]).not.toMatch(/sk-1|"ak"|"az"/);
  });

  it('masks registered secret values wherever they appear, messages included', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ destination, secrets: () => ['sk-live-0123456789', 'short'] });
    logger.error(
      { detail: 'upstream said: bad key sk-live-0123456789' },
      'failed with sk-live-0123456789',
    );
    expect(lines[0]).not.toContain('sk-live-0123456789');
    expect(lines[0]?.match(/\[redacted\]/g)).toHaveLength(2);
  });

  it('leaves values shorter than 8 characters alone (they cannot be real keys)', () => {
    expect(maskSecrets('a short text', ['short'])).toBe('a short text');
    expect(maskSecrets('quote "sk-ab\\"cdefgh" end', ['sk-ab"cdefgh'])).toBe(
      'quote "[redacted]" end',
    );
  });
});
