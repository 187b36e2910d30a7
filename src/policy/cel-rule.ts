/**
 * A cross-field rule written once with both of its enforcers side by side: the CEL expression
 * the Kubernetes API server runs (`x-kubernetes-validations` in the generated CRD) and the
 * TypeScript check zod runs offline (`aicb validate`, the sidecar's file mode, the controller).
 * The CRD fixtures in crds/examples/ are run through both, so the two cannot drift silently.
 */
import type { z } from 'zod';

/** One problem found by a rule's TypeScript check, relative to the schema node it sits on. */
export interface RuleViolation {
  readonly path: readonly (string | number)[];
  /** Extra detail appended to the rule's fixed message, e.g. the offending value. */
  readonly detail?: string;
}

export interface CelRule<T> {
  /**
   * CEL expression evaluated with `self` bound to this node. Several expressions (all must hold)
   * when one would exceed the API server's static cost budget, which it computes from the
   * schema's maxItems and maxLength: they share the message and the TypeScript check.
   */
  readonly rule: string | readonly string[];
  /** Fixed sentence shown by both enforcers; tests match on it. */
  readonly message: string;
  /**
   * CEL string expression the API server shows instead of `message` when the rule fails: the
   * message followed by the offending item (name, value), as the TypeScript check's detail
   * says it, so `kubectl apply` names what `aicb validate` names. One per expression of `rule`.
   * Base CEL only (no string library): it must install wherever the CRD does. When it fails to
   * evaluate, the API server falls back to `message`. Only for rules whose offending item is a
   * field of `self`: a message that searches a list for the culprit is costed like a second rule
   * (per expression and against the whole CRD's budget, which the 256-upstream bound already
   * nearly fills), so list rules name the list (`fieldPath`) and leave the item to `aicb validate`.
   */
  readonly messageExpression?: string | readonly string[];
  /** Optional field path the API server reports instead of the node's own path. */
  readonly fieldPath?: string;
  /** TypeScript twin of `rule`. */
  readonly check: (value: T) => readonly RuleViolation[];
  /**
   * The fields `check` reads, as paths relative to this node (`'*'` for any list index or map
   * key). The check then runs whenever those parsed, even if other fields did not, so one run
   * reports a cross-field problem next to a type error elsewhere (a numeric `recoveryTimeout`
   * must not hide a fallback to an undeclared upstream). Without it the check runs only when
   * the whole node parsed.
   */
  readonly reads?: readonly (readonly string[])[];
}

/** Attaches rules to a zod schema: the CEL side as metadata, the TypeScript side as a refinement. */
export function withRules<S extends z.ZodType>(
  schema: S,
  rules: readonly CelRule<z.output<S>>[],
): S {
  let refined = schema;
  for (const r of rules) {
    const reads = r.reads;
    refined = refined.superRefine(
      (value, ctx) => {
        for (const violation of r.check(value)) {
          ctx.addIssue({
            code: 'custom',
            path: [...violation.path],
            message:
              violation.detail === undefined ? r.message : `${r.message} (${violation.detail})`,
          });
        }
      },
      reads === undefined
        ? undefined
        : {
            // Only issues that abort (a wrong type, a missing field) leave a value the check
            // cannot trust; unknown keys and failed value checks do not.
            when: (payload) =>
              !payload.issues.some(
                (issue) =>
                  issue.continue !== true &&
                  (issue.path === undefined ||
                    issue.path.length === 0 ||
                    reads.some((read) => overlaps(issue.path ?? [], read))),
              ),
          },
    );
  }
  const existing = refined.meta()?.['x-kubernetes-validations'];
  const previous = Array.isArray(existing) ? (existing as unknown[]) : [];
  return refined.meta({
    ...refined.meta(),
    'x-kubernetes-validations': [
      ...previous,
      ...rules.flatMap((r) => {
        const expressions = typeof r.rule === 'string' ? [r.rule] : r.rule;
        const messages =
          r.messageExpression === undefined
            ? undefined
            : typeof r.messageExpression === 'string'
              ? [r.messageExpression]
              : r.messageExpression;
        if (messages !== undefined && messages.length !== expressions.length)
          throw new Error(`rule "${r.message}": one messageExpression per expression`);
        return expressions.map((rule, i) => ({
          rule,
          message: r.message,
          ...(messages === undefined ? {} : { messageExpression: messages[i] }),
          ...(r.fieldPath === undefined ? {} : { fieldPath: r.fieldPath }),
        }));
      }),
    ],
  });
}

/** Whether an issue's path and a read path share a field: one is a prefix of the other. */
function overlaps(issuePath: readonly PropertyKey[], read: readonly string[]): boolean {
  const n = Math.min(issuePath.length, read.length);
  for (let i = 0; i < n; i++) {
    if (read[i] !== '*' && read[i] !== String(issuePath[i])) return false;
  }
  return true;
}
