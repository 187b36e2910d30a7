/**
 * Validation at the edge: turns untrusted input (a parsed YAML document, a custom resource from
 * the API server) into a fully defaulted AICircuitPolicy, or into every problem found, each
 * with its field path in Kubernetes notation (`spec.fallbacks[0].to[1].upstream`).
 */
import type { z } from 'zod';
import { formatFieldPath } from './field-path.ts';
import { AICircuitPolicySchema, type AICircuitPolicy } from './policy-schema.ts';

/** One thing wrong with a policy, located by field path. */
export interface PolicyProblem {
  /** Kubernetes-style field path, e.g. `spec.breaker.window`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly policy: AICircuitPolicy }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

/** Validates one document; never throws on bad input. */
export function validatePolicy(input: unknown): ValidationResult {
  const parsed = AICircuitPolicySchema.safeParse(input, { reportInput: true });
  if (parsed.success) return { ok: true, policy: parsed.data };
  return { ok: false, problems: parsed.error.issues.map(toProblem) };
}

/** One line per problem: `path: message`. */
export function formatProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('\n');
}

function toProblem(issue: z.core.$ZodIssue): PolicyProblem {
  const path = formatFieldPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return {
        path,
        message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`,
      };
    case 'invalid_type':
      return {
        path,
        message:
          issue.input === undefined
            ? 'required field is missing'
            : `must be ${article(issue.expected)}, got ${typeName(issue.input)}`,
      };
    case 'invalid_value':
      if (issue.values.length === 1) return { path, message: `must be ${String(issue.values[0])}` };
      return {
        path,
        message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(issue.input)}`,
      };
    case 'too_small':
      return { path, message: bound('at least', issue.origin, issue.minimum, issue.inclusive) };
    case 'too_big':
      return { path, message: bound('at most', issue.origin, issue.maximum, issue.inclusive) };
    case 'invalid_format':
    case 'not_multiple_of':
    case 'invalid_union':
    case 'invalid_key':
    case 'invalid_element':
    case 'custom':
      return { path, message: lowerFirst(issue.message) };
  }
}

function bound(
  direction: 'at least' | 'at most',
  origin: string,
  limit: number | bigint,
  inclusive: boolean | undefined,
): string {
  const n = Number(limit);
  if (origin === 'array' || origin === 'set')
    return `must have ${direction} ${n} item${n === 1 ? '' : 's'}`;
  if (origin === 'string') return `must be ${direction} ${n} character${n === 1 ? '' : 's'} long`;
  if (inclusive === false)
    return `must be ${direction === 'at least' ? 'greater' : 'less'} than ${n}`;
  return `must be ${direction} ${n}`;
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** The kind of a value only: a misplaced API key must not be echoed into an error. */
function typeName(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  return article(typeof input);
}

/** Echoes short scalars; used only where the field holds an enumerated, non-secret value. */
function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'an object';
  if (typeof input === 'string')
    return JSON.stringify(input.length > 64 ? `${input.slice(0, 61)}...` : input);
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  return typeof input;
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}
