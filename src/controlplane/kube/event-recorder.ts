/**
 * Kubernetes Events about policies (`kubectl describe aicp`, `kubectl get events`): circuit
 * opened or closed, policy rejected.
 *
 * core/v1 Events rather than events.k8s.io/v1: they are what `kubectl describe` and `kubectl get
 * events` show with a COUNT column, and their `count` + `lastTimestamp` give the deduplication
 * that client-go's recorder does: an identical event (same object, type, reason and message)
 * within the window bumps the existing Event instead of creating another, so a flapping circuit
 * shows "x40 over 2h", not forty lines. Recording never throws and never blocks the caller;
 * failures are logged, because an Event is a courtesy, not a source of truth.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
} from '@kubernetes/client-node';
import { API_VERSION_FULL, KIND } from '../../policy/policy-schema.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { describeKubeError, httpStatusOf } from './api-errors.ts';
import { silentLogger, type KubeLogger } from './kube-logger.ts';
import { kubeTime } from './kube-time.ts';
import type { PolicyObject } from './resources.ts';

/** A core/v1 Event as JSON: the fields this recorder writes. */
export interface EventJson {
  metadata: { name?: string; namespace?: string };
  involvedObject: {
    apiVersion?: string;
    kind?: string;
    namespace?: string;
    name?: string;
    uid?: string;
  };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: Date | string;
  lastTimestamp?: Date | string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
}

/** The Event calls the recorder makes; `CoreV1Api` satisfies it. */
export interface EventApi {
  createNamespacedEvent(param: { namespace: string; body: EventJson }): Promise<unknown>;
  patchNamespacedEvent(
    param: { name: string; namespace: string; body: unknown },
    options?: ConfigurationOptions,
  ): Promise<unknown>;
}

/** The object an Event is about (`involvedObject`). */
export interface EventSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** Lets `kubectl describe` tell this object from an older one of the same name. */
  readonly uid?: string;
}

/** `Normal` for expected transitions, `Warning` for what someone should look at. */
export type EventType = 'Normal' | 'Warning';

/** What happened. */
export interface EventRecord {
  readonly type: EventType;
  /** CamelCase, e.g. `CircuitOpened`, `CircuitClosed`, `PolicyRejected`. */
  readonly reason: string;
  readonly message: string;
}

/** Settings of the recorder. */
export interface EventRecorderOptions {
  readonly api: EventApi;
  /** `source.component` and `reportingComponent`. Default `aicb-controller`. */
  readonly component?: string;
  /** `reportingInstance` and `source.host`: this replica (the pod name). */
  readonly instance: string;
  /** Identical events closer together than this are merged into one. Default 10 minutes. */
  readonly dedupWindowMs?: number;
  /** Identical-event keys remembered at most (oldest dropped first). Default 4096. */
  readonly maxTracked?: number;
  /** Checked per event; events while it returns false are dropped (e.g. not the leader). */
  readonly gate?: () => boolean;
  readonly clock?: Clock;
  readonly logger?: KubeLogger;
}

/** The subject of an Event about an AICircuitPolicy. */
export function policySubject(policy: PolicyObject): EventSubject {
  return {
    apiVersion: API_VERSION_FULL,
    kind: KIND,
    namespace: policy.metadata.namespace ?? '',
    name: policy.metadata.name,
    ...(policy.metadata.uid === undefined ? {} : { uid: policy.metadata.uid }),
  };
}

interface Seen {
  readonly eventName: string;
  count: number;
  /** Monotonic ms of the last occurrence. */
  lastMs: number;
}

const MAX_MESSAGE_LENGTH = 1024;
/** Event names are DNS subdomains: at most 253 characters, with room for `.` and the suffix. */
const MAX_NAME_PREFIX = 253 - 1 - 16;

