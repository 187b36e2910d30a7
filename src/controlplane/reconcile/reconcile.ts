/**
 * The controller's core, as a pure function: policies, pods and the Secrets they may read in,
 * the snapshot each pod's sidecar should run and a verdict per policy out. Deterministic (same
 * input, same output, same hashes), so it can run on every change and be tested without a
 * cluster. One invalid policy is a reported value, never a failed reconcile; its sidecars keep
 * the policy's last good snapshot.
 */
import { compilePolicy } from '../../policy/compile-snapshot.ts';
import type { AICircuitPolicy } from '../../policy/policy-schema.ts';
import type { PolicySnapshot } from '../../policy/snapshot.ts';
import { formatProblems, validatePolicy } from '../../policy/validate-policy.ts';
import { selectorMatches } from './label-selector.ts';

/** A policy as read from the API server (the spec not yet trusted). */
export interface PolicyObject {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** RFC 3339; older policies win overlaps. */
  readonly creationTimestamp: string;
  /** The whole object, validated here. */
  readonly raw: unknown;
}

export interface PodObject {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
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
    }
  | {
      readonly accepted: false;
      readonly key: string;
      readonly generation: number;
      /** CamelCase reason for the Accepted condition. */
      readonly reason: 'Invalid' | 'SecretNotFound';
      readonly message: string;
      /** The last good snapshot, still served to the sidecars it governed. */
      readonly lastGood: PolicySnapshot | undefined;
      readonly pods: readonly string[];
      readonly overlapping: readonly string[];
    };

export interface ReconcileInput {
  readonly policies: readonly PolicyObject[];
  readonly pods: readonly PodObject[];
  readonly readSecret: SecretReader;
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
  /** Updated last-good map to feed into the next reconcile. */
  readonly lastGood: ReadonlyMap<string, LastGood>;
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
          'pods' | 'overlapping' | 'lastGood'
        >;
      }
  >();
  const sorted = [...input.policies].sort(byAge);
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
        },
      });
      continue;
    }
    const policy: AICircuitPolicy = {
      ...validation.policy,
      metadata: { ...validation.policy.metadata, namespace: p.namespace, generation: p.generation },
    };
    const missing: string[] = [];
    const snapshot = compilePolicy(policy, {
      resolveSecret: (name, secretKey) => {
        const value = input.readSecret(p.namespace, name, secretKey);
        if (value === undefined) missing.push(`${name}/${secretKey}`);
        return value;
      },
    });
    if (missing.length > 0) {
      compiled.set(key, {
        error: {
          accepted: false,
          key,
          generation: p.generation,
          reason: 'SecretNotFound',
          message: `Secret keys not found in namespace ${p.namespace}: ${[...new Set(missing)].sort().join(', ')}`,
        },
      });
      continue;
    }
    compiled.set(key, { policy, snapshot });
    lastGood.set(key, { policy, snapshot });
  }
  for (const key of [...lastGood.keys()]) if (!present.has(key)) lastGood.delete(key);

  // Selection: the selector of the current policy, or of its last good version when invalid.
  const selectorOf = (key: string): AICircuitPolicy['spec']['podSelector'] | undefined => {
    const entry = compiled.get(key);
    if (entry !== undefined && 'policy' in entry) return entry.policy.spec.podSelector;
    return lastGood.get(key)?.policy.spec.podSelector;
  };
  const podsOf = new Map<string, string[]>();
  const overlapping = new Map<string, Set<string>>();
  const assignment = new Map<string, { policy: string; snapshot: PolicySnapshot }>();
  for (const pod of [...input.pods].sort((a, b) =>
    objectKey(a.namespace, a.name).localeCompare(objectKey(b.namespace, b.name)),
  )) {
    const podKey = objectKey(pod.namespace, pod.name);
    const matching = sorted
      .filter((p) => p.namespace === pod.namespace)
      .map((p) => objectKey(p.namespace, p.name))
      .filter((key) => {
        const selector = selectorOf(key);
        return selector !== undefined && selectorMatches(selector, pod.labels);
      });
    for (const key of matching) {
      const others = matching.filter((k) => k !== key);
      if (others.length > 0) {
        const set = overlapping.get(key) ?? new Set<string>();
        for (const o of others) set.add(o.slice(o.indexOf('/') + 1));
        overlapping.set(key, set);
      }
    }
    // The oldest matching policy governs the pod; the rest report the overlap.
    const governing = matching[0];
    if (governing === undefined) continue;
    const list = podsOf.get(governing) ?? [];
    list.push(podKey);
    podsOf.set(governing, list);
    const entry = compiled.get(governing);
    const snapshot =
      entry !== undefined && 'snapshot' in entry
        ? entry.snapshot
        : lastGood.get(governing)?.snapshot;
    if (snapshot !== undefined) assignment.set(podKey, { policy: governing, snapshot });
  }

  const verdicts = new Map<string, PolicyVerdict>();
  for (const p of sorted) {
    const key = objectKey(p.namespace, p.name);
    const entry = compiled.get(key);
    if (entry === undefined) continue;
    const pods = podsOf.get(key) ?? [];
    const overlaps = [...(overlapping.get(key) ?? [])].sort();
    verdicts.set(
      key,
      'error' in entry
        ? { ...entry.error, lastGood: lastGood.get(key)?.snapshot, pods, overlapping: overlaps }
        : {
            accepted: true,
            key,
            generation: p.generation,
            snapshot: entry.snapshot,
            policy: entry.policy,
            pods,
            overlapping: overlaps,
          },
    );
  }
  return { policies: verdicts, pods: assignment, lastGood };
}

function byAge(a: PolicyObject, b: PolicyObject): number {
  return a.creationTimestamp.localeCompare(b.creationTimestamp) || a.name.localeCompare(b.name);
}
