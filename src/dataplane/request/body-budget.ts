/**
 * One bound on the request bytes the sidecar holds at once, across all requests: bodies are
 * buffered whole (the chain may send one body to several targets), so without it a handful of
 * large or stalled uploads would grow the process until the kubelet OOM-kills it, taking every
 * in-flight call down. Past the bound a request gets 503 AICB_OVERLOADED with Retry-After.
 */
export class BodyBudget {
  readonly #max: number;
  #used = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** Takes `bytes` from the budget; false when that would pass the bound. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.#max) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }

  get used(): number {
    return this.#used;
  }
}
