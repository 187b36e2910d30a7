/**
 * The resources the controller lists and watches, as the API server's JSON has them (timestamps
 * are strings, nothing is a client-node model class), and the collection paths to reach them.
 * Only the fields the controller reads are declared; the rest passes through untouched.
 */
import { API_GROUP, API_VERSION } from '../../policy/policy-schema.ts';
import type { PolicyStatus } from '../../policy/policy-status-schema.ts';
import { CRD_PLURAL } from '../../policy/crd-manifest.ts';

/** `metadata` of any object: the fields the cache keys and change detection rely on. */
export interface KubeObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
}

/** Any Kubernetes object; the bound every watched type satisfies. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: KubeObjectMeta;
}

/** An AICircuitPolicy as stored: `spec` is unvalidated here (reconcile validates and reports). */
export interface PolicyObject extends KubeObject {
  readonly spec?: unknown;
  readonly status?: PolicyStatus;
}

/** A Secret; `data` values are base64. Never log one. */
export interface SecretObject extends KubeObject {
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
}

/** A Pod: what selecting it by labels and binding a sidecar to it needs. */
export interface PodObject extends KubeObject {
  readonly spec?: { readonly serviceAccountName?: string; readonly nodeName?: string };
  readonly status?: { readonly phase?: string; readonly podIP?: string };
}

/**
 * What the controller keeps of a watched pod: its identity and labels (reconcile selects by
 * labels, delivery checks the uid). Like controller-runtime's cache transforms: an injected pod
 * as the API server sends it (managedFields, containers with the injected env, volumes, status
 * conditions) is several kilobytes that the controller never reads, tens of megabytes of heap
 * for a fleet of thousands held for its lifetime.
 */
export function podFacts(object: KubeObject): PodObject {
  const { name, namespace, uid, resourceVersion, labels, creationTimestamp, deletionTimestamp } =
    object.metadata;
  return {
    metadata: {
      name,
      ...(namespace === undefined ? {} : { namespace }),
      ...(uid === undefined ? {} : { uid }),
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      ...(labels === undefined ? {} : { labels }),
      ...(creationTimestamp === undefined ? {} : { creationTimestamp }),
      ...(deletionTimestamp === undefined ? {} : { deletionTimestamp }),
    },
  };
}

/** True when `value` has the `metadata.name` every object has; guards JSON from the wire. */
export function isKubeObject(value: unknown): value is KubeObject {
  if (typeof value !== 'object' || value === null) return false;
  const metadata = (value as { metadata?: unknown }).metadata;
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    typeof (metadata as { name?: unknown }).name === 'string'
  );
}

/** AICircuitPolicies of one namespace, or of all namespaces when `namespace` is omitted. */
export function policyCollectionPath(namespace?: string): string {
  const base = `/apis/${API_GROUP}/${API_VERSION}`;
  return namespace === undefined
    ? `${base}/${CRD_PLURAL}`
    : `${base}/namespaces/${encodeURIComponent(namespace)}/${CRD_PLURAL}`;
}

/** Secrets of one namespace: policies may only reference Secrets of their own namespace. */
export function secretCollectionPath(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
}

/** Pods of one namespace, or of all namespaces when `namespace` is omitted. */
export function podCollectionPath(namespace?: string): string {
  return namespace === undefined
    ? '/api/v1/pods'
    : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
}
