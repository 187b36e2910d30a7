/**
 * A resilient list + watch cache of one resource type. client-node's informer stops for good
 * on most watch errors, never relists on its own and cannot tell a silent dead stream from a
 * quiet resource; this one runs a single loop that:
 *
 * - lists (paginated), reconciles the cache against the list and emits the differences, then
 *   watches from the list's resourceVersion with bookmarks;
 * - after ANY watch end reconnects from the last resourceVersion seen: at once when the watch
 *   was healthy, after a capped, jittered backoff when it failed;
 * - relists on 410 Gone (the resourceVersion was compacted away), on a timer (default every
 *   5 minutes, catching anything a watch may have lost) and when the watchdog finds the watch
 *   silent for too long (default 5 minutes; bookmarks and reconnects count as life).
 *
 * Only one watch is ever live: the loop owns it, and events from a watch the loop has given up
 * on are ignored. Listeners see each change once, in order, after the cache has applied it.
 */
import { systemClock, type Clock } from '../../shared/clock.ts';
import { Emitter } from '../../shared/emitter.ts';
import { describeKubeError, httpStatusOf } from './api-errors.ts';
import type { BackoffSettings } from '../../shared/backoff.ts';
import { backoffDelayMs, checkBackoffOptions } from './backoff.ts';
import { silentLogger, type KubeLogger } from './kube-logger.ts';
import { isKubeObject, type KubeObject } from './resources.ts';
import { sleep, systemTimers, type CancelTimer, type Timers } from '../../shared/timers.ts';

/** Query of one list page; `continue` is the token of the previous page. */
export interface ListQuery {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
}

/** One page of a list, as the API server's JSON has it. */
export interface ListPage {
  readonly items?: readonly unknown[] | null;
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

/** Lists one page of the collection at `path`; rejects with the HTTP status when it fails. */
export type ListFn = (path: string, query: ListQuery, signal: AbortSignal) => Promise<ListPage>;

/** Handle of a running watch request. */
export interface WatchHandle {
  abort(): void;
}

/**
 * Starts a watch (the shape of client-node's `Watch.watch`): `onEvent` per line, `onDone` once
 * when the stream ends (null when it ended cleanly). Resolves once the request is under way.
 */
export type WatchFn = (
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  onEvent: (type: string, object: unknown) => void,
  onDone: (error: unknown) => void,
) => Promise<WatchHandle>;

/** How the collection talks to the API server; `createKubeClients` builds the real one. */
export interface CollectionTransport {
  readonly list: ListFn;
  readonly watch: WatchFn;
}

/** A change the cache applied. `deleted` carries the last state known. */
export interface CollectionEvent<T> {
  readonly type: 'added' | 'modified' | 'deleted';
  readonly object: T;
}

/** Health of the list + watch loop, for readiness checks and metrics. */
export interface CollectionHealth {
  /** The first list has completed. */
  readonly synced: boolean;
  /** A watch request is connected right now. */
  readonly watching: boolean;
  /** Wall-clock ms of the last successful list. */
  readonly lastListAtMs: number | undefined;
  /** Wall-clock ms of the last watch event (bookmarks included). */
  readonly lastEventAtMs: number | undefined;
  /** Wall-clock ms the current or last watch connected. */
  readonly lastWatchConnectAtMs: number | undefined;
  /** Watch requests started, reconnects included. */
  readonly watches: number;
  /**
   * Watches replaced because of trouble: an error, 410 Gone, the watchdog. Routine ends (server
   * timeout; client-node 2.x also ends a watch after 30 s without data; the periodic relist)
   * do not count, so this stays 0 on a healthy cluster.
   */
  readonly restarts: number;
  /** Successful lists, the first included. */
  readonly lists: number;
  /** Failures in a row since the last success; above zero the cache may be stale. */
  readonly consecutiveFailures: number;
  readonly lastError: string | undefined;
  readonly resourceVersion: string;
  readonly size: number;
}

/** Settings of one collection. */
export interface WatchedCollectionOptions<T extends KubeObject> {
  /** Name in logs and health, e.g. `aicircuitpolicies`. */
  readonly name: string;
  readonly transport: CollectionTransport;
  /** Collection path from `resources.ts`, namespaced or cluster-wide. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Narrows the wire JSON to `T`; the default trusts the API server's shape. */
  readonly decode?: (object: KubeObject) => T;
  /** Full relist period; 0 turns it off. Default 5 minutes. */
  readonly relistIntervalMs?: number;
  /** Restart a watch silent for this long; 0 turns it off. Default 5 minutes. */
  readonly watchdogSilenceMs?: number;
  /** Delays after failed lists and watches. Default 1 s doubling to 30 s. */
  readonly backoff?: BackoffSettings;
  /** Items per list page (0 = unpaginated). Default 500. */
  readonly pageSize?: number;
  /** Give up on one list page after this long. Default 60 s. */
  readonly listTimeoutMs?: number;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly logger?: KubeLogger;
}

const DEFAULTS = {
  relistIntervalMs: 5 * 60_000,
  watchdogSilenceMs: 5 * 60_000,
  backoff: { initialMs: 1_000, maxMs: 30_000 },
  pageSize: 500,
  listTimeoutMs: 60_000,
} as const;

/** Why a watch ended, as the loop needs to know it. */
type WatchOutcome =
  | { readonly kind: 'closed'; readonly healthy: boolean }
  | { readonly kind: 'gone' }
  | { readonly kind: 'failed'; readonly error: unknown; readonly healthy: boolean }
  | { readonly kind: 'interrupted'; readonly reason: 'relist' | 'watchdog' | 'stop' };

/** A cache of one resource type kept current by list + watch; see the file comment. */
export class WatchedCollection<T extends KubeObject> {
  /** Resolves after the first successful list; rejects if stopped before that. */
  readonly synced: Promise<void>;

