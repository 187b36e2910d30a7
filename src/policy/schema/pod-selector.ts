/**
 * spec.podSelector: which pods the policy governs, as a metav1.LabelSelector with the checks
 * Kubernetes itself makes.
 */
import { z } from 'zod';
import { withRules } from '../cel-rule.ts';

const LabelSelectorRequirement = withRules(
  z.strictObject({
    key: z.string().min(1).max(317).meta({ description: 'The label key the selector applies to.' }),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).meta({
      description: "The key's relationship to the values: In, NotIn, Exists or DoesNotExist.",
    }),
    values: z
      .array(z.string().max(63))
      .max(64)
      .optional()
      .meta({ description: 'Values for In and NotIn; must be empty for Exists and DoesNotExist.' }),
  }),
  [
    {
      // What Kubernetes itself refuses in a LabelSelector: `In` with no values would select
      // nothing (and a Deployment's selector like it is rejected), Exists with values is a typo.
      rule: "self.operator == 'In' || self.operator == 'NotIn' ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
      message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      messageExpression:
        "'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist (key ' + self.key + ', operator ' + self.operator + ')'",
      fieldPath: '.values',
      reads: [['operator'], ['values'], ['key']],
      check: (v) => {
        const needs = v.operator === 'In' || v.operator === 'NotIn';
        const count = v.values?.length ?? 0;
        return needs === count > 0
          ? []
          : [{ path: ['values'], detail: `key ${v.key}, operator ${v.operator}` }];
      },
    },
  ],
);

export const LabelSelector = z
  .strictObject({
    matchLabels: z
      .record(z.string().max(317), z.string().max(63))
      .optional()
      .meta({ description: 'Labels a pod must carry, all of them, with these values.' }),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(32)
      .optional()
      .meta({ description: 'Label requirements a pod must meet, all of them.' }),
  })
  .meta({
    description:
      "Which pods' sidecars this policy governs, by label. Empty selects every pod in the namespace.",
  });
