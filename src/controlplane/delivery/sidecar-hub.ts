/**
 * The sidecars connected to this controller: one server-sent-events stream per pod, what was
 * sent to it, what it acknowledged or rejected, and what it last reported about its circuits.
 * Pushes are idempotent by snapshot hash, so reconciling often costs nothing on the wire.
 */
import type { ServerResponse } from 'node:http';
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import {
  STREAM_EVENTS,
  STREAM_HEARTBEAT,
  encodeStreamEvent,
  type Ack,
  type FleetMessage,
  type ReleaseMessage,
  type Report,
  type TransitionReport,
} from '../../snapshot/sidecar-protocol.ts';
import type { Clock } from '../../shared/clock.ts';
import { Emitter } from '../../shared/emitter.ts';

export interface SidecarSession {
  readonly id: number;
  /** `namespace/name` of the pod the token is bound to. */
  readonly pod: string;
  readonly namespace: string;
  readonly connectedAtWallMs: number;
  /** Hash of the last snapshot sent, and when its change was first seen (propagation metric). */
  sentHash: string | undefined;
  /** The policy of the last snapshot sent (named in a later release). */
  sentPolicy: { readonly namespace: string; readonly name: string } | undefined;
  /** Released to pass-through: no policy governs the pod (until a snapshot is sent again). */
  released: boolean;
  sentChangedAtWallMs: number;
  ackedHash: string | undefined;
  rejectedHash: string | undefined;
  problems: readonly string[];
  report: Report | undefined;
  /**
   * The last transition this sidecar reported per circuit (`upstream/endpoint`), kept across
   * reports: why a circuit opened (reason, counts) outlives the report that said so.
   */
  readonly lastTransitions: Map<string, TransitionReport>;
}

interface Connection {
  readonly session: SidecarSession;
  readonly res: ServerResponse;
  readonly heartbeat: NodeJS.Timeout;
}

export type HubEvent =
  | { readonly kind: 'connected' | 'disconnected'; readonly session: SidecarSession }
  | {
      readonly kind: 'ack';
      readonly session: SidecarSession;
      readonly ack: Ack;
      readonly propagationMs: number | undefined;
    }
  | { readonly kind: 'report'; readonly session: SidecarSession; readonly report: Report };

export class SidecarHub {
  readonly events = new Emitter<HubEvent>();
  readonly #clock: Clock;
  readonly #heartbeatMs: number;
  readonly #connections = new Map<string, Connection>();
  #lastEvent:
    | { readonly snapshot: PolicySnapshot; readonly changedAtWallMs: number; readonly line: string }
    | undefined;
  #nextId = 1;

  constructor(options: { clock: Clock; heartbeatMs?: number }) {
    this.#clock = options.clock;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  get size(): number {
    return this.#connections.size;
  }

