/**
 * Last-resort cache (spec.cache): successful non-streaming answers, kept under a hash of the
 * normalized request, served only when every target of the chain is open or failed. Bounded by
 * entries and bytes (least recently used go first) and by age. Keys never include credentials.
 */
import { contentHash } from '../shared/content-hash.ts';
import type { PolicySnapshot } from '../snapshot/snapshot.ts';
import type { Clock } from '../shared/clock.ts';
import type { ClientFormat } from './client-errors.ts';

export interface CachedResponse {
  readonly status: number;
  /** Body exactly as the app received it (already in the app's API format). */
  readonly body: Buffer;
  readonly contentType: string;
  /** Upstream that produced it, for x-aicb-upstream. */
  readonly upstream: string;
  readonly model: string | undefined;
  readonly storedAtMs: number;
}

/** Request fields that change how an answer is delivered, not what it says. */
const DELIVERY_ONLY_FIELDS = new Set(['stream', 'stream_options']);

/** Largest single body worth keeping; a huge answer would evict everything else. */
const MAX_ENTRY_FRACTION = 0.25;

export class ResponseCache {
  readonly #clock: Clock;
  #config: PolicySnapshot['cache'];
  readonly #entries = new Map<string, CachedResponse>();
  #bytes = 0;

  constructor(config: PolicySnapshot['cache'], clock: Clock) {
    this.#config = config;
    this.#clock = clock;
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Applies new limits; entries beyond them (or all, when disabled) are dropped. */
  configure(config: PolicySnapshot['cache']): void {
    this.#config = config;
    if (!config.enabled) this.clear();
    this.#evict();
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /**
   * Cache key for a request: requested upstream, API format, path without query, and the JSON
   * body in canonical form minus delivery-only fields. Undefined when not cacheable.
   */
  keyFor(
    upstream: string,
    format: ClientFormat,
    path: string,
    json: Record<string, unknown> | undefined,
  ): string | undefined {
    if (!this.#config.enabled || json === undefined) return undefined;
    const normalized: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(json)) if (!DELIVERY_ONLY_FIELDS.has(k)) normalized[k] = v;
    const queryAt = path.indexOf('?');
    return contentHash({
      upstream,
      format,
      path: queryAt === -1 ? path : path.slice(0, queryAt),
      body: normalized,
    });
  }

  /** A fresh entry (younger than the TTL), marked most recently used. */
  get(key: string): CachedResponse | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#clock.nowMs() - entry.storedAtMs > this.#config.ttlMs) {
      this.#delete(key, entry);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: Omit<CachedResponse, 'storedAtMs'>): void {
    if (!this.#config.enabled) return;
    if (entry.body.length > this.#config.maxBytes * MAX_ENTRY_FRACTION) return;
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#delete(key, previous);
    this.#entries.set(key, { ...entry, storedAtMs: this.#clock.nowMs() });
    this.#bytes += entry.body.length;
    this.#evict();
  }

  #evict(): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.#config.maxEntries && this.#bytes <= this.#config.maxBytes)
        return;
      this.#delete(key, entry);
    }
  }

  #delete(key: string, entry: CachedResponse): void {
    this.#entries.delete(key);
    this.#bytes -= entry.body.length;
  }
}
