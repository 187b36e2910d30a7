/**
 * Writes `AICircuitPolicy.status` through the status subresource.
 *
 * Server-side apply (fieldManager `aicb-controller`, force) rather than a JSON merge patch:
 * the controller computes the whole status every time, and apply is the declarative match for
 * that. A field we stop sending (an upstream no longer reported, `overlappingPolicies` once the
 * overlap is gone) is removed by the server, where a merge patch would need an explicit null per
 * vanished field; no read-modify-write and no resourceVersion are needed; and status fields
 * written by others under their own field manager are left alone.
 *
 * Each object's writes are debounced (the first call opens a window, later calls in it replace
 * the payload), run one at a time, retried with backoff on conflict, throttling, 5xx and network
 * errors, and skipped when the result equals what is already there. Conditions keep their
 * `lastTransitionTime` while their status stays the same, so a changing message is not a
 * transition and an unchanged status is not a write.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
} from '@kubernetes/client-node';
import { canonicalJson } from '../../shared/content-hash.ts';
import { CRD_PLURAL } from '../../policy/crd-manifest.ts';
import { API_GROUP, API_VERSION, API_VERSION_FULL, KIND } from '../../policy/policy-schema.ts';
import type { PolicyStatus } from '../../policy/policy-status-schema.ts';
import { describeKubeError, httpStatusOf, isRetryableKubeError } from './api-errors.ts';
import type { BackoffSettings } from '../../shared/backoff.ts';
import { backoffDelayMs, checkBackoffOptions } from './backoff.ts';
import { silentLogger, type KubeLogger } from './kube-logger.ts';
import { kubeTime } from './kube-time.ts';
import { sleep, systemTimers, type CancelTimer, type Timers } from '../../shared/timers.ts';

/** One entry of `status.conditions` (the policy schema is the single source of its shape). */
export type Condition = NonNullable<PolicyStatus['conditions']>[number];

/** `True`, `False` or `Unknown`. */
export type ConditionStatus = Condition['status'];

/** The field manager that owns the status fields this controller writes. */
export const STATUS_FIELD_MANAGER = 'aicb-controller';

/** What a condition says, before it is stamped with a transition time. */
export interface ConditionInput {
  readonly type: string;
  readonly status: ConditionStatus;
  /** CamelCase, machine-readable. */
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

/**
 * A condition stamped "changed now"; the writer puts the previous time back when the status did
 * not actually change, so callers never track transition times themselves.
 */
export function buildCondition(input: ConditionInput, nowWallMs: number): Condition {
  return {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    ...(input.observedGeneration === undefined
      ? {}
      : { observedGeneration: input.observedGeneration }),
    lastTransitionTime: kubeTime(nowWallMs),
  };
}

/** Keeps `lastTransitionTime` from `previous` for every condition whose status is unchanged. */
export function carryTransitionTimes(
  next: readonly Condition[],
  previous: readonly Condition[] | undefined,
): Condition[] {
  return next.map((condition) => {
    const before = previous?.find((p) => p.type === condition.type);
    return before?.status === condition.status && before.lastTransitionTime !== ''
      ? { ...condition, lastTransitionTime: before.lastTransitionTime }
      : condition;
  });
}

/** The status patch call; `CustomObjectsApi` satisfies it. */
export interface StatusPatchApi {
  patchNamespacedCustomObjectStatus(
    param: {
      group: string;
      version: string;
      namespace: string;
      plural: string;
      name: string;
      body: unknown;
      fieldManager?: string;
      force?: boolean;
    },
    options?: ConfigurationOptions,
  ): Promise<unknown>;
}

/** The policy a status belongs to. */
export interface PolicyRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * How a write ended: `written`; `unchanged` (equal to what is there, no request); `gone` (the
 * policy no longer exists); `failed` (gave up, logged); `disabled` (the gate said no, e.g. not
 * the leader, or the writer is stopped).
 */
export type StatusWriteOutcome = 'written' | 'unchanged' | 'gone' | 'failed' | 'disabled';

/** Settings of the writer. */
export interface StatusWriterOptions {
  readonly api: StatusPatchApi;
  /** Default `aicb-controller`. */
  readonly fieldManager?: string;
  /** Window in which writes to one policy are merged. Default 500 ms. */
  readonly debounceMs?: number;
  /** Attempts per write, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Delays between attempts. Default 200 ms doubling to 5 s. */
  readonly backoff?: BackoffSettings;
  /** Checked before every request; writes while it returns false end `disabled`. */
  readonly gate?: () => boolean;
  readonly timers?: Timers;
  readonly random?: () => number;
  readonly logger?: KubeLogger;
}

/** Counters for metrics and tests. */
export interface StatusWriterStats {
  /** PATCH requests sent, retries included. */
  readonly requests: number;
  readonly written: number;
  readonly unchanged: number;
  readonly failed: number;
}

interface Pending {
  status: PolicyStatus;
  current: PolicyStatus | undefined;
  readonly waiters: ((outcome: StatusWriteOutcome) => void)[];
  cancelTimer: CancelTimer | undefined;
}

interface Slot {
  readonly ref: PolicyRef;
  pending: Pending | undefined;
  /** Tail of this policy's write chain; writes of one policy never overlap. */
  chain: Promise<void>;
  /** Status last written (or found equal); the baseline for skipping and transition times. */
  lastWritten: PolicyStatus | undefined;
}

/** Debounced, deduplicated, retried status writes; see the file comment. */
export class StatusWriter {
  readonly #api: StatusPatchApi;
  readonly #fieldManager: string;
  readonly #debounceMs: number;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffSettings;
  readonly #gate: () => boolean;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #logger: KubeLogger;
  readonly #slots = new Map<string, Slot>();
  readonly #stop = new AbortController();
  #requests = 0;
  #written = 0;
  #unchanged = 0;
  #failed = 0;

