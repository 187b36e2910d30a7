/**
 * spec: the whole specification, and the rules that check one part of it against another
 * (names that must be declared, unique or used once).
 */
import { z } from 'zod';
import { withRules } from '../cel-rule.ts';
import { Alerting } from './alerting.ts';
import { Breaker } from './breaker.ts';
import { Cache } from './cache.ts';
import { FailOn } from './fail-on.ts';
import { Fallback, ModelName } from './fallbacks.ts';
import { upstreamName } from './fields.ts';
import { Fleet } from './fleet.ts';
import { Override } from './overrides.ts';
import { LabelSelector } from './pod-selector.ts';
import { Retry } from './retry.ts';
import { Price, Routing } from './routing.ts';
import { Upstream } from './upstreams.ts';
import { MAX_FALLBACK_TARGETS, MAX_UPSTREAMS } from './vocabulary.ts';

export const PolicySpecSchema = withRules(
  z.strictObject({
    podSelector: LabelSelector.prefault({}),
    defaultUpstream: upstreamName(
      'Upstream for requests without an /{upstream}/ prefix (e.g. /v1/chat/completions). Defaults to the first upstream.',
    ).optional(),
    upstreams: z
      .array(Upstream)
      .min(1)
      .max(MAX_UPSTREAMS)
      .meta({ description: 'The AI providers the sidecar may call.' }),
    breaker: Breaker.prefault({}),
    failOn: FailOn.prefault({}),
    fallbacks: z
      .array(Fallback)
      .max(MAX_UPSTREAMS)
      .optional()
      .meta({ description: 'Fallback chains, at most one per upstream.' }),
    cache: Cache.prefault({}),
    alerting: Alerting.prefault({}),
    fleet: Fleet.prefault({}),
    pricing: z
      .record(ModelName, Price)
      .optional()
      .meta({
        description:
          'Prices per model in USD per million tokens, over the bundled, dated default table ' +
          '(docs/cost.md). A model named here replaces the default entry; dated variants ' +
          '(gpt-4o-2024-08-06) match their base name.',
      }),
    routing: Routing.prefault({}),
    retry: Retry.prefault({}),
    overrides: z
      .array(Override)
      .max(64)
      .optional()
      .meta({ description: 'Operator overrides of circuit states, with optional expiry.' }),
  }),
  [
    {
      rule: 'self.upstreams.all(u, self.upstreams.filter(v, v.name == u.name).size() == 1)',
      message: 'upstream names must be unique',
      fieldPath: '.upstreams',
      reads: [['upstreams', '*', 'name']],
      check: (v) =>
        duplicates(
          v.upstreams.map((u) => u.name),
          ['upstreams'],
          'name',
        ),
    },
    {
      rule: '!has(self.defaultUpstream) || self.upstreams.exists(u, u.name == self.defaultUpstream)',
      message: 'defaultUpstream must name one of spec.upstreams',
      messageExpression:
        "'defaultUpstream must name one of spec.upstreams (\"' + self.defaultUpstream + '\" is not declared)'",
      fieldPath: '.defaultUpstream',
      reads: [['defaultUpstream'], ['upstreams', '*', 'name']],
      check: (v) =>
        v.defaultUpstream !== undefined && !v.upstreams.some((u) => u.name === v.defaultUpstream)
          ? [{ path: ['defaultUpstream'], detail: declared(v.defaultUpstream, v.upstreams) }]
          : [],
    },
    {
      rule: '!has(self.fallbacks) || self.fallbacks.all(f, self.upstreams.exists(u, u.name == f.from))',
      message: 'fallbacks[].from must name one of spec.upstreams',
      fieldPath: '.fallbacks',
      reads: [
        ['fallbacks', '*', 'from'],
        ['upstreams', '*', 'name'],
      ],
      check: (v) =>
        (v.fallbacks ?? []).flatMap((f, i) =>
          v.upstreams.some((u) => u.name === f.from)
            ? []
            : [{ path: ['fallbacks', i, 'from'], detail: declared(f.from, v.upstreams) }],
        ),
    },
    {
      // One expression per chain position: walking every target of every chain against every
      // upstream in one expression costs 256 x 8 x 256 comparisons, 1.8 times the API server's
      // per-expression budget. Split, each stays at an eighth of that (no CEL library beyond
      // the base language, so the CRD installs on every supported Kubernetes version).
      rule: Array.from(
        { length: MAX_FALLBACK_TARGETS },
        (_, i) =>
          `!has(self.fallbacks) || self.fallbacks.all(f, size(f.to) <= ${i} || ` +
          `self.upstreams.exists(u, u.name == f.to[${i}].upstream))`,
      ),
      message: 'fallback targets must name one of spec.upstreams',
      fieldPath: '.fallbacks',
      reads: [
        ['fallbacks', '*', 'to', '*', 'upstream'],
        ['upstreams', '*', 'name'],
      ],
      check: (v) =>
        (v.fallbacks ?? []).flatMap((f, i) =>
          f.to.flatMap((t, j) =>
            v.upstreams.some((u) => u.name === t.upstream)
              ? []
              : [
                  {
                    path: ['fallbacks', i, 'to', j, 'upstream'],
                    detail: declared(t.upstream, v.upstreams),
                  },
                ],
          ),
        ),
    },
    {
      rule: '!has(self.fallbacks) || self.fallbacks.all(f, self.fallbacks.filter(g, g.from == f.from).size() == 1)',
      message: 'each upstream may have only one fallback chain',
      fieldPath: '.fallbacks',
      reads: [['fallbacks', '*', 'from']],
      check: (v) =>
        duplicates(
          (v.fallbacks ?? []).map((f) => f.from),
          ['fallbacks'],
          'from',
        ),
    },
    {
      rule: '!has(self.overrides) || self.overrides.all(o, self.upstreams.exists(u, u.name == o.upstream))',
      message: 'overrides[].upstream must name one of spec.upstreams',
      fieldPath: '.overrides',
      reads: [
        ['overrides', '*', 'upstream'],
        ['upstreams', '*', 'name'],
      ],
      check: (v) =>
        (v.overrides ?? []).flatMap((o, i) =>
          v.upstreams.some((u) => u.name === o.upstream)
            ? []
            : [{ path: ['overrides', i, 'upstream'], detail: declared(o.upstream, v.upstreams) }],
        ),
    },
  ],
).meta({
  description: 'Circuit breakers, fallbacks and alerts for the AI calls of the selected pods.',
});

function declared(name: string, upstreams: readonly { name: string }[]): string {
  return `"${name}" is not declared; declared: ${upstreams.map((u) => u.name).join(', ')}`;
}

function duplicates(
  values: readonly string[],
  listPath: readonly (string | number)[],
  field: string,
): { path: (string | number)[]; detail: string }[] {
  const seen = new Set<string>();
  return values.flatMap((value, i) => {
    const dup = seen.has(value);
    seen.add(value);
    return dup
      ? [{ path: [...listPath, i, field], detail: `"${value}" appears more than once` }]
      : [];
  });
}
