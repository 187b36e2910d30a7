/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the way client-go does it: every
 * candidate tries to acquire or renew each `retryPeriod`; a write carries the resourceVersion
 * it read, so of two candidates racing for a free lease exactly one succeeds (the other gets
 * 409). A leader that cannot renew for `renewDeadline` steps down on its own, before its lease
 * (`leaseDuration`) runs out for the others, so two leaders never overlap while clocks agree.
 *
 * A lease counts as expired when its renewTime + leaseDuration lies in the past by our clock
 * (fast takeover from a crashed leader, also right after startup), or when we have watched it
 * stay unchanged for a whole leaseDuration on our monotonic clock (a holder whose clock runs
 * ahead cannot keep it forever).
 */
import { systemClock, type Clock } from '../../shared/clock.ts';
import { Emitter } from '../../shared/emitter.ts';
import { describeKubeError, httpStatusOf } from './api-errors.ts';
import { silentLogger, type KubeLogger } from './kube-logger.ts';
import { sleep, systemTimers, type CancelTimer, type Timers } from '../../shared/timers.ts';

/**
 * A Lease as JSON. Plain data on purpose: client-node's model classes add nothing on the way
 * out, and on the way in its MicroTime fields arrive as strings despite their Date type.
 */
export interface LeaseJson {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpecJson;
}

/** `spec` of a Lease; times are RFC 3339 with microseconds. */
export interface LeaseSpecJson {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date | string;
  renewTime?: Date | string;
  leaseTransitions?: number;
}

/** The Lease calls the elector makes; `CoordinationV1Api` satisfies it. */
export interface LeaseApi {
  readNamespacedLease(param: { name: string; namespace: string }): Promise<LeaseJson>;
  createNamespacedLease(param: { namespace: string; body: LeaseJson }): Promise<LeaseJson>;
  replaceNamespacedLease(param: {
    name: string;
    namespace: string;
    body: LeaseJson;
  }): Promise<LeaseJson>;
}

/** Settings of one candidate. */
export interface LeaderElectorOptions {
  readonly leases: LeaseApi;
  /** Namespace and name of the Lease all replicas share. */
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica (the pod name); written to `spec.holderIdentity`. */
  readonly identity: string;
  /** How long a lease is valid after its last renewal. Default 15 s. */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down. Default 10 s. */
  readonly renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew. Default 2 s. */
  readonly retryPeriodMs?: number;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly logger?: KubeLogger;
}

/** Why leadership ended, for logs and the callback. */
export type StepDownReason = 'renew-deadline' | 'lost-lease' | 'stopped' | 'released';

const DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
/** Candidates that are not leading wait up to this much longer, so they do not retry in step. */
const JITTER = 0.2;