  constructor(options: StatusWriterOptions) {
    this.#api = options.api;
    this.#fieldManager = options.fieldManager ?? STATUS_FIELD_MANAGER;
    this.#debounceMs = options.debounceMs ?? 500;
    this.#maxAttempts = options.maxAttempts ?? 5;
    if (!(this.#debounceMs >= 0)) {
      throw new RangeError(`StatusWriter: debounceMs must be >= 0, got ${this.#debounceMs}`);
    }
    if (!(this.#maxAttempts >= 1)) {
      throw new RangeError(`StatusWriter: maxAttempts must be >= 1, got ${this.#maxAttempts}`);
    }
    this.#backoff = checkBackoffOptions(
      'StatusWriter',
      options.backoff ?? { initialMs: 200, maxMs: 5_000 },
    );
    this.#gate = options.gate ?? (() => true);
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Counters so far. */
  get stats(): StatusWriterStats {
    return {
      requests: this.#requests,
      written: this.#written,
      unchanged: this.#unchanged,
      failed: this.#failed,
    };
  }

  /**
   * Schedules `status` as the policy's whole status. `current` is the status the object has now
   * (from the informer); it is the baseline when this writer has not written the policy yet,
   * e.g. right after this replica became leader. Resolves when the write (merged with any later
   * ones in the same window) has ended; never rejects.
   */
  write(ref: PolicyRef, status: PolicyStatus, current?: PolicyStatus): Promise<StatusWriteOutcome> {
    if (this.#stop.signal.aborted) return Promise.resolve('disabled');
    const key = `${ref.namespace}/${ref.name}`;
    const slot = this.#slots.get(key) ?? {
      ref: { namespace: ref.namespace, name: ref.name },
      pending: undefined,
      chain: Promise.resolve(),
      lastWritten: undefined,
    };
    this.#slots.set(key, slot);
    return new Promise<StatusWriteOutcome>((resolve) => {
      const open = slot.pending;
      if (open !== undefined) {
        open.status = status;
        open.current = current;
        open.waiters.push(resolve);
        return;
      }
      const pending: Pending = { status, current, waiters: [resolve], cancelTimer: undefined };
      slot.pending = pending;
      pending.cancelTimer = this.#timers.setTimeout(() => {
        pending.cancelTimer = undefined;
        this.#enqueue(slot);
      }, this.#debounceMs);
    });
  }

  /** Forgets what was written for a policy (deleted, or its status was changed by someone). */
  forget(ref: PolicyRef): void {
    const slot = this.#slots.get(`${ref.namespace}/${ref.name}`);
    if (slot !== undefined) slot.lastWritten = undefined;
  }

  /** Sends every pending write now and waits for all writes to end. */
  async flush(): Promise<void> {
    const chains: Promise<void>[] = [];
    for (const slot of this.#slots.values()) {
      const pending = slot.pending;
      if (pending?.cancelTimer !== undefined) {
        pending.cancelTimer();
        pending.cancelTimer = undefined;
        this.#enqueue(slot);
      }
      chains.push(slot.chain);
    }
    await Promise.all(chains);
  }

  /** Writes what is pending, then refuses new writes. */
  async stop(): Promise<void> {
    await this.flush();
    this.#stop.abort();
  }

  #enqueue(slot: Slot): void {
    slot.chain = slot.chain.then(() => this.#perform(slot));
  }

  async #perform(slot: Slot): Promise<void> {
    const pending = slot.pending;
    if (pending === undefined) return;
    slot.pending = undefined;
    const outcome = await this.#writeNow(slot.ref, slot, pending);
    // Re-read: a write() during the request may have opened a new window.
    const next = slot.pending as Pending | undefined;
    if (outcome === 'superseded' && next !== undefined) {
      // Their intent lives on in the newer status; they learn how that one ends.
      next.waiters.push(...pending.waiters);
      return;
    }
    const final = outcome === 'superseded' ? 'failed' : outcome;
    for (const resolve of pending.waiters) resolve(final);
  }

