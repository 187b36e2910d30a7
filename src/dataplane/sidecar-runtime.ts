/**
 * The configuration in force, with the live objects built from it: one keep-alive connection
 * pool per upstream, resolved credentials, and the breakers. A new snapshot is applied in place:
 * pools whose origin and connect timeout are unchanged are kept, breakers of unchanged upstreams
 * keep their state, and in-flight requests finish on the objects they started with.
 */
import { readFileSync, statSync } from 'node:fs';
import { Pool } from 'undici';
import type { CompiledUpstream, CredentialRef, PolicySnapshot } from '../snapshot/snapshot.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { Circuits } from './circuits.ts';
import { ConnectionSlots } from './connection-slots.ts';
import { policyModelNames } from './cost/pricing.ts';
import { FailureLatency } from './cost/wait-avoided.ts';
import { RetryBudget } from './retry/retry-budget.ts';
import { originOf } from './providers/base-url.ts';
import { ResponseCache } from './response-cache.ts';

/** How long a credential read from a file is trusted before the file is read again. */
const FILE_CREDENTIAL_TTL_MS = 30_000;

interface PoolEntry {
  readonly signature: string;
  readonly pool: Pool;
}

interface FileCredential {
  value: string | undefined;
  readAtMs: number;
  mtimeMs: number;
}

export interface SidecarRuntimeOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The sidecar's environment, for `apiKey: {env}` (passed in: only entry files read env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly maxBreakerKeys?: number;
}

export class SidecarRuntime {
  readonly circuits: Circuits;
  /** Last-resort answers (spec.cache); disabled until a policy enables it. */
  readonly cache: ResponseCache;
  /** Recent time-to-failure per upstream: what an open circuit saves each rejected request. */
  readonly failureLatency = new FailureLatency();
  /** Model names the policy itself mentions: allowed as metric labels besides priced ones. */
  modelNames: ReadonlySet<string> = new Set();
  readonly #retryBudgets = new Map<string, RetryBudget>();
  readonly #options: SidecarRuntimeOptions;
  readonly #pools = new Map<string, PoolEntry>();
  readonly #files = new Map<string, FileCredential>();
  readonly #slots = new Map<string, ConnectionSlots>();
  #snapshot: PolicySnapshot | undefined;
  #upstreams = new Map<string, CompiledUpstream>();
  #names: ReadonlySet<string> = new Set();

  constructor(options: SidecarRuntimeOptions) {
    this.#options = options;
    this.cache = new ResponseCache(
      { enabled: false, ttlMs: 0, maxEntries: 1, maxBytes: 1024 },
      options.clock,
    );
    this.circuits = new Circuits({
      clock: options.clock,
      ...(options.maxBreakerKeys === undefined ? {} : { maxKeys: options.maxBreakerKeys }),
      onListenerError: (error) => {
        options.logger.error({ err: error }, 'breaker event listener failed');
      },
    });
  }

  get snapshot(): PolicySnapshot | undefined {
    return this.#snapshot;
  }

  get upstreamNames(): ReadonlySet<string> {
    return this.#names;
  }

  upstream(name: string): CompiledUpstream | undefined {
    return this.#upstreams.get(name);
  }