/** One replica's candidacy for the lease; see the file comment. */
export class LeaderElector {
  readonly #leases: LeaseApi;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #leaseDurationSeconds: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #logger: KubeLogger;
  readonly #started: Emitter<undefined>;
  readonly #stopped: Emitter<StepDownReason>;

  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #leading = false;
  #lastRenewMs = 0;
  #cancelDeadline: CancelTimer | undefined;
  /** The last lease record seen and when (monotonic) it was first seen in that version. */
  #observed: { resourceVersion: string; sinceMs: number } | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#leases = options.leases;
    this.#namespace = options.namespace;
    this.#name = options.name;
    if (options.identity === '') throw new RangeError('LeaderElector: identity must not be empty');
    this.#identity = options.identity;
    this.#leaseDurationMs = options.leaseDurationMs ?? DEFAULTS.leaseDurationMs;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? DEFAULTS.renewDeadlineMs;
    this.#retryPeriodMs = options.retryPeriodMs ?? DEFAULTS.retryPeriodMs;
    if (!(this.#retryPeriodMs > 0)) {
      throw new RangeError(`LeaderElector: retryPeriodMs must be > 0, got ${this.#retryPeriodMs}`);
    }
    // client-go's rules: the leader must give up before others may take over, and must get
    // more than one attempt at renewing before it gives up.
    if (!(this.#renewDeadlineMs > this.#retryPeriodMs * (1 + JITTER))) {
      throw new RangeError(
        `LeaderElector: renewDeadlineMs must exceed retryPeriodMs * ${1 + JITTER} (${this.#retryPeriodMs * (1 + JITTER)}), got ${this.#renewDeadlineMs}`,
      );
    }
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs)) {
      throw new RangeError(
        `LeaderElector: leaseDurationMs must exceed renewDeadlineMs (${this.#renewDeadlineMs}), got ${this.#leaseDurationMs}`,
      );
    }
    this.#leaseDurationSeconds = Math.ceil(this.#leaseDurationMs / 1000);
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
    const onListenerError = (error: unknown): void => {
      this.#logger.error({ lease: this.#name, err: describeKubeError(error) }, 'listener threw');
    };
    this.#started = new Emitter(onListenerError);
    this.#stopped = new Emitter(onListenerError);
  }

  /** True while this replica holds the lease and may write status, Events and alerts. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /** This replica's identity, as written to the lease. */
  get identity(): string {
    return this.#identity;
  }

  /** Called when this replica becomes the leader. Returns the unsubscribe function. */
  onStartedLeading(listener: () => void): () => void {
    return this.#started.subscribe(() => {
      listener();
    });
  }

  /** Called when this replica stops leading (any reason); leader-only work must stop now. */
  onStoppedLeading(listener: (reason: StepDownReason) => void): () => void {
    return this.#stopped.subscribe(listener);
  }

  /** Starts campaigning. Idempotent. */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#abort = new AbortController();
    this.#loop = this.#run(this.#abort.signal).catch((error: unknown) => {
      this.#logger.error({ lease: this.#name, err: describeKubeError(error) }, 'elector crashed');
    });
  }

  /**
   * Stops campaigning and renewing; the lease stays held until it expires, as after a crash.
   * Leader-only work is told to stop first.
   */
  async stop(): Promise<void> {
    this.#abort.abort();
    const loop = this.#loop;
    this.#loop = undefined;
    await loop;
    this.#stepDown('stopped');
  }

  /**
   * Stops, and when leading hands the lease back (empty holder, 1 s duration) so a standby
   * takes over at its next attempt instead of waiting out the lease. Call on shutdown.
   */
  async release(): Promise<void> {
    const wasLeading = this.#leading;
    this.#abort.abort();
    const loop = this.#loop;
    this.#loop = undefined;
    await loop;
    // Leader-only work stops before anyone else can start it.
    this.#stepDown('released');
    if (!wasLeading) return;
    try {
      const lease = await this.#leases.readNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
      });
      if (lease.spec?.holderIdentity !== this.#identity) return;
      const now = microTime(this.#clock.wallMs());
      await this.#leases.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
          },
        },
      });
      this.#logger.info({ lease: this.#name, identity: this.#identity }, 'released the lease');
    } catch (error) {
      // The lease then simply expires; the standby takes over a little later.
      this.#logger.warn(
        { lease: this.#name, err: describeKubeError(error) },
        'could not release the lease',
      );
    }
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // The renewTime written is taken before the request; the deadline counts from there too,
      // so a slow answer cannot stretch our leadership past what the others see.
      const attemptMs = this.#clock.nowMs();
      const outcome = await this.#tryAcquireOrRenew();
      if (aborted(signal)) return;
      if (outcome === 'held') {
        this.#lastRenewMs = attemptMs;
        this.#armDeadline();
        if (!this.#leading) {
          this.#leading = true;
          this.#logger.info({ lease: this.#name, identity: this.#identity }, 'became leader');
          this.#started.emit(undefined);
        }
      } else if (this.#leading) {
        if (outcome === 'taken') this.#stepDown('lost-lease');
        else if (this.#clock.nowMs() - this.#lastRenewMs >= this.#renewDeadlineMs) {
          this.#stepDown('renew-deadline');
        }
      }
      const waitMs = this.#leading
        ? this.#retryPeriodMs
        : this.#retryPeriodMs * (1 + JITTER * this.#random());
      await sleep(this.#timers, waitMs, signal);
    }
  }

  /**
   * One attempt. `held`: we hold the lease now. `taken`: someone else holds a valid lease.
   * `failed`: we could not tell (API error, or lost a race and must look again).
   */
  async #tryAcquireOrRenew(): Promise<'held' | 'taken' | 'failed'> {
    const ref = { name: this.#name, namespace: this.#namespace };
    let lease: LeaseJson;
    try {
      lease = await this.#withTimeout(this.#leases.readNamespacedLease(ref));
    } catch (error) {
      if (httpStatusOf(error) !== 404) return this.#failed('read', error);
      return this.#create();
    }
    this.#observe(lease);
    const spec: LeaseSpecJson = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.#identity;
    if (!mine && holder !== '' && !this.#expired(lease)) return 'taken';

    const now = microTime(this.#clock.wallMs());
    const next: LeaseSpecJson = mine
      ? { ...spec, renewTime: now, leaseDurationSeconds: this.#leaseDurationSeconds }
      : {
          ...spec,
          holderIdentity: this.#identity,
          leaseDurationSeconds: this.#leaseDurationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
        };
    try {
      // `lease.metadata.resourceVersion` rides along: if anyone wrote since our read, 409.
      const written = await this.#withTimeout(
        this.#leases.replaceNamespacedLease({ ...ref, body: { ...lease, spec: next } }),
      );
      this.#observe(written);
      if (!mine) {
        this.#logger.info(
          { lease: this.#name, identity: this.#identity, previous: holder },
          'acquired the lease',
        );
      }
      return 'held';
    } catch (error) {
      if (httpStatusOf(error) === 409) return 'failed';
      return this.#failed(mine ? 'renew' : 'acquire', error);
    }
  }

  async #create(): Promise<'held' | 'failed'> {
    const now = microTime(this.#clock.wallMs());
    try {
      const created = await this.#withTimeout(
        this.#leases.createNamespacedLease({
          namespace: this.#namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.#name, namespace: this.#namespace },
            spec: {
              holderIdentity: this.#identity,
              leaseDurationSeconds: this.#leaseDurationSeconds,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        }),
      );
      this.#observe(created);
      this.#logger.info({ lease: this.#name, identity: this.#identity }, 'created the lease');
      return 'held';
    } catch (error) {
      // 409: another candidate created it first; the next attempt reads theirs.
      if (httpStatusOf(error) === 409) return 'failed';
      return this.#failed('create', error);
    }
  }

  #failed(what: string, error: unknown): 'failed' {
    this.#logger.warn(
      { lease: this.#name, identity: this.#identity, err: describeKubeError(error) },
      `lease ${what} failed`,
    );
    return 'failed';
  }

  #observe(lease: LeaseJson): void {
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    if (this.#observed?.resourceVersion !== resourceVersion) {
      this.#observed = { resourceVersion, sinceMs: this.#clock.nowMs() };
    }
  }

  #expired(lease: LeaseJson): boolean {
    const spec = lease.spec ?? {};
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    const renewedMs = timeMs(spec.renewTime) ?? timeMs(spec.acquireTime);
    if (renewedMs === undefined || renewedMs + durationMs < this.#clock.wallMs()) return true;
    const observed = this.#observed;
    if (observed?.resourceVersion !== (lease.metadata?.resourceVersion ?? '')) return false;
    return this.#clock.nowMs() - observed.sinceMs >= durationMs;
  }

  /** Steps down on its own when renewals stop succeeding, even while a request hangs. */
  #armDeadline(): void {
    this.#cancelDeadline?.();
    this.#cancelDeadline = this.#timers.setTimeout(
      () => {
        this.#cancelDeadline = undefined;
        if (this.#leading && this.#clock.nowMs() - this.#lastRenewMs >= this.#renewDeadlineMs) {
          this.#stepDown('renew-deadline');
        }
      },
      this.#lastRenewMs + this.#renewDeadlineMs - this.#clock.nowMs(),
    );
  }

  #stepDown(reason: StepDownReason): void {
    this.#cancelDeadline?.();
    this.#cancelDeadline = undefined;
    if (!this.#leading) return;
    this.#leading = false;
    this.#logger.warn({ lease: this.#name, identity: this.#identity, reason }, 'stopped leading');
    this.#stopped.emit(reason);
  }

  /**
   * A hung request must not stall the loop (nor stop()); its late answer is simply ignored. A
   * late successful write is harmless: the next attempt finds us holding the lease.
   */
  #withTimeout<T>(promise: Promise<T>): Promise<T> {
    const signal = this.#abort.signal;
    return new Promise<T>((resolve, reject) => {
      const settle = (): void => {
        cancel();
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        settle();
        reject(new Error('lease request abandoned: elector stopping'));
      };
      const cancel = this.#timers.setTimeout(() => {
        settle();
        reject(new Error(`lease request timed out after ${this.#renewDeadlineMs} ms`));
      }, this.#renewDeadlineMs);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      promise.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error instanceof Error ? error : new Error(describeKubeError(error)));
        },
      );
    });
  }
}

/** `MicroTime` as the API server writes it: RFC 3339 with six fractional digits. */
function microTime(wallMs: number): string {
  return new Date(wallMs).toISOString().replace(/Z$/, '000Z');
}

/** Milliseconds of a lease timestamp: client-node returns MicroTime fields as strings. */
function timeMs(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Read through a call: TypeScript keeps `signal.aborted` narrowed across awaits. */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
