/**
 * The Secrets policies may reference, watched one namespace at a time: a policy reads Secrets of
 * its own namespace only, so the controller lists and watches Secrets only where policies live
 * (and, in least-privilege mode, only in the namespaces it was granted). A namespace without
 * policies has no watch; one that gains its first policy gets one, one that loses its last
 * policy loses it.
 */
import type { KubeLogger } from './kube-logger.ts';
import { secretCollectionPath, type SecretObject } from './resources.ts';
import { WatchedCollection, type CollectionTransport } from './watched-collection.ts';

export interface SecretWatchesOptions {
  readonly transport: CollectionTransport;
  readonly logger: KubeLogger;
  /**
   * Namespaces the controller may read Secrets in; undefined means every namespace (a
   * ClusterRole). Elsewhere no watch is opened: it would only fail with 403 forever.
   */
  readonly allowedNamespaces?: ReadonlySet<string>;
  /** Called when a watched namespace's Secrets changed or were first listed. */
  readonly onChange: () => void;
}

export class SecretWatches {
  readonly #o: SecretWatchesOptions;
  readonly #watches = new Map<string, WatchedCollection<SecretObject>>();

  constructor(options: SecretWatchesOptions) {
    this.#o = options;
  }

  /** Whether Secrets of `namespace` can be read at all (least-privilege mode says no elsewhere). */
  readable(namespace: string): boolean {
    return this.#o.allowedNamespaces?.has(namespace) ?? true;
  }

  /**
   * True once the namespace's Secrets were listed (or when they can never be): before that a
   * reference would read as "Secret not found", which must not be reported.
   */
  synced(namespace: string): boolean {
    if (!this.readable(namespace)) return true;
    return this.#watches.get(namespace)?.health().synced ?? false;
  }

  /** A Secret key of one namespace, decoded; undefined when the Secret or the key is missing. */
  read(namespace: string, name: string, key: string): string | undefined {
    const value = this.#watches.get(namespace)?.get(namespace, name)?.data?.[key];
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  }

  /** Watches exactly the readable namespaces among `namespaces` (those that have policies). */
  sync(namespaces: ReadonlySet<string>): void {
    for (const namespace of namespaces) {
      if (this.#watches.has(namespace) || !this.readable(namespace)) continue;
      const collection = new WatchedCollection<SecretObject>({
        name: `secrets/${namespace}`,
        transport: this.#o.transport,
        path: secretCollectionPath(namespace),
        logger: this.#o.logger,
      });
      collection.onChange(() => {
        this.#o.onChange();
      });
      collection.start();
      collection.synced.then(
        () => {
          this.#o.onChange();
        },
        () => undefined,
      );
      this.#watches.set(namespace, collection);
    }
    for (const [namespace, collection] of this.#watches) {
      if (namespaces.has(namespace)) continue;
      this.#watches.delete(namespace);
      void collection.stop();
    }
  }

  async stop(): Promise<void> {
    const all = [...this.#watches.values()];
    this.#watches.clear();
    await Promise.all(all.map((c) => c.stop()));
  }
}
