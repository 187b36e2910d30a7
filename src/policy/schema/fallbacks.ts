/**
 * spec.fallbacks[]: the ordered fallback chain of an upstream, with model mapping per target.
 */
import { z } from 'zod';
import { withRules } from '../cel-rule.ts';
import { upstreamName } from './fields.ts';
import { MAX_FALLBACK_TARGETS } from './vocabulary.ts';

export const ModelName = z.string().min(1).max(256);

export const FallbackTarget = withRules(
  z.strictObject({
    upstream: upstreamName('Upstream that serves the request when the ones before it cannot.'),
    model: ModelName.optional().meta({
      description: 'Model to request from this upstream, whatever the app asked for.',
    }),
    modelMap: z
      .record(ModelName, ModelName)
      .optional()
      .meta({
        description:
          'Model to request from this upstream by requested model; the key "*" matches any other. ' +
          'A requested model without a match skips this target.',
      }),
  }),
  [
    {
      rule: '!(has(self.model) && has(self.modelMap))',
      message: 'set either model or modelMap, not both',
      reads: [['model'], ['modelMap']],
      check: (v) =>
        v.model !== undefined && v.modelMap !== undefined ? [{ path: ['modelMap'] }] : [],
    },
  ],
).meta({ description: 'One step of a fallback chain, with its model mapping.' });

export const Fallback = withRules(
  z.strictObject({
    from: upstreamName('Upstream whose requests this chain protects.'),
    to: z.array(FallbackTarget).min(1).max(MAX_FALLBACK_TARGETS).meta({
      description: 'Targets tried in order when the upstream fails or its circuit is open.',
    }),
  }),
  [
    {
      rule: 'self.to.all(t, t.upstream != self.from)',
      message: 'a fallback chain must not lead back to its own upstream',
      messageExpression:
        "'a fallback chain must not lead back to its own upstream (' + self.from + ')'",
      fieldPath: '.to',
      reads: [['from'], ['to', '*', 'upstream']],
      check: (v) =>
        v.to.flatMap((t, i) =>
          t.upstream === v.from ? [{ path: ['to', i, 'upstream'], detail: t.upstream }] : [],
        ),
    },
    {
      rule: 'self.to.all(t, self.to.filter(u, u.upstream == t.upstream).size() == 1)',
      message: 'a fallback chain must not name the same upstream twice',
      fieldPath: '.to',
      reads: [['to', '*', 'upstream']],
      check: (v) => {
        const seen = new Set<string>();
        return v.to.flatMap((t, i) => {
          const dup = seen.has(t.upstream);
          seen.add(t.upstream);
          return dup ? [{ path: ['to', i, 'upstream'], detail: t.upstream }] : [];
        });
      },
    },
  ],
).meta({
  description:
    'The ordered fallback chain of one upstream. Chains are explicit, not transitive: a request ' +
    "to `from` tries `to` in order and never continues into a target's own chain.",
});
