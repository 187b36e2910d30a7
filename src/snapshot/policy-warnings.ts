/**
 * Things in a valid policy that will not do what their author meant: an override whose `until`
 * has passed (it silently does nothing), a fallback model the provider has retired (every
 * fallback to it fails) or scheduled for retirement, and a fallback target of another provider
 * without an `apiKey` (it is always skipped). The policy stays valid, so the cluster accepts it;
 * `aicb validate` prints these as warnings and the sidecar logs them on every load. Pure: the
 * caller passes the time.
 */
import { isRetired, modelRetirement } from '../policy/default-pricing.ts';
import type { CredentialRef, PolicySnapshot } from './snapshot.ts';
import type { PolicyProblem } from '../policy/validate-policy.ts';

/** A warning reads like a problem: a field path (or location) and a message. */
export type PolicyWarning = PolicyProblem;

/** Every warning for a compiled policy at `nowWallMs`. */
export function policyWarnings(snapshot: PolicySnapshot, nowWallMs: number): PolicyWarning[] {
  return [...expiredOverrides(snapshot, nowWallMs), ...fallbackWarnings(snapshot, nowWallMs)];
}

function expiredOverrides(snapshot: PolicySnapshot, nowWallMs: number): PolicyWarning[] {
  return snapshot.overrides.flatMap((o, i) =>
    o.untilWallMs !== null && o.untilWallMs <= nowWallMs
      ? [
          {
            path: `spec.overrides[${i}].until`,
            message:
              `${new Date(o.untilWallMs).toISOString()} has passed, so this ${o.state} override of ` +
              `${o.upstream}${o.endpoint === null ? '' : `/${o.endpoint}`} does nothing; remove it or ` +
              'set a time in the future (docs/runbook.md computes one)',
          },
        ]
      : [],
  );
}

function fallbackWarnings(snapshot: PolicySnapshot, nowWallMs: number): PolicyWarning[] {
  const upstreams = new Map(snapshot.upstreams.map((u) => [u.name, u]));
  const out: PolicyWarning[] = [];
  for (const [from, targets] of Object.entries(snapshot.fallbacks)) {
    targets.forEach((target, j) => {
      const where = fallbackTargetPath(from, j);
      const requested = upstreams.get(from);
      const served = upstreams.get(target.upstream);
      if (
        requested !== undefined &&
        served !== undefined &&
        served.provider !== requested.provider &&
        served.apiKey === null
      ) {
        out.push({
          path: where,
          message:
            `${target.upstream} (${served.provider}) serves requests to ${from} (${requested.provider}) ` +
            `but has no apiKey, so fallback ${from} -> ${target.upstream} is always skipped ` +
            '(skipped-no_credentials); set upstreams[].apiKey',
        });
      }
      const models: [string, string][] = [
        ...(target.model === null ? [] : ([['model', target.model]] as [string, string][])),
        ...Object.entries(target.modelMap ?? {}).map(([key, model]): [string, string] => [
          `modelMap[${JSON.stringify(key)}]`,
          model,
        ]),
      ];
      for (const [field, model] of models) {
        const retirement = modelRetirement(model);
        if (retirement === undefined) continue;
        out.push({
          path: `${where}.${field}`,
          message: isRetired(retirement, nowWallMs)
            ? `${model} was retired on ${retirement.retiresOn}: the provider refuses it, so every ` +
              `fallback ${from} -> ${target.upstream} that maps to it fails`
            : `${model} retires on ${retirement.retiresOn}; move to a current model before then`,
        });
      }
    });
  }
  return out;
}

/**
 * Where a fallback target sits. The snapshot indexes chains by upstream, so the chain is named
 * by its `from` rather than by its position in spec.fallbacks.
 */
export function fallbackTargetPath(from: string, targetIndex: number): string {
  return `spec.fallbacks[from=${from}].to[${targetIndex}]`;
}

/** Names where a secret comes from, for messages (never its value). */
export function describeCredentialSource(ref: CredentialRef): string {
  switch (ref.source) {
    case 'env':
      return `environment variable ${ref.name}`;
    case 'file':
      return `file ${ref.path}`;
    case 'secret':
      return `Secret ${ref.name} key ${ref.key}`;
    case 'value':
      return 'a value delivered by the controller';
  }
}

/** The field under a credential reference that names its source (`env`, `file`, `secretKeyRef`). */
export function credentialField(ref: CredentialRef): string {
  return ref.source === 'secret' ? 'secretKeyRef' : ref.source;
}
