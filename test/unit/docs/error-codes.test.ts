// docs/errors.md shows the error registry (src/shared/error-codes.ts) row for row: the same
// codes in the same order, who raises each (with its HTTP status), its meaning and what to do.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodedError } from '../../../src/shared/coded-error.ts';
import {
  ERROR_CODE_LIST,
  ERROR_CODES,
  type ErrorCodeSpec,
} from '../../../src/shared/error-codes.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

/** The "Raised by" cell of a registry entry. */
function raisedByCell(spec: ErrorCodeSpec): string {
  if (spec.http === null)
    return spec.raisedBy.startsWith('aicb ') ? `\`${spec.raisedBy}\`` : spec.raisedBy;
  if (spec.inStreamOnly === true) return `${spec.raisedBy} (error event in a stream)`;
  return `${spec.raisedBy} (HTTP ${String(spec.http.status)})`;
}

/** The code rows of docs/errors.md, cells trimmed. */
function docRows(): string[][] {
  const doc = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  return doc
    .split('\n')
    .filter((line) => line.startsWith('| `AICB_'))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
}

describe('docs/errors.md', () => {
  it('lists every code of the registry, in its order, with its words', () => {
    const expected = ERROR_CODE_LIST.map((code) => {
      const spec = ERROR_CODES[code];
      return [`\`${code}\``, raisedByCell(spec), spec.meaning, spec.whatToDo];
    });
    expect(docRows()).toEqual(expected);
  });
});

describe('the error registry', () => {
  it('gives every HTTP answer an error status and every code a reason for its retry advice', () => {
    for (const code of ERROR_CODE_LIST) {
      const spec: ErrorCodeSpec = ERROR_CODES[code];
      expect(code).toMatch(/^AICB_[A-Z0-9_]+$/);
      expect(spec.retry.why.length, code).toBeGreaterThan(10);
      if (spec.http !== null) {
        expect(spec.http.status, code).toBeGreaterThanOrEqual(400);
        expect(spec.http.status, code).toBeLessThan(600);
      }
    }
  });

  it('backs every coded error with its entry', () => {
    const error = new CodedError('AICB_INVALID_BREAKER_CONFIG', 'bad');
    expect(error.spec).toBe(ERROR_CODES.AICB_INVALID_BREAKER_CONFIG);
    expect(error.spec.http).toBeNull();
  });
});
