/**
 * Which pod a sidecar's token is bound to, whether it exists, and whether it is one the injector
 * made (label `aicircuit.io/injected=true`): only those receive a policy, with its resolved
 * Secrets, and count in a policy's status. From the label watch's cache, else from the API
 * server (a pod created a moment ago may not have reached the watch yet). Injected pods found
 * that way are kept until their sidecar disconnects, so reconcile can assign them a policy
 * before the watch catches up.
 */
import type { Logger } from '../../shared/create-logger.ts';
import { describeKubeError } from '../kube/api-errors.ts';
import { INJECTED_LABEL } from '../injector/inject-sidecar.ts';
import type { PodObject } from '../kube/resources.ts';
import type { WatchedCollection } from '../kube/watched-collection.ts';
import { objectKey } from '../reconcile/reconcile.ts';

/** The read the lookup needs; `CoreV1Api` satisfies it. */
export interface PodReadApi {
  readNamespacedPod(param: { namespace: string; name: string }): Promise<unknown>;
}

export interface PodLookupOptions {
  /** Pods labelled `aicircuit.io/injected=true`. */
  readonly watched: Pick<WatchedCollection<PodObject>, 'get' | 'list'>;
  readonly api: PodReadApi;
  readonly logger: Logger;
}

/** A pod a token is bound to. */
export interface FoundPod {
  readonly uid: string;
  /** Labelled `aicircuit.io/injected=true` by the injector. */
  readonly injected: boolean;
}

export class PodLookup {
  readonly #o: PodLookupOptions;
  /** Pods with a connected sidecar that the label watch did not (yet) show. */
  readonly #extra = new Map<string, PodObject>();

  constructor(options: PodLookupOptions) {
    this.#o = options;
  }

  /** The pod's uid and whether it carries the injected label; undefined when it does not exist. */
  async find(namespace: string, name: string): Promise<FoundPod | undefined> {
    const cached = this.#o.watched.get(namespace, name);
    if (cached !== undefined) return { uid: cached.metadata.uid ?? '', injected: true };
    let pod: PodObject;
    try {
      pod = (await this.#o.api.readNamespacedPod({ namespace, name })) as PodObject;
    } catch (error) {
      this.#o.logger.debug(
        { pod: `${namespace}/${name}`, err: describeKubeError(error) },
        'pod lookup failed',
      );
      return undefined;
    }
    const uid = pod.metadata.uid ?? '';
    const labels = pod.metadata.labels;
    if (labels?.[INJECTED_LABEL] !== 'true') return { uid, injected: false };
    this.#extra.set(objectKey(namespace, name), { metadata: { name, namespace, uid, labels } });
    return { uid, injected: true };
  }

  /** Forgets a pod found outside the watch (its sidecar disconnected). */
  forget(pod: string): void {
    this.#extra.delete(pod);
  }

  /** Every pod reconcile should consider: the watched ones and those found on connect. */
  *pods(): IterableIterator<PodObject> {
    yield* this.#o.watched.list();
    yield* this.#extra.values();
  }
}