  sessions(): SidecarSession[] {
    return [...this.#connections.values()].map((c) => c.session);
  }

  session(pod: string): SidecarSession | undefined {
    return this.#connections.get(pod)?.session;
  }

  /** Takes over an open SSE response for a pod; a previous stream of the same pod is closed. */
  attach(pod: string, namespace: string, res: ServerResponse): SidecarSession {
    this.#connections.get(pod)?.res.end();
    const session: SidecarSession = {
      id: this.#nextId++,
      pod,
      namespace,
      connectedAtWallMs: this.#clock.wallMs(),
      sentHash: undefined,
      sentPolicy: undefined,
      released: false,
      sentChangedAtWallMs: 0,
      ackedHash: undefined,
      rejectedHash: undefined,
      problems: [],
      report: undefined,
      lastTransitions: new Map(),
    };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    // Heartbeats keep idle proxies from cutting the stream and let the sidecar detect a dead one.
    const heartbeat = setInterval(() => res.write(STREAM_HEARTBEAT), this.#heartbeatMs);
    heartbeat.unref();
    const connection = { session, res, heartbeat };
    this.#connections.set(pod, connection);
    res.on('close', () => {
      clearInterval(heartbeat);
      if (this.#connections.get(pod) === connection) {
        this.#connections.delete(pod);
        this.events.emit({ kind: 'disconnected', session });
      }
    });
    this.events.emit({ kind: 'connected', session });
    return session;
  }

  /** Sends a snapshot unless this pod already has it; returns true when something was sent. */
  pushSnapshot(pod: string, snapshot: PolicySnapshot, changedAtWallMs: number): boolean {
    const connection = this.#connections.get(pod);
    if (connection === undefined || connection.session.sentHash === snapshot.hash) return false;
    connection.session.sentHash = snapshot.hash;
    connection.session.sentPolicy = {
      namespace: snapshot.policy.namespace,
      name: snapshot.policy.name,
    };
    connection.session.released = false;
    connection.session.sentChangedAtWallMs = changedAtWallMs;
    // One reconcile pushes the same version to every pod of a policy: serialize it once.
    const cached = this.#lastEvent;
    let line: string;
    if (cached?.snapshot === snapshot && cached.changedAtWallMs === changedAtWallMs) {
      line = cached.line;
    } else {
      line = encodeStreamEvent(STREAM_EVENTS.snapshot, { snapshot, changedAtWallMs });
      this.#lastEvent = { snapshot, changedAtWallMs, line };
    }
    connection.res.write(line);
    return true;
  }

  /**
   * Tells a sidecar that no policy governs its pod any more; once per release (a later snapshot
   * re-arms it). Returns true when something was sent.
   */
  release(pod: string): boolean {
    const connection = this.#connections.get(pod);
    if (connection === undefined || connection.session.released) return false;
    const { session } = connection;
    const message: ReleaseMessage = { formerPolicy: session.sentPolicy ?? null };
    session.released = true;
    // Whatever policy selects the pod next must be sent, even the same version as before.
    session.sentHash = undefined;
    connection.res.write(encodeStreamEvent(STREAM_EVENTS.release, message));
    return true;
  }

  /** Shared fleet mode: tells other sidecars of a policy that a circuit opened somewhere. */
  pushFleet(pods: readonly string[], message: FleetMessage): number {
    let sent = 0;
    const line = encodeStreamEvent(STREAM_EVENTS.fleet, message);
    for (const pod of pods) {
      const connection = this.#connections.get(pod);
      if (connection === undefined || pod === message.origin) continue;
      connection.res.write(line);
      sent++;
    }
    return sent;
  }

  /** Records an ack; false when the pod has no stream here (it must reconnect first). */
  acknowledge(pod: string, ack: Ack): boolean {
    const session = this.#connections.get(pod)?.session;
    if (session === undefined) return false;
    let propagationMs: number | undefined;
    if (ack.accepted) {
      session.ackedHash = ack.hash;
      session.rejectedHash = undefined;
      session.problems = [];
      if (ack.hash === session.sentHash && session.sentChangedAtWallMs > 0) {
        propagationMs = this.#clock.wallMs() - session.sentChangedAtWallMs;
      }
    } else {
      session.rejectedHash = ack.hash;
      session.problems = ack.problems;
    }
    this.events.emit({ kind: 'ack', session, ack, propagationMs });
    return true;
  }

  report(pod: string, report: Report): boolean {
    const session = this.#connections.get(pod)?.session;
    if (session === undefined) return false;
    session.report = report;
    const circuitOf = new Map(report.circuits.map((c) => [c.key, `${c.upstream}/${c.endpoint}`]));
    for (const t of report.transitions) {
      session.lastTransitions.set(circuitOf.get(t.key) ?? circuitIdOfKey(t.key), t);
    }
    this.events.emit({ kind: 'report', session, report });
    return true;
  }

  /** Ends every stream (shutdown, or this replica stopped leading). */
  closeAll(): void {
    for (const { res, heartbeat } of this.#connections.values()) {
      clearInterval(heartbeat);
      res.end();
    }
  }
}

/**
 * `upstream/endpoint` of a breaker key the report's circuit list does not name (an evicted
 * circuit): keys are `upstream`, `upstream/endpoint` or `upstream/endpoint/model`.
 */
function circuitIdOfKey(key: string): string {
  const [upstream = key, endpoint = 'all'] = key.split('/');
  return `${upstream}/${endpoint}`;
}
