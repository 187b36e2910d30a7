/**
 * The controller's core, as a pure function: policies, pods and the Secrets they may read in,
 * the snapshot each pod's sidecar should run and a verdict per policy out. Deterministic (same
 * input, same output, same hashes), so it can run on every change and be tested without a
 * cluster. One invalid policy is a reported value, never a failed reconcile; its sidecars keep
 * the policy's last good snapshot.
 */
import { compilePolicy } from '../../snapshot/compile-snapshot.ts';
import type { AICircuitPolicy } from '../../policy/policy-schema.ts';
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import { formatProblems, validatePolicy } from '../../policy/validate-policy.ts';
import type { PodObject, PolicyObject } from '../kube/resources.ts';
import { selectorMatches } from './label-selector.ts';

/** A policy as reconcile reads it: the fields of its metadata it orders and reports by. */
interface PolicyEntry {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** RFC 3339; older policies win overlaps. */
  readonly creationTimestamp: string;
  /** The whole object, validated here (the spec is not trusted before). */
  readonly raw: PolicyObject;
}

/** A pod as reconcile reads it: where it is and the labels selectors match. */
interface PodEntry {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

function policyEntry(policy: PolicyObject): PolicyEntry {
  const { metadata } = policy;
  return {
    namespace: metadata.namespace ?? '',
    name: metadata.name,
    generation: metadata.generation ?? 0,
    creationTimestamp: metadata.creationTimestamp ?? '',
    raw: policy,
  };
}

function podEntry(pod: PodObject): PodEntry {
  const { metadata } = pod;
  return {
    namespace: metadata.namespace ?? '',
    name: metadata.name,
    labels: metadata.labels ?? {},
  };
}

/** Reads a Secret key of one namespace; undefined when the Secret or key does not exist. */
export type SecretReader = (namespace: string, name: string, key: string) => string | undefined;

export type PolicyVerdict =
  | {
      readonly accepted: true;
      readonly key: string;
      readonly generation: number;
      readonly snapshot: PolicySnapshot;
      readonly policy: AICircuitPolicy;
      /** Pods of the namespace the selector matches and this policy governs. */
      readonly pods: readonly string[];
      /** Other policies that select some of the same pods (the older one governs those). */
      readonly overlapping: readonly string[];
      /** Older policies that govern pods this one selects: it is shadowed on those pods. */
      readonly shadowedBy: readonly string[];
      /** Pods this policy's selector matches, governed by it or not. */
      readonly selected: number;
    }
  | {
      readonly accepted: false;
      readonly key: string;
      readonly generation: number;
      /** CamelCase reason for the Accepted condition. */
      readonly reason: RejectionReason;
      readonly message: string;
      /** Upstream names of the spec when it parsed (a Secret is what failed), else none. */
      readonly upstreams: readonly string[];
      /** The last good snapshot, still served to the sidecars it governed. */
      readonly lastGood: PolicySnapshot | undefined;
      readonly pods: readonly string[];
      readonly overlapping: readonly string[];
      readonly shadowedBy: readonly string[];
      readonly selected: number;
    };

/**
 * Why a policy is not accepted: its spec is invalid, a Secret key it names does not exist, or
 * it names Secrets in a namespace the controller was not allowed to read (least-privilege mode).
 */
export type RejectionReason = 'Invalid' | 'SecretNotFound' | 'SecretNotReadable';

export interface ReconcileInput {
  /** Policies as the API server has them (kube/resources.ts). */
  readonly policies: readonly PolicyObject[];
  /** Pods as the API server has them (kube/resources.ts). */
  readonly pods: readonly PodObject[];
  readonly readSecret: SecretReader;
  /**
   * Whether the controller may read Secrets in a namespace at all; default: everywhere. A
   * policy naming Secrets where it may not is rejected as SecretNotReadable, not SecretNotFound,
   * so the operator learns it is the controller's scope and not a missing Secret.
   */
  readonly secretsReadable?: (namespace: string) => boolean;
  /** Last good snapshot and selector per policy key, from earlier reconciles. */
  readonly lastGood: ReadonlyMap<string, LastGood>;
}

export interface LastGood {
  readonly snapshot: PolicySnapshot;
  readonly policy: AICircuitPolicy;
}

export interface ReconcileResult {
  /** Verdict per policy key (`namespace/name`). */
  readonly policies: ReadonlyMap<string, PolicyVerdict>;
  /** For each pod key (`namespace/name`), the governing policy and the snapshot to run. */
  readonly pods: ReadonlyMap<
    string,
    { readonly policy: string; readonly snapshot: PolicySnapshot }
  >;
  /**
   * Pods no policy selects, as far as can be known: every policy of their namespace has a known
   * selector and none matches. Their sidecars are released to pass-through. A pod whose
   * namespace holds a policy with an unknown selector (invalid, never accepted) is in neither
   * map: nobody can tell whether that policy meant to govern it.
   */
  readonly ungoverned: ReadonlySet<string>;
  /** Every policy in selection order (oldest first), for `governingPolicy`. */
  readonly selection: readonly SelectablePolicy[];
  /** Updated last-good map to feed into the next reconcile. */
  readonly lastGood: ReadonlyMap<string, LastGood>;
}

/** A policy as selection sees it: its selector and the snapshot its pods would run. */
export interface SelectablePolicy {
  readonly key: string;
  readonly namespace: string;
  /** The current selector, or the last good one when the current spec is invalid. */
  readonly selector: AICircuitPolicy['spec']['podSelector'] | undefined;
  readonly snapshot: PolicySnapshot | undefined;
}

/**
 * The one selection rule: of the policies of a pod's namespace whose selector matches its
 * labels, the oldest governs (ties broken by name); the others only report the overlap.
 * `selection` must be in that order (reconcile's `selection` is).
 */
function matchingPolicies(
  selection: readonly SelectablePolicy[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
): SelectablePolicy[] {
  return selection.filter(
    (p) =>
      p.namespace === namespace && p.selector !== undefined && selectorMatches(p.selector, labels),
  );
}

/**
 * The policy that governs (or would govern) a pod with these labels, by the rule reconcile
 * applies; the injector uses it for a pod that does not exist yet.
 */
export function governingPolicy(
  result: Pick<ReconcileResult, 'selection'>,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): SelectablePolicy | undefined {
  return matchingPolicies(result.selection, namespace, labels)[0];
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function reconcile(input: ReconcileInput): ReconcileResult {
  const lastGood = new Map(input.lastGood);
  // Each policy: validate, then compile with the Secrets of its own namespace only.
  const compiled = new Map<
    string,
    | { policy: AICircuitPolicy; snapshot: PolicySnapshot }
    | {
        error: Omit<
          Extract<PolicyVerdict, { accepted: false }>,
          'pods' | 'overlapping' | 'lastGood' | 'shadowedBy' | 'selected'
        >;
      }
  >();
  const sorted = input.policies.map(policyEntry).sort(byAge);
  const present = new Set<string>();
  for (const p of sorted) {
    const key = objectKey(p.namespace, p.name);
    present.add(key);
    const validation = validatePolicy(p.raw);
    if (!validation.ok) {
      compiled.set(key, {
        error: {
          accepted: false,
          key,
          generation: p.generation,
          reason: 'Invalid',
          message: formatProblems(validation.problems),
          upstreams: [],
        },
      });
      continue;
    }
    const policy: AICircuitPolicy = {
      ...validation.policy,
      metadata: { ...validation.policy.metadata, namespace: p.namespace, generation: p.generation },
    };
    const missing: string[] = [];
    const readable = input.secretsReadable?.(p.namespace) ?? true;
    const snapshot = compilePolicy(policy, {
      resolveSecret: (name, secretKey) => {
        const value = readable ? input.readSecret(p.namespace, name, secretKey) : undefined;
        if (value === undefined) missing.push(`${name}/${secretKey}`);
        return value;
      },
    });
    if (missing.length > 0) {
      const keys = [...new Set(missing)].sort().join(', ');
      compiled.set(key, {
        error: {
          accepted: false,
          key,
          generation: p.generation,
          reason: readable ? 'SecretNotFound' : 'SecretNotReadable',
          message: readable
            ? `Secret keys not found in namespace ${p.namespace}: ${keys}`
            : `The controller does not read Secrets in namespace ${p.namespace} (it watches only the namespaces it was installed for), so it cannot resolve: ${keys}`,
          upstreams: policy.spec.upstreams.map((u) => u.name),
        },
      });
      continue;
    }
    compiled.set(key, { policy, snapshot });
    lastGood.set(key, { policy, snapshot });
  }
  for (const key of [...lastGood.keys()]) if (!present.has(key)) lastGood.delete(key);

  // Selection: the selector of the current policy, or of its last good version when invalid.
  const selection: SelectablePolicy[] = sorted.map((p) => {
    const key = objectKey(p.namespace, p.name);
    const entry = compiled.get(key);
    const accepted = entry !== undefined && 'policy' in entry ? entry : undefined;
    return {
      key,
      namespace: p.namespace,
      selector: accepted?.policy.spec.podSelector ?? lastGood.get(key)?.policy.spec.podSelector,
      snapshot: accepted?.snapshot ?? lastGood.get(key)?.snapshot,
    };
  });
  const unknownSelector = new Set(
    selection.filter((p) => p.selector === undefined).map((p) => p.namespace),
  );
  const podsOf = new Map<string, string[]>();
  const selectedCount = new Map<string, number>();
  const overlapping = new Map<string, Set<string>>();
  const shadowedBy = new Map<string, Set<string>>();
  const assignment = new Map<string, { policy: string; snapshot: PolicySnapshot }>();
  const ungoverned = new Set<string>();
  for (const pod of input.pods
    .map(podEntry)
    .sort((a, b) => objectKey(a.namespace, a.name).localeCompare(objectKey(b.namespace, b.name)))) {
    const podKey = objectKey(pod.namespace, pod.name);
    const matching = matchingPolicies(selection, pod.namespace, pod.labels);
    const governing = matching[0];
    if (governing === undefined) {
      if (!unknownSelector.has(pod.namespace)) ungoverned.add(podKey);
      continue;
    }
    for (const p of matching) {
      selectedCount.set(p.key, (selectedCount.get(p.key) ?? 0) + 1);
      const others = matching.filter((o) => o !== p).map((o) => nameOf(o.key));
      if (others.length > 0) {
        const set = overlapping.get(p.key) ?? new Set<string>();
        for (const o of others) set.add(o);
        overlapping.set(p.key, set);
      }
      if (p !== governing) {
        const set = shadowedBy.get(p.key) ?? new Set<string>();
        set.add(nameOf(governing.key));
        shadowedBy.set(p.key, set);
      }
    }
    const list = podsOf.get(governing.key) ?? [];
    list.push(podKey);
    podsOf.set(governing.key, list);
    if (governing.snapshot !== undefined)
      assignment.set(podKey, { policy: governing.key, snapshot: governing.snapshot });
  }

  const verdicts = new Map<string, PolicyVerdict>();
  for (const p of sorted) {
    const key = objectKey(p.namespace, p.name);
    const entry = compiled.get(key);
    if (entry === undefined) continue;
    const shared = {
      pods: podsOf.get(key) ?? [],
      overlapping: [...(overlapping.get(key) ?? [])].sort(),
      shadowedBy: [...(shadowedBy.get(key) ?? [])].sort(),
      selected: selectedCount.get(key) ?? 0,
    };
    verdicts.set(
      key,
      'error' in entry
        ? { ...entry.error, lastGood: lastGood.get(key)?.snapshot, ...shared }
        : {
            accepted: true,
            key,
            generation: p.generation,
            snapshot: entry.snapshot,
            policy: entry.policy,
            ...shared,
          },
    );
  }
  return { policies: verdicts, pods: assignment, ungoverned, selection, lastGood };
}

function nameOf(key: string): string {
  return key.slice(key.indexOf('/') + 1);
}

function byAge(a: PolicyEntry, b: PolicyEntry): number {
  return a.creationTimestamp.localeCompare(b.creationTimestamp) || a.name.localeCompare(b.name);
}
