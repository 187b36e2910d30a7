import { describe, expect, it } from 'vitest';
import { parsePolicyDocuments } from '../../../src/policy/parse-policy-documents.ts';
import { formatProblems } from '../../../src/policy/validate-policy.ts';
import { loadFixtures } from '../../support/fixtures.ts';

const fixtures = loadFixtures();

describe('crds/examples fixtures through the zod schema', () => {
  it('has both valid and invalid fixtures, every invalid one annotated for both enforcers', () => {
    expect(fixtures.filter((f) => f.valid).length).toBeGreaterThanOrEqual(4);
    const invalid = fixtures.filter((f) => !f.valid);
    expect(invalid.length).toBeGreaterThanOrEqual(15);
    for (const f of invalid) {
      expect(f.expectError, `${f.file} lacks # expect-error`).toBeDefined();
      expect(f.expectServer, `${f.file} lacks # expect-server`).toBeDefined();
    }
  });

  for (const fixture of fixtures.filter((f) => f.valid)) {
    it(`accepts ${fixture.file}`, () => {
      const docs = parsePolicyDocuments(fixture.text);
      expect(docs).toHaveLength(1);
      const result = docs[0]?.result;
      expect(result?.ok ? 'valid' : formatProblems(result?.problems ?? [])).toBe('valid');
    });
  }

  for (const fixture of fixtures.filter((f) => !f.valid)) {
    it(`rejects ${fixture.file} with exactly its expected problem`, () => {
      const [doc] = parsePolicyDocuments(fixture.text);
      if (doc === undefined || doc.result.ok) throw new Error(`${fixture.file} was accepted`);
      expect(doc.result.problems).toHaveLength(1);
      const line = formatProblems(doc.result.problems);
      // The expected text is the stable part; a detail in parentheses may follow it.
      expect(line.startsWith(fixture.expectError ?? '<missing>'), line).toBe(true);
    });
  }
});
