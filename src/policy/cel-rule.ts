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
  /** CEL expression evaluated with `self` bound to this node. */
  readonly rule: string;
  /** Fixed sentence shown by both enforcers; tests match on it. */
  readonly message: string;
  /** Optional field path the API server reports instead of the node's own path. */
  readonly fieldPath?: string;
  /** TypeScript twin of `rule`. */
  readonly check: (value: T) => readonly RuleViolation[];
}

/** Attaches rules to a zod schema: the CEL side as metadata, the TypeScript side as a refinement. */
export function withRules<S extends z.ZodType>(
  schema: S,
  rules: readonly CelRule<z.output<S>>[],
): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      for (const violation of r.check(value)) {
        ctx.addIssue({
          code: 'custom',
          path: [...violation.path],
          message:
            violation.detail === undefined ? r.message : `${r.message} (${violation.detail})`,
        });
      }
    }
  });
  const existing = refined.meta()?.['x-kubernetes-validations'];
  const previous = Array.isArray(existing) ? (existing as unknown[]) : [];
  return refined.meta({
    ...refined.meta(),
    'x-kubernetes-validations': [
      ...previous,
      ...rules.map((r) =>
        r.fieldPath === undefined
          ? { rule: r.rule, message: r.message }
          : { rule: r.rule, message: r.message, fieldPath: r.fieldPath },
      ),
    ],
  });
}
