/**
 * Reads AICircuitPolicy documents from YAML text (one or many, separated by `---`) and
 * validates each. Pure: callers do the file or network I/O.
 */
import { parseAllDocuments } from 'yaml';
import { validatePolicy, type PolicyProblem, type ValidationResult } from './validate-policy.ts';

export interface PolicyDocument {
  /** 1-based position of the document in the text. */
  readonly index: number;
  /** `namespace/name` or `name` when the document has them, for messages. */
  readonly label: string;
  readonly result: ValidationResult;
}

/** Parses and validates every document; YAML syntax errors become problems of their document. */
export function parsePolicyDocuments(text: string): PolicyDocument[] {
  // YAML 1.1, as kubectl and the API server read it (sigs.k8s.io/yaml): there `on`, `yes` and
  // `off` are booleans, so offline validation sees exactly what the cluster would.
  const documents = parseAllDocuments(text, {
    prettyErrors: true,
    uniqueKeys: true,
    version: '1.1',
  });
  const list = Array.isArray(documents) ? documents : [documents];
  const out: PolicyDocument[] = [];
  for (const doc of list) {
    // A trailing `---` or a comment-only file yields an empty document; skip it.
    if (doc.errors.length === 0 && (doc.contents === null || doc.toJS() === null)) continue;
    const index = out.length + 1;
    if (doc.errors.length > 0) {
      const problems: PolicyProblem[] = doc.errors.map((e) => ({
        path: '',
        message: `YAML syntax error: ${e.message.split('\n')[0] ?? e.message}`,
      }));
      out.push({ index, label: `document ${index}`, result: { ok: false, problems } });
      continue;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    out.push({
      index,
      label: labelOf(value, index),
      result: explainBooleanKeys(validatePolicy(value)),
    });
  }
  return out;
}

/**
 * A bare `on:` key reads as `true` in YAML 1.1; say so instead of only "unknown field". Under
 * spec.alerting that was the old name of `events` (ADR 0005), so point there.
 */
function explainBooleanKeys(result: ValidationResult): ValidationResult {
  if (result.ok) return result;
  return {
    ok: false,
    problems: result.problems.map((p) => {
      if (p.path === 'spec.alerting' && /unknown fields? .*"(true|on)"/.test(p.message)) {
        return {
          ...p,
          message: `${p.message} (alerting.on is now alerting.events: YAML 1.1, which Kubernetes uses, reads a bare on: key as true)`,
        };
      }
      return /unknown fields? .*"(true|false)"/.test(p.message)
        ? {
            ...p,
            message: `${p.message} (YAML 1.1, which Kubernetes uses, reads a bare on/off/yes/no key as a boolean: quote it, e.g. 'on':)`,
          }
        : p;
    }),
  };
}

function labelOf(value: unknown, index: number): string {
  if (typeof value !== 'object' || value === null) return `document ${index}`;
  const metadata = (value as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return `document ${index}`;
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== 'string') return `document ${index}`;
  return typeof namespace === 'string' ? `${namespace}/${name}` : name;
}