  async #writeNow(
    ref: PolicyRef,
    slot: Slot,
    pending: Pending,
  ): Promise<StatusWriteOutcome | 'superseded'> {
    const baseline = slot.lastWritten ?? pending.current;
    const desired: PolicyStatus = { ...pending.status };
    if (pending.status.conditions !== undefined) {
      desired.conditions = carryTransitionTimes(pending.status.conditions, baseline?.conditions);
    }
    if (baseline !== undefined && canonicalJson(desired) === canonicalJson(baseline)) {
      this.#unchanged += 1;
      slot.lastWritten = desired;
      return 'unchanged';
    }
    for (let attempt = 1; ; attempt += 1) {
      if (!this.#gate()) return 'disabled';
      try {
        this.#requests += 1;
        await this.#api.patchNamespacedCustomObjectStatus(
          {
            group: API_GROUP,
            version: API_VERSION,
            plural: CRD_PLURAL,
            namespace: ref.namespace,
            name: ref.name,
            // Apply wants the object's identity next to the fields this manager owns.
            body: {
              apiVersion: API_VERSION_FULL,
              kind: KIND,
              metadata: { name: ref.name, namespace: ref.namespace },
              status: desired,
            },
            fieldManager: this.#fieldManager,
            force: true,
          },
          // client-node would otherwise send a JSON Patch content type.
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        );
        this.#written += 1;
        slot.lastWritten = desired;
        return 'written';
      } catch (error) {
        const status = httpStatusOf(error);
        if (status === 404) {
          slot.lastWritten = undefined;
          this.#logger.debug({ policy: ref }, 'status not written: the policy is gone');
          return 'gone';
        }
        // What the server holds is unknown now; never skip the next write against a guess.
        slot.lastWritten = undefined;
        // A newer status is already waiting; it is written instead of retrying this one.
        if (slot.pending !== undefined && isRetryableKubeError(error)) return 'superseded';
        if (!isRetryableKubeError(error) || attempt >= this.#maxAttempts) {
          this.#failed += 1;
          this.#logger.error(
            { policy: ref, attempts: attempt, err: describeKubeError(error) },
            'status write failed',
          );
          return 'failed';
        }
        const delayMs = backoffDelayMs(attempt, this.#backoff, this.#random);
        this.#logger.warn(
          { policy: ref, attempt, retryInMs: delayMs, err: describeKubeError(error) },
          'status write failed; retrying',
        );
        await sleep(this.#timers, delayMs, this.#stop.signal);
      }
    }
  }
}