  /** Applies a validated snapshot. */
  apply(snapshot: PolicySnapshot): void {
    const upstreams = new Map(snapshot.upstreams.map((u) => [u.name, u]));
    for (const [name, entry] of this.#pools) {
      const next = upstreams.get(name);
      if (next === undefined || poolSignature(next) !== entry.signature) {
        this.#pools.delete(name);
        // close() lets in-flight requests finish before the sockets go.
        entry.pool.close().catch(() => undefined);
      }
    }
    this.#snapshot = snapshot;
    this.#upstreams = upstreams;
    this.#names = new Set(upstreams.keys());
    this.#files.clear();
    this.circuits.configure(snapshot);
    this.cache.configure(snapshot.cache);
    this.modelNames = policyModelNames(snapshot.fallbacks);
    this.failureLatency.retain(this.#names);
    for (const [name, slots] of this.#slots) {
      const next = upstreams.get(name);
      if (next === undefined) this.#slots.delete(name);
      else slots.limit = maxConnectionsOf(next);
    }
    for (const [name, budget] of this.#retryBudgets) {
      if (upstreams.has(name)) budget.configure(snapshot.retry.budget);
      else this.#retryBudgets.delete(name);
    }
  }

  /** The retry budget of one upstream target (retries at most a share of its requests). */
  retryBudget(upstream: string): RetryBudget {
    let budget = this.#retryBudgets.get(upstream);
    if (budget === undefined) {
      budget = new RetryBudget(
        this.#snapshot?.retry.budget ?? { percent: 20, windowMs: 10_000, minRetries: 3 },
        this.#options.clock,
      );
      this.#retryBudgets.set(upstream, budget);
    }
    return budget;
  }

  /** The connection pool of an upstream (created on first use). */
  dispatcher(upstream: CompiledUpstream): Pool {
    const existing = this.#pools.get(upstream.name);
    if (existing !== undefined) return existing.pool;
    const pool = new Pool(originOf(upstream.baseURL), {
      // The pool never holds back a call: ConnectionSlots refuses past the same limit first.
      connections: maxConnectionsOf(upstream),
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: upstream.timeouts.connectMs },
    });
    this.#pools.set(upstream.name, { signature: poolSignature(upstream), pool });
    return pool;
  }

  /** The connection slots of an upstream (its policy's maxConnections). */
  connections(upstream: CompiledUpstream): ConnectionSlots {
    let slots = this.#slots.get(upstream.name);
    if (slots === undefined) {
      slots = new ConnectionSlots(maxConnectionsOf(upstream));
      this.#slots.set(upstream.name, slots);
    }
    return slots;
  }

  /** The policy's credential for an upstream, when it names one that can be read here. */
  readonly credential = (upstream: CompiledUpstream): string | undefined =>
    upstream.apiKey === null ? undefined : this.resolve(upstream.apiKey);

  /** Reads a credential reference (env, file or a value the controller delivered). */
  readonly resolve = (ref: CredentialRef): string | undefined => {
    switch (ref.source) {
      case 'value':
        return ref.value;
      case 'env': {
        const value = this.#options.env[ref.name];
        return value === undefined || value === '' ? undefined : value;
      }
      case 'file':
        return this.#readFileCredential(ref.path);
      case 'secret':
        return undefined;
    }
  };

  /** Every credential value in use (API keys, alert URLs), so logs can mask them anywhere. */
  secrets(): string[] {
    const out: string[] = [];
    const snapshot = this.#snapshot;
    if (snapshot === undefined) return out;
    const refs = [
      ...snapshot.upstreams.flatMap((u) => (u.apiKey === null ? [] : [u.apiKey])),
      ...snapshot.alerting.webhooks,
      ...(snapshot.alerting.slack === null ? [] : [snapshot.alerting.slack]),
    ];
    for (const ref of refs) {
      const value = this.resolve(ref);
      if (value !== undefined) out.push(value);
    }
    return out;
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.pool.destroy().catch(() => undefined)));
  }

  #readFileCredential(path: string): string | undefined {
    const now = this.#options.clock.nowMs();
    const cached = this.#files.get(path);
    if (cached !== undefined && now - cached.readAtMs < FILE_CREDENTIAL_TTL_MS) return cached.value;
    try {
      // Mounted Secrets rotate by replacing the file; re-read when it changed.
      const mtimeMs = statSync(path).mtimeMs;
      if (cached?.mtimeMs === mtimeMs) {
        cached.readAtMs = now;
        return cached.value;
      }
      const value = readFileSync(path, 'utf8').trim();
      this.#files.set(path, { value: value === '' ? undefined : value, readAtMs: now, mtimeMs });
      return value === '' ? undefined : value;
    } catch {
      this.#files.set(path, { value: undefined, readAtMs: now, mtimeMs: -1 });
      return undefined;
    }
  }
}

function maxConnectionsOf(u: CompiledUpstream): number {
  return u.maxConnections;
}

function poolSignature(u: CompiledUpstream): string {
  return `${originOf(u.baseURL)}|${u.timeouts.connectMs}|${maxConnectionsOf(u)}`;
}