/** Records deduplicated core/v1 Events; see the file comment. */
export class EventRecorder {
  readonly #api: EventApi;
  readonly #component: string;
  readonly #instance: string;
  readonly #dedupWindowMs: number;
  readonly #maxTracked: number;
  readonly #gate: () => boolean;
  readonly #clock: Clock;
  readonly #logger: KubeLogger;
  readonly #seen = new Map<string, Seen>();
  /** Per identical-event key, the tail of its sends: a repeat waits to learn the Event's name. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  #sequence = 0;

  constructor(options: EventRecorderOptions) {
    this.#api = options.api;
    this.#component = options.component ?? 'aicb-controller';
    this.#instance = options.instance;
    this.#dedupWindowMs = options.dedupWindowMs ?? 10 * 60_000;
    this.#maxTracked = options.maxTracked ?? 4096;
    this.#gate = options.gate ?? (() => true);
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Records `event` about `subject` in the background. */
  record(subject: EventSubject, event: EventRecord): void {
    if (!this.#gate()) {
      this.#logger.debug({ reason: event.reason, object: subject.name }, 'event not recorded');
      return;
    }
    const message =
      event.message.length > MAX_MESSAGE_LENGTH
        ? `${event.message.slice(0, MAX_MESSAGE_LENGTH - 1)}…`
        : event.message;
    const key = JSON.stringify([
      subject.namespace,
      subject.kind,
      subject.name,
      subject.uid ?? '',
      event.type,
      event.reason,
      message,
    ]);
    const atMs = this.#clock.nowMs();
    const atWallMs = this.#clock.wallMs();
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const send = previous.then(() =>
      this.#send(key, subject, { ...event, message }, atMs, atWallMs),
    );
    this.#chains.set(key, send);
    this.#inFlight.add(send);
    void send.finally(() => {
      this.#inFlight.delete(send);
      if (this.#chains.get(key) === send) this.#chains.delete(key);
    });
  }

  /** Waits until every event recorded so far was sent (or given up on). */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** Never rejects: every failure ends in a log line. */
  async #send(
    key: string,
    subject: EventSubject,
    event: EventRecord,
    atMs: number,
    atWallMs: number,
  ): Promise<void> {
    const seen = this.#seen.get(key);
    if (seen !== undefined && atMs - seen.lastMs < this.#dedupWindowMs) {
      try {
        await this.#api.patchNamespacedEvent(
          {
            name: seen.eventName,
            namespace: subject.namespace,
            body: { count: seen.count + 1, lastTimestamp: kubeTime(atWallMs) },
          },
          // client-node would otherwise send a JSON Patch content type.
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        seen.count += 1;
        seen.lastMs = atMs;
        this.#track(key, seen);
        return;
      } catch (error) {
        // 404: the API server expired the Event (default TTL 1 h); start a new one.
        if (httpStatusOf(error) !== 404) {
          this.#failed(subject, event, error);
          return;
        }
      }
    }
    const eventName = `${subject.name.slice(0, MAX_NAME_PREFIX)}.${this.#suffix(atWallMs)}`;
    const at = kubeTime(atWallMs);
    try {
      await this.#api.createNamespacedEvent({
        namespace: subject.namespace,
        body: {
          metadata: { name: eventName, namespace: subject.namespace },
          involvedObject: {
            apiVersion: subject.apiVersion,
            kind: subject.kind,
            namespace: subject.namespace,
            name: subject.name,
            ...(subject.uid === undefined ? {} : { uid: subject.uid }),
          },
          type: event.type,
          reason: event.reason,
          message: event.message,
          count: 1,
          firstTimestamp: at,
          lastTimestamp: at,
          source: { component: this.#component, host: this.#instance },
          reportingComponent: this.#component,
          reportingInstance: this.#instance,
        },
      });
      this.#track(key, { eventName, count: 1, lastMs: atMs });
    } catch (error) {
      this.#failed(subject, event, error);
    }
  }

  /** Unique per replica and call, ordered by time (client-go uses the nanosecond clock). */
  #suffix(atWallMs: number): string {
    this.#sequence = (this.#sequence + 1) % 1_000_000;
    return (BigInt(atWallMs) * 1_000_000n + BigInt(this.#sequence)).toString(16);
  }

  #track(key: string, seen: Seen): void {
    this.#seen.delete(key);
    this.#seen.set(key, seen);
    while (this.#seen.size > this.#maxTracked) {
      const oldest = this.#seen.keys().next();
      if (oldest.done === true) break;
      this.#seen.delete(oldest.value);
    }
  }

  #failed(subject: EventSubject, event: EventRecord, error: unknown): void {
    this.#logger.warn(
      {
        object: `${subject.namespace}/${subject.name}`,
        reason: event.reason,
        err: describeKubeError(error),
      },
      'could not record event',
    );
  }
}
