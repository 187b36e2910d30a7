/**
 * Standalone mode's config source: one AICircuitPolicy YAML file, validated with the cluster's
 * rules and compiled to the same snapshot the controller would deliver.
 */
import { readFile } from 'node:fs/promises';
import { compilePolicy } from '../../snapshot/compile-snapshot.ts';
import { parsePolicyDocuments } from '../../policy/parse-policy-documents.ts';
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import type { PolicyProblem } from '../../policy/validate-policy.ts';

export type PolicyFileResult =
  | { readonly ok: true; readonly snapshot: PolicySnapshot }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

/** Validates and compiles policy text; exactly one AICircuitPolicy document is expected. */
export function compilePolicyText(text: string): PolicyFileResult {
  const documents = parsePolicyDocuments(text);
  if (documents.length !== 1) {
    return {
      ok: false,
      problems: [
        {
          path: '',
          message: `expected exactly one AICircuitPolicy document, found ${documents.length}`,
        },
      ],
    };
  }
  const result = documents[0]?.result;
  if (result === undefined) return { ok: false, problems: [] };
  return result.ok ? { ok: true, snapshot: compilePolicy(result.policy) } : result;
}

/** Reads, validates and compiles a policy file. */
export async function loadPolicyFile(path: string): Promise<PolicyFileResult> {
  const read = await readPolicyFile(path);
  return read.ok ? compilePolicyText(read.text) : read;
}

/** The file's text, or why it cannot be read (as a problem of the document). */
export async function readPolicyFile(
  path: string,
): Promise<
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] }
> {
  try {
    return { ok: true, text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, problems: [{ path: '', message: `cannot read ${path}: ${code}` }] };
  }
}
