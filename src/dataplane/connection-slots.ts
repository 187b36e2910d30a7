/**
 * The connections the sidecar may hold open to one upstream (`upstreams[].maxConnections`).
 * An HTTP/1.1 stream holds its connection for its whole life, so the pool would otherwise queue
 * every call past the limit silently — the hidden queue that made 1000 slow streams wait 21 s.
 * A call past the limit is refused at once (503 AICB_CONNECTION_LIMIT) instead.
 */
export class ConnectionSlots {
  #limit: number;
  #inUse = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  set limit(limit: number) {
    this.#limit = limit;
  }

  get inUse(): number {
    return this.#inUse;
  }

  tryAcquire(): boolean {
    if (this.#inUse >= this.#limit) return false;
    this.#inUse++;
    return true;
  }

  release(): void {
    if (this.#inUse > 0) this.#inUse--;
  }
}
