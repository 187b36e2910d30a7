/**
 * The retry budget: retries may be at most a share of the requests seen in a sliding window, so
 * a provider brown-out, when every request wants a retry, never multiplies the load on it.
 * `minRetries` keeps retries possible at low traffic, where a percentage rounds down to nothing.
 */
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import type { Clock } from '../../shared/clock.ts';

/** The budget settings of `spec.retry.budget`, compiled. */
export type RetryBudgetConfig = PolicySnapshot['retry']['budget'];

/** Buckets per window: the window slides in tenths, in fixed memory. */
export const RETRY_BUDGET_BUCKETS = 10;

/** Counts in the current window, for gauges and tests. */
export interface RetryBudgetState {
  readonly requests: number;
  readonly retries: number;
  /** Retries the window allows in all (granted ones included). */
  readonly allowed: number;
}

/**
 * Requests and granted retries over a sliding window of `RETRY_BUDGET_BUCKETS` buckets: the
 * window is the current bucket plus the previous ones, so a count leaves it between
 * (buckets − 1)/buckets and one full window after it was made. O(buckets) memory and work.
 */
export class RetryBudget {
  readonly #clock: Clock;
  #config: RetryBudgetConfig;
  #bucketMs: number;
  readonly #requests = new Float64Array(RETRY_BUDGET_BUCKETS);
  readonly #retries = new Float64Array(RETRY_BUDGET_BUCKETS);
  /** The absolute bucket number each slot counts for; a slot from an older lap is stale. */
  readonly #epochs = new Float64Array(RETRY_BUDGET_BUCKETS).fill(-1);
  // Results of #sum, kept in fields so the hot path allocates nothing.
  #sumRequests = 0;
  #sumRetries = 0;

  constructor(config: RetryBudgetConfig, clock: Clock) {
    this.#clock = clock;
    this.#config = config;
    this.#bucketMs = config.windowMs / RETRY_BUDGET_BUCKETS;
  }

  /** Applies new settings; a new window length restarts the counts, since buckets change size. */
  configure(config: RetryBudgetConfig): void {
    if (config.windowMs !== this.#config.windowMs) {
      this.#bucketMs = config.windowMs / RETRY_BUDGET_BUCKETS;
      this.#epochs.fill(-1);
      this.#requests.fill(0);
      this.#retries.fill(0);
    }
    this.#config = config;
  }

  /** Counts one request (a first attempt; retries are not requests, or they would fund themselves). */
  recordRequest(): void {
    const slot = this.#slot(this.#epochNow());
    this.#requests[slot] = (this.#requests[slot] ?? 0) + 1;
  }

  /** True, and the retry counted, when the window's budget has room for one more retry. */
  tryRetry(): boolean {
    const epoch = this.#epochNow();
    this.#sum(epoch);
    if (this.#sumRetries >= this.#allowed(this.#sumRequests)) return false;
    const slot = this.#slot(epoch);
    this.#retries[slot] = (this.#retries[slot] ?? 0) + 1;
    return true;
  }

  /** The window's counts now. */
  state(): RetryBudgetState {
    this.#sum(this.#epochNow());
    return {
      requests: this.#sumRequests,
      retries: this.#sumRetries,
      allowed: this.#allowed(this.#sumRequests),
    };
  }

  #allowed(requests: number): number {
    // percent is a whole number, so the product is exact before the floor.
    return Math.max(this.#config.minRetries, Math.floor((this.#config.percent * requests) / 100));
  }

  #epochNow(): number {
    return Math.floor(this.#clock.nowMs() / this.#bucketMs);
  }

  /** The slot for `epoch`, cleared first when it still holds an older lap's counts. */
  #slot(epoch: number): number {
    const slot = epoch % RETRY_BUDGET_BUCKETS;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#requests[slot] = 0;
      this.#retries[slot] = 0;
    }
    return slot;
  }

  #sum(epoch: number): void {
    let requests = 0;
    let retries = 0;
    for (let slot = 0; slot < RETRY_BUDGET_BUCKETS; slot++) {
      const age = epoch - (this.#epochs[slot] ?? -1);
      if (age >= 0 && age < RETRY_BUDGET_BUCKETS) {
        requests += this.#requests[slot] ?? 0;
        retries += this.#retries[slot] ?? 0;
      }
    }
    this.#sumRequests = requests;
    this.#sumRetries = retries;
  }
}