  readonly #options: WatchedCollectionOptions<T>;
  readonly #decode: (object: KubeObject) => T;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #logger: KubeLogger;
  readonly #backoff: BackoffSettings;
  readonly #relistIntervalMs: number;
  readonly #watchdogSilenceMs: number;
  readonly #events: Emitter<CollectionEvent<T>>;
  readonly #objects = new Map<string, T>();
  readonly #stop = new AbortController();

  #resolveSynced: () => void = () => undefined;
  #rejectSynced: (error: Error) => void = () => undefined;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #loop: Promise<void> | undefined;
  #resourceVersion = '';
  #relistDue = false;
  /** Ends the live watch; set only while one runs (or connects). */
  #interrupt: ((reason: 'relist' | 'watchdog') => void) | undefined;
  #lastActivityMs = 0;
  #cancelRelistTimer: CancelTimer | undefined;
  #cancelWatchdog: CancelTimer | undefined;
  #synced = false;
  #watching = false;
  #lastListAtMs: number | undefined;
  #lastEventAtMs: number | undefined;
  #lastWatchConnectAtMs: number | undefined;
  #watchesStarted = 0;
  #restarts = 0;
  #lists = 0;
  #failures = 0;
  #lastError: string | undefined;

  constructor(options: WatchedCollectionOptions<T>) {
    this.#options = options;
    // The API server is the authority on the shape of its objects; consumers validate specs.
    this.#decode = options.decode ?? ((object) => object as T);
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
    this.#backoff = checkBackoffOptions(
      `WatchedCollection(${options.name})`,
      options.backoff ?? DEFAULTS.backoff,
    );
    this.#relistIntervalMs = nonNegative(
      options.name,
      'relistIntervalMs',
      options.relistIntervalMs ?? DEFAULTS.relistIntervalMs,
    );
    this.#watchdogSilenceMs = nonNegative(
      options.name,
      'watchdogSilenceMs',
      options.watchdogSilenceMs ?? DEFAULTS.watchdogSilenceMs,
    );
    this.#events = new Emitter((error) => {
      this.#logger.error(
        { collection: options.name, err: describeKubeError(error) },
        'collection listener threw',
      );
    });
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    // Nobody may be awaiting `synced` when stop() rejects it; that must not crash the process.
    this.synced.catch(() => undefined);
  }

  /** Starts listing and watching. Idempotent; a stopped collection cannot start again. */
  start(): void {
    if (this.#state === 'running') return;
    if (this.#state === 'stopped') {
      throw new Error(`WatchedCollection(${this.#options.name}) was stopped; build a new one`);
    }
    this.#state = 'running';
    this.#scheduleWatchdog();
    this.#loop = this.#run().catch((error: unknown) => {
      // #run handles every expected failure; reaching here is a bug, so say so loudly.
      this.#logger.error(
        { collection: this.#options.name, err: describeKubeError(error) },
        'collection loop crashed',
      );
    });
  }

  /** Stops the loop and aborts the watch; resolves when nothing runs any more. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#stop.abort();
    this.#cancelRelistTimer?.();
    this.#cancelWatchdog?.();
    if (!this.#synced) {
      this.#rejectSynced(new Error(`${this.#options.name}: stopped before the first list`));
    }
    await this.#loop;
  }

  /** Every cached object (a copy of the cache's current contents). */
  list(): T[] {
    return [...this.#objects.values()];
  }

  /** One object; pass `''` as namespace for cluster-scoped resources. */
  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(objectKey(namespace, name));
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (event: CollectionEvent<T>) => void): () => void {
    return this.#events.subscribe(listener);
  }

  /** Health of the loop right now. */
  health(): CollectionHealth {
    return {
      synced: this.#synced,
      watching: this.#watching,
      lastListAtMs: this.#lastListAtMs,
      lastEventAtMs: this.#lastEventAtMs,
      lastWatchConnectAtMs: this.#lastWatchConnectAtMs,
      watches: this.#watchesStarted,
      restarts: this.#restarts,
      lists: this.#lists,
      consecutiveFailures: this.#failures,
      lastError: this.#lastError,
      resourceVersion: this.#resourceVersion,
      size: this.#objects.size,
    };
  }

  /** Asks for a relist now (e.g. after an operator action); the live watch is replaced. */
  requestRelist(): void {
    this.#relistDue = true;
    this.#interrupt?.('relist');
  }

  // -------------------------------------------------------------------------------------------
  // The loop

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let needList = true;
    while (!signal.aborted) {
      if (needList || this.#relistDue) {
        try {
          await this.#relist(signal);
          needList = false;
        } catch (error) {
          if (aborted(signal)) return;
          await this.#afterFailure('list failed', error, signal);
          continue;
        }
      }
      const outcome = await this.#watchOnce(signal);
      if (aborted(signal)) return;
      if (isTrouble(outcome)) this.#restarts += 1;
      switch (outcome.kind) {
        case 'gone':
          this.#logger.info(
            { collection: this.#options.name, resourceVersion: this.#resourceVersion },
            'watch resourceVersion expired (410 Gone); relisting',
          );
          needList = true;
          break;
        case 'interrupted':
          needList = outcome.reason !== 'stop';
          break;
        case 'closed':
          // A clean end (server timeout, client inactivity timeout) just reconnects; one that
          // came right after connecting without any event is a failure in disguise.
          if (outcome.healthy) this.#failures = 0;
          else await this.#afterFailure('watch closed at once', undefined, signal);
          break;
        case 'failed':
          // A watch that worked for a while before breaking starts the backoff afresh.
          if (outcome.healthy) this.#failures = 0;
          await this.#afterFailure('watch failed', outcome.error, signal);
          break;
        default:
          assertNever(outcome);
      }
    }
  }

  async #afterFailure(what: string, error: unknown, signal: AbortSignal): Promise<void> {
    this.#failures += 1;
    if (error !== undefined) this.#lastError = describeKubeError(error);
    const delayMs = backoffDelayMs(this.#failures, this.#backoff, this.#random);
    this.#logger.warn(
      {
        collection: this.#options.name,
        failures: this.#failures,
        retryInMs: delayMs,
        ...(error === undefined ? {} : { err: this.#lastError }),
      },
      what,
    );
    await sleep(this.#timers, delayMs, signal);
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const { transport, path, labelSelector, fieldSelector } = this.#options;
    const pageSize = this.#options.pageSize ?? DEFAULTS.pageSize;
    const timeoutMs = this.#options.listTimeoutMs ?? DEFAULTS.listTimeoutMs;
    this.#relistDue = false;
    const items: T[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    do {
      const query: ListQuery = {
        ...(labelSelector === undefined ? {} : { labelSelector }),
        ...(fieldSelector === undefined ? {} : { fieldSelector }),
        ...(pageSize > 0 ? { limit: pageSize } : {}),
        ...(token === undefined ? {} : { continue: token }),
      };
      const page = await transport.list(
        path,
        query,
        AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      );
      for (const item of page.items ?? []) {
        if (isKubeObject(item)) items.push(this.#decode(item));
      }
      // Every page of one list is served from the snapshot of the first; its version is the one.
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
    } while (token !== undefined && !aborted(signal));
    if (aborted(signal)) return;

    this.#reconcile(items);
    this.#resourceVersion = resourceVersion;
    this.#failures = 0;
    this.#lists += 1;
    this.#lastListAtMs = this.#clock.wallMs();
    this.#logger.debug(
      { collection: this.#options.name, items: items.length, resourceVersion },
      'listed',
    );
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSynced();
    }
    this.#scheduleRelist();
  }

  /** Makes the cache equal to a full list, emitting what changed since the cache last knew. */
  #reconcile(items: readonly T[]): void {
    const listed = new Map<string, T>();
    for (const item of items) listed.set(keyOf(item), item);
    for (const [key, old] of [...this.#objects]) {
      if (!listed.has(key)) {
        this.#objects.delete(key);
        this.#emit('deleted', old);
      }
    }
    for (const item of listed.values()) this.#upsert(item);
  }

  #watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    // stop() may have run while the list finished; an aborted signal never fires 'abort' again.
    if (signal.aborted) return Promise.resolve({ kind: 'interrupted', reason: 'stop' });
    const { transport, path, labelSelector, fieldSelector, name } = this.#options;
    this.#watchesStarted += 1;
    const startedMs = this.#clock.nowMs();
    this.#lastActivityMs = startedMs;
    let events = 0;
    let ended = false;
    let handle: WatchHandle | undefined;
    // Delivered something, or at least stayed up longer than the first backoff step.
    const healthy = (): boolean =>
      events > 0 || this.#clock.nowMs() - startedMs >= this.#backoff.initialMs;

    return new Promise<WatchOutcome>((resolve) => {
      const finish = (outcome: WatchOutcome): void => {
        if (ended) return;
        ended = true;
        this.#interrupt = undefined;
        this.#watching = false;
        signal.removeEventListener('abort', onStop);
        handle?.abort();
        resolve(outcome);
      };
      const onStop = (): void => {
        finish({ kind: 'interrupted', reason: 'stop' });
      };
      signal.addEventListener('abort', onStop, { once: true });
      this.#interrupt = (reason) => {
        this.#logger.info({ collection: name, reason }, 'restarting watch');
        finish({ kind: 'interrupted', reason });
      };

      const onEvent = (type: string, object: unknown): void => {
        // A watch the loop has given up on may still deliver a buffered line; it must not count.
        if (ended) return;
        this.#lastActivityMs = this.#clock.nowMs();
        this.#lastEventAtMs = this.#clock.wallMs();
        if (type === 'ERROR') {
          const status = httpStatusOf(object);
          const reason = (object as { reason?: unknown } | null)?.reason;
          finish(
            status === 410 || reason === 'Expired' || reason === 'Gone'
              ? { kind: 'gone' }
              : { kind: 'failed', error: object, healthy: healthy() },
          );
          return;
        }
        if (!isKubeObject(object)) {
          this.#logger.warn({ collection: name, type }, 'watch event without an object; ignored');
          return;
        }
        events += 1;
        this.#apply(type, object);
        const version = object.metadata.resourceVersion;
        if (version !== undefined && version !== '') this.#resourceVersion = version;
      };
      const onDone = (error: unknown): void => {
        if (ended) return;
        if (error === null || error === undefined || isClientTimeout(error)) {
          finish({ kind: 'closed', healthy: healthy() });
        } else if (httpStatusOf(error) === 410) {
          finish({ kind: 'gone' });
        } else {
          finish({ kind: 'failed', error, healthy: healthy() });
        }
      };

      const query: Record<string, string | number | boolean | undefined> = {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        // Server-side end between 5 and 10 minutes, as client-go does, so streams rebalance.
        timeoutSeconds: Math.floor(300 + this.#random() * 300),
        labelSelector,
        fieldSelector,
      };
      transport.watch(path, query, onEvent, onDone).then(
        (started) => {
          handle = started;
          if (ended) {
            started.abort();
            return;
          }
          this.#watching = true;
          this.#lastActivityMs = this.#clock.nowMs();
          this.#lastWatchConnectAtMs = this.#clock.wallMs();
        },
        (error: unknown) => {
          onDone(error ?? new Error('watch could not start'));
        },
      );
    });
  }

  /** Applies one watch event to the cache. */
  #apply(type: string, raw: KubeObject): void {
    const object = this.#decode(raw);
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#upsert(object);
        return;
      case 'DELETED': {
        const key = keyOf(object);
        if (this.#objects.delete(key)) this.#emit('deleted', object);
        return;
      }
      case 'BOOKMARK':
        // Carries only a resourceVersion: proof of life, and a fresher place to resume from.
        return;
      default:
        this.#logger.debug({ collection: this.#options.name, type }, 'unknown watch event type');
    }
  }

  /** Adds or replaces one object, emitting only real changes (a relist repeats many objects). */
  #upsert(object: T): void {
    const key = keyOf(object);
    const old = this.#objects.get(key);
    this.#objects.set(key, object);
    if (old === undefined) {
      this.#emit('added', object);
    } else if (
      old.metadata.uid !== undefined &&
      object.metadata.uid !== undefined &&
      old.metadata.uid !== object.metadata.uid
    ) {
      // Deleted and recreated under the same name while we were not watching.
      this.#emit('deleted', old);
      this.#emit('added', object);
    } else if (
      old.metadata.resourceVersion === undefined ||
      old.metadata.resourceVersion !== object.metadata.resourceVersion
    ) {
      this.#emit('modified', object);
    }
  }

  #emit(type: CollectionEvent<T>['type'], object: T): void {
    this.#events.emit({ type, object });
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  #scheduleRelist(): void {
    this.#cancelRelistTimer?.();
    this.#cancelRelistTimer = undefined;
    if (this.#relistIntervalMs === 0 || this.#state !== 'running') return;
    // Up to 10 % later, so several collections (or replicas) started together spread out.
    const delayMs = this.#relistIntervalMs * (1 + 0.1 * this.#random());
    this.#cancelRelistTimer = this.#timers.setTimeout(() => {
      this.#cancelRelistTimer = undefined;
      this.#logger.debug({ collection: this.#options.name }, 'periodic relist');
      this.requestRelist();
    }, delayMs);
  }

  #scheduleWatchdog(): void {
    if (this.#watchdogSilenceMs === 0 || this.#state !== 'running') return;
    const checkEveryMs = Math.max(10, Math.min(this.#watchdogSilenceMs / 4, 30_000));
    this.#cancelWatchdog = this.#timers.setTimeout(() => {
      const silentMs = this.#clock.nowMs() - this.#lastActivityMs;
      if (this.#interrupt !== undefined && silentMs > this.#watchdogSilenceMs) {
        this.#logger.warn(
          { collection: this.#options.name, silentMs },
          'watch silent for too long; restarting it',
        );
        this.#interrupt('watchdog');
      }
      this.#scheduleWatchdog();
    }, checkEveryMs);
  }
}

function keyOf(object: KubeObject): string {
  return objectKey(object.metadata.namespace ?? '', object.metadata.name);
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Whether a watch end counts as a restart in health: anything but a routine end. */
function isTrouble(outcome: WatchOutcome): boolean {
  switch (outcome.kind) {
    case 'closed':
      return !outcome.healthy;
    case 'interrupted':
      return outcome.reason === 'watchdog';
    case 'gone':
    case 'failed':
      return true;
    default:
      return assertNever(outcome);
  }
}

/** client-node 2.x aborts a watch after 30 s without data; that is a normal reconnect. */
function isClientTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

function nonNegative(name: string, field: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`WatchedCollection(${name}): ${field} must be >= 0, got ${value}`);
  }
  return value;
}

/** Read through a call: TypeScript keeps `signal.aborted` narrowed across awaits. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function assertNever(value: never): never {
  throw new Error(`unexpected watch outcome ${JSON.stringify(value)}`);
}
