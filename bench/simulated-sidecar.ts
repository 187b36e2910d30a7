// Simulated sidecars for bench/controller-propagation.ts: the wire side of
// src/dataplane/controller-client.ts only (one server-sent-events stream per pod, an ack per
// snapshot, snapshot/sidecar-protocol.ts), without compiling or applying the policy, so that one
// process can hold a thousand of them. All share one undici Agent; every timestamp is
// performance.now() of this process, so the driver compares them with its own.
import { Agent, request } from 'undici';
import { SseParser } from '../src/dataplane/sse/sse-reader.ts';
import {
  PROTOCOL_PATHS,
  SCHEMA_VERSION_HEADER,
  SNAPSHOT_SCHEMA_VERSION,
} from '../src/snapshot/sidecar-protocol.ts';

/** One `snapshot` event as one sidecar received and acknowledged it. */
export interface SnapshotReceipt {
  readonly sidecar: number;
  readonly hash: string;
  /** The controller's wall time when it saw the change (from the event). */
  readonly changedAtWallMs: number;
  /** snapshot.breaker.base.failureThreshold, to check the right version arrived. */
  readonly failureThreshold: number | undefined;
  /** Length of the event's data (the serialized message). */
  readonly bytes: number;
  /** When the chunk that completed the event arrived. */
  readonly receivedAt: number;
  /** Right before the ack POST was handed to undici. */
  readonly ackSentAt: number;
  /** When the controller's answer to the ack arrived (NaN until then). */
  ackAnsweredAt: number;
  /** HTTP status of the ack (0 until answered, -1 when the request failed). */
  ackStatus: number;
}

export interface FleetOptions {
  /** The controller's delivery URL (http://host:port). */
  readonly url: string;
  /** Sidecars the fleet will hold; sizes the connection pool (a stream and an ack each). */
  readonly size: number;
}

/** N simulated sidecars; see the file comment. */
export class SidecarFleet {
  /** Every snapshot event any sidecar received, in arrival order. */
  readonly receipts: SnapshotReceipt[] = [];
  /** Streams that ended or failed after they had opened. */
  disconnects = 0;
  /** Events whose data was not a snapshot message. */
  malformed = 0;
  readonly #url: string;
  readonly #agent: Agent;
  readonly #sidecars: SimulatedSidecar[] = [];

  constructor(options: FleetOptions) {
    this.#url = options.url;
    this.#agent = new Agent({
      // Like a real fleet: each sidecar holds its stream on one connection and acks on another.
      connections: options.size * 2 + 16,
      // Streams are long-lived; the controller's heartbeats keep them open.
      bodyTimeout: 0,
      headersTimeout: 30_000,
      connect: { timeout: 10_000 },
    });
  }

  get size(): number {
    return this.#sidecars.length;
  }

  /** Streams currently open. */
  get open(): number {
    return this.#sidecars.filter((s) => s.open).length;
  }

  add(token: string): void {
    this.#sidecars.push(new SimulatedSidecar(this, this.#sidecars.length, token));
  }

  /** Opens every stream, `concurrency` at a time; resolves when all answered 200. */
  async connectAll(concurrency: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.#sidecars.length) {
        const sidecar = this.#sidecars[next++];
        await sidecar?.connect();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** Aborts every stream and closes all connections. */
  async close(): Promise<void> {
    for (const s of this.#sidecars) s.abort();
    await this.#agent.destroy().catch(() => undefined);
  }

  // Used by the sidecars.
  get url(): string {
    return this.#url;
  }
  get agent(): Agent {
    return this.#agent;
  }
}

class SimulatedSidecar {
  open = false;
  readonly #fleet: SidecarFleet;
  readonly #index: number;
  readonly #token: string;
  readonly #abort = new AbortController();

  constructor(fleet: SidecarFleet, index: number, token: string) {
    this.#fleet = fleet;
    this.#index = index;
    this.#token = token;
  }

  async connect(): Promise<void> {
    const res = await request(`${this.#fleet.url}${PROTOCOL_PATHS.stream}`, {
      method: 'GET',
      headers: {
        authorization: `Bearer ${this.#token}`,
        accept: 'text/event-stream',
        [SCHEMA_VERSION_HEADER]: String(SNAPSHOT_SCHEMA_VERSION),
      },
      signal: this.#abort.signal,
      dispatcher: this.#fleet.agent,
    });
    if (res.statusCode !== 200) {
      const text = (await res.body.text()).slice(0, 300);
      throw new Error(`sidecar ${this.#index}: controller answered ${res.statusCode}: ${text}`);
    }
    this.open = true;
    const parser = new SseParser();
    const ended = () => {
      if (!this.open) return;
      this.open = false;
      if (!this.#abort.signal.aborted) this.#fleet.disconnects++;
    };
    res.body.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const event of parser.push(chunk)) {
        if (event.event === 'snapshot') this.#onSnapshot(event.data, at);
      }
    });
    res.body.on('end', ended);
    res.body.on('error', ended);
    res.body.on('close', ended);
  }

  abort(): void {
    this.#abort.abort();
    this.open = false;
  }

  #onSnapshot(data: string, receivedAt: number): void {
    const info = snapshotInfo(data);
    if (info === undefined) {
      this.#fleet.malformed++;
      return;
    }
    const receipt: SnapshotReceipt = {
      sidecar: this.#index,
      ...info,
      bytes: data.length,
      receivedAt,
      ackSentAt: performance.now(),
      ackAnsweredAt: Number.NaN,
      ackStatus: 0,
    };
    this.#fleet.receipts.push(receipt);
    void this.#ack(receipt);
  }

  async #ack(receipt: SnapshotReceipt): Promise<void> {
    try {
      const res = await request(`${this.#fleet.url}${PROTOCOL_PATHS.ack}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ hash: receipt.hash, accepted: true, problems: [] }),
        dispatcher: this.#fleet.agent,
      });
      await res.body.dump();
      receipt.ackStatus = res.statusCode;
    } catch {
      receipt.ackStatus = -1;
    }
    receipt.ackAnsweredAt = performance.now();
  }
}

/** Hash, change time and base failure threshold of a snapshot event; undefined if malformed. */
function snapshotInfo(
  data: string,
): Pick<SnapshotReceipt, 'hash' | 'changedAtWallMs' | 'failureThreshold'> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  const message = value as {
    snapshot?: { hash?: unknown; breaker?: { base?: { failureThreshold?: unknown } } };
    changedAtWallMs?: unknown;
  } | null;
  const hash = message?.snapshot?.hash;
  const changedAtWallMs = message?.changedAtWallMs;
  if (typeof hash !== 'string' || typeof changedAtWallMs !== 'number') return undefined;
  const threshold = message?.snapshot?.breaker?.base?.failureThreshold;
  return {
    hash,
    changedAtWallMs,
    failureThreshold: typeof threshold === 'number' ? threshold : undefined,
  };
}
