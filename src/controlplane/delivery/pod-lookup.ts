/**
 * Which pod a sidecar's token is bound to, and whether it exists: from the label watch's cache,
 * else from the API server (a pod created a moment ago may not have reached the watch yet).
 * Pods found that way are kept until their sidecar disconnects, so reconcile can assign them a
 * policy before the watch catches up.
 */
import type { Logger } from '../../shared/create-logger.ts';
import { describeKubeError } from '../kube/api-errors.ts';
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

export class PodLookup {
  readonly #o: PodLookupOptions;
  /** Pods with a connected sidecar that the label watch did not (yet) show. */
  readonly #extra = new Map<string, PodObject>();

  constructor(options: PodLookupOptions) {
    this.#o = options;
  }

  /** The pod's uid if it exists, else undefined. */
  async uid(namespace: string, name: string): Promise<string | undefined> {
    const cached = this.#o.watched.get(namespace, name);
    if (cached !== undefined) return cached.metadata.uid ?? '';
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
    this.#extra.set(objectKey(namespace, name), {
      metadata: {
        name,
        namespace,
        ...(pod.metadata.uid === undefined ? {} : { uid: pod.metadata.uid }),
        ...(pod.metadata.labels === undefined ? {} : { labels: pod.metadata.labels }),
      },
    });
    return pod.metadata.uid ?? '';
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
