/**
 * One request's walk down its chain (docs/sidecar.md): each target in turn is admitted by its
 * circuit or skipped without a call, tried (with the policy's retries, only before anything
 * reached the app), and the first answer that commits is the app's. When none does, the app
 * gets the last real upstream answer, a cached one, or a fast-fail error in its own API.
 *
 * Nothing the client sends is charged to a circuit: a request the sidecar cannot handle is
 * refused before any call, and a failure in the sidecar's own code is recorded as ignored.
 */
import type { ServerResponse } from 'node:http';
import type { Ticket } from '../../breaker/breaker-ticket.ts';
import type { CircuitBreaker } from '../../breaker/circuit-breaker.ts';
import type { CompiledUpstream, PolicySnapshot } from '../../snapshot/snapshot.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/create-logger.ts';
import { sleep, systemTimers, type Timers } from '../../shared/timers.ts';
import type { AttemptOutcome } from '../classify-outcome.ts';
import { formatOfApi, type SidecarErrorCode } from '../client-errors.ts';
import { recordUsage } from '../cost/record-usage.ts';
import type { Usage } from '../cost/usage.ts';
import { runAttempt, type AttemptEnd, type HeldResponse } from '../exchange/attempt.ts';
import type { Exchange } from '../exchange/exchange.ts';
import { replayAsStream } from '../providers/replay-as-stream.ts';
import type { ClientRequest } from '../request/client-request.ts';
import type { RequestRoute } from '../request/route.ts';
import { sendError, writeUpstreamHead, writeWhole } from '../respond/response-writer.ts';
import { retryPlan } from '../retry/retry-delay.ts';
import type { SidecarMetrics } from '../sidecar-metrics.ts';
import type { SidecarRuntime } from '../sidecar-runtime.ts';
import type { SkipReason } from '../skip-reasons.ts';
import { chainTargets } from './chain-targets.ts';

export interface ChainContext {
  readonly runtime: SidecarRuntime;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Retry waits. Default: Node's timers. */
  readonly timers?: Timers;
  /** Told when a request found every target of its chain open (an alertable moment). */
  readonly onAllTargetsOpen?: (upstream: string, endpoint: string, attempts: string) => void;
}

/** Retry-After suggested when every circuit is open but none reported a deadline. */
const DEFAULT_RETRY_AFTER_MS = 1000;

type TryResult = 'served' | 'rejected' | { readonly outcome: AttemptOutcome };

export class ChainRun {
  readonly #ctx: ChainContext;
  /** The policy in force when the request arrived; a reload mid-request does not change it. */
  readonly #snapshot: PolicySnapshot;
  readonly #res: ServerResponse;
  readonly #route: RequestRoute;
  readonly #requested: CompiledUpstream;
  readonly #client: ClientRequest;
  readonly #attempts: string[] = [];
  #held: HeldResponse | undefined;
  #heldFrom: string | undefined;
  #lastTransport: AttemptOutcome | undefined;
  /** A target answered in an encoding the sidecar could not decode to mask its key in. */
  #undecodable = false;
  #retryAfterMs = Number.POSITIVE_INFINITY;
  #dispatched = 0;
  #connectionLimited = 0;
  #cacheKey: string | undefined | null = null;

  constructor(
    ctx: ChainContext,
    snapshot: PolicySnapshot,
    res: ServerResponse,
    route: RequestRoute,
    requested: CompiledUpstream,
    client: ClientRequest,
  ) {
    this.#ctx = ctx;
    this.#snapshot = snapshot;
    this.#res = res;
    this.#route = route;
    this.#requested = requested;
    this.#client = client;
  }

  async run(): Promise<void> {
    const { runtime, clock } = this.#ctx;
    const endpoint = this.#route.endpoint;
    const steps = chainTargets({
      client: this.#client,
      requested: this.#requested,
      snapshot: this.#snapshot,
      upstream: (name) => runtime.upstream(name),
      credential: runtime.credential,
      nowWallMs: clock.wallMs(),
      admits: (name, model) => {
        const state = runtime.circuits.registry
          .peek(runtime.circuits.keyFor(name, endpoint, model))
          ?.getState().state;
        return state !== 'open' && state !== 'forced_open';
      },
    });
    for (const step of steps) {
      if (step.kind === 'skip') {
        this.#skip(step.upstream, step.reason, step.detail);
        continue;
      }
      const served = await this.#try(step.exchange);
      if (served) return;
      if (this.#res.destroyed || this.#res.writableEnded) return;
    }
    this.#giveUp();
  }

  /**
   * Tries one target, retrying it when the policy allows (only before anything reached the app,
   * only for the listed failure kinds, within the retry budget); true when the request is
   * answered (or the app went away).
   */
  async #try(exchange: Exchange): Promise<boolean> {
    const { runtime, metrics } = this.#ctx;
    const name = exchange.upstream.name;
    const retry = this.#snapshot.retry;
    const budget = retry.attempts > 0 ? runtime.retryBudget(name) : undefined;
    budget?.recordRequest();
    for (let attempt = 1; ; attempt++) {
      const result = await this.#attemptOnce(exchange);
      if (result === 'served') return true;
      if (result === 'rejected') return false;
      // A failure before the first byte: maybe retry the same target.
      if (budget === undefined || result.outcome.kind !== 'failure') return false;
      // If that failure opened the circuit, a retry would only wait out its backoff to be
      // rejected: go down the chain now.
      if (this.#circuitOpen(exchange)) {
        metrics.retries.inc({ provider: name, result: 'circuit_open' });
        return false;
      }
      const decision = retryPlan(
        result.outcome.reason,
        result.outcome.retryAfterMs,
        attempt,
        retry,
        () => budget.tryRetry(),
      );
      if (!decision.retry) {
        metrics.retries.inc({ provider: name, result: decision.why });
        return false;
      }
      metrics.retries.inc({ provider: name, result: 'retried' });
      await this.#sleep(decision.delayMs);
      if (this.#res.destroyed) {
        this.#count('cancelled');
        return true;
      }
    }
  }

  /** The breaker that guards this target for this request's endpoint (and model, if keyed so). */
  #breakerFor(exchange: Exchange): CircuitBreaker {
    const { circuits } = this.#ctx.runtime;
    return circuits.breaker(
      circuits.keyFor(exchange.upstream.name, this.#route.endpoint, exchange.model),
    );
  }

  /** Whether the target's circuit refuses calls now (open or forced open). */
  #circuitOpen(exchange: Exchange): boolean {
    const { state } = this.#breakerFor(exchange).getState();
    return state === 'open' || state === 'forced_open';
  }

  #count(result: string): void {
    this.#ctx.metrics.requests.inc({
      provider: this.#requested.name,
      endpoint: this.#route.endpoint,
      result,
    });
  }

  /** One attempt on one target. */
  async #attemptOnce(exchange: Exchange): Promise<TryResult> {
    const { runtime, metrics, clock } = this.#ctx;
    const name = exchange.upstream.name;
    const endpoint = this.#route.endpoint;
    const isFallback = exchange.isFallback;
    const breaker = this.#breakerFor(exchange);
    const admission = breaker.tryAcquire();
    if (!admission.admitted) {
      this.#attempts.push(`${name}:${admission.reason}`);
      this.#retryAfterMs = Math.min(this.#retryAfterMs, admission.retryAfterMs);
      metrics.shortCircuited.inc({ provider: name, endpoint, reason: admission.reason });
      // The call not made would most likely have failed after about this long.
      const avoidedMs = runtime.failureLatency.estimateMs(name);
      if (avoidedMs !== undefined) metrics.waitAvoided.inc({ provider: name }, avoidedMs / 1000);
      if (isFallback)
        metrics.fallbacks.inc({ from: this.#requested.name, to: name, result: 'short_circuited' });
      return 'rejected';
    }
    const ticket: Ticket = admission;
    const connections = runtime.connections(exchange.upstream);
    if (!connections.tryAcquire()) {
      // The policy's maxConnections: refused here rather than queued out of the app's sight.
      // Not the upstream's fault, so the breaker ignores it.
      breaker.recordIgnored(ticket);
      this.#connectionLimited++;
      this.#attempts.push(`${name}:connection_limit`);
      metrics.connectionLimited.inc({ provider: name });
      if (isFallback)
        metrics.fallbacks.inc({
          from: this.#requested.name,
          to: name,
          result: 'connection_limited',
        });
      return 'rejected';
    }
    this.#dispatched++;
    let settledEarly = false;
    const result = await runAttempt({
      dispatcher: runtime.dispatcher(exchange.upstream),
      exchange,
      firstByteTimeoutMs: exchange.upstream.timeouts.firstByteMs,
      idleTimeoutMs: exchange.upstream.timeouts.idleMs,
      totalTimeoutMs: exchange.upstream.timeouts.totalMs,
      failOn: this.#snapshot.failOn,
      res: this.#res,
      clock,
      capture: this.#wantsCapture()
        ? (status, contentType, body) => {
            this.#cacheAnswer(exchange, status, contentType, body);
          }
        : undefined,
      commit: (status, headers) => {
        this.#attempts.push(`${name}:${status}`);
        writeUpstreamHead(this.#res, status, headers, {
          upstream: name,
          model: exchange.model,
          attempts: this.#attempts.join(','),
          ...(isFallback ? { fallback: `${this.#requested.name}->${name}` } : {}),
        });
      },
      onFirstContent: (ttfbMs) => {
        // A probe has succeeded once the upstream has shown it is healthy; the stream then
        // runs to its end without holding the circuit half-open (or timing the probe out).
        if (!ticket.isProbe) return;
        settledEarly = true;
        breaker.recordSuccess(ticket, ttfbMs);
      },
      onFinished: (end) => {
        connections.release();
        if (!settledEarly) this.#record(breaker, ticket, name, end);
        else this.#observe(name, end);
        if (end.usage !== undefined) this.#recordUsage(exchange, end.usage);
        if (end.internalError !== undefined) {
          this.#ctx.logger.error(
            { err: end.internalError, upstream: name },
            'request failed inside the sidecar',
          );
        }
        if (end.committed) this.#countServed(exchange, end);
      },
    });
    switch (result.kind) {
      case 'committed':
        this.#logRequest('served', name);
        return 'served';
      case 'cancelled':
        this.#count('cancelled');
        return 'served';
      case 'internal':
        this.#ownAnswer(
          `${name}:internal_error`,
          'AICB_INTERNAL',
          'The sidecar failed to handle the request.',
          'internal_error',
        );
        return 'served';
      case 'too_large':
        this.#ownAnswer(
          `${name}:answer_too_large`,
          'AICB_ANSWER_TOO_LARGE',
          `The answer of ${name} is larger than the ${String(result.limitBytes / 1024 / 1024)} MiB the sidecar holds to translate it; ask for less, or stream the request.`,
          'answer_too_large',
        );
        return 'served';
      case 'failed':
        this.#attempts.push(
          `${name}:${result.undecodable === true ? 'undecodable_encoding' : attemptLabel(result.outcome, result.held)}`,
        );
        if (result.undecodable === true) this.#undecodable = true;
        if (isFallback)
          metrics.fallbacks.inc({ from: this.#requested.name, to: name, result: 'failure' });
        if (result.held !== undefined) {
          this.#held = result.held;
          this.#heldFrom = name;
        } else {
          this.#lastTransport = result.outcome;
        }
        return { outcome: result.outcome };
    }
  }

  /** Answers the app with the sidecar's own error after an attempt (nothing else was sent). */
  #ownAnswer(attempt: string, code: SidecarErrorCode, message: string, result: string): void {
    this.#attempts.push(attempt);
    sendError(this.#res, formatOfApi(this.#client.api), code, message, {
      'x-aicb-attempts': this.#attempts.join(','),
    });
    this.#count(result);
  }

  /** Counts a committed answer once it is over: whole, or interrupted. */
  #countServed(exchange: Exchange, end: AttemptEnd): void {
    const { metrics } = this.#ctx;
    const name = exchange.upstream.name;
    if (end.internalError !== undefined) {
      this.#count('internal_error');
    } else if (end.interrupted) {
      this.#count('interrupted');
      if (exchange.isFallback)
        metrics.fallbacks.inc({ from: this.#requested.name, to: name, result: 'interrupted' });
    } else {
      this.#count(exchange.isFallback ? 'fallback' : 'ok');
      if (exchange.isFallback)
        metrics.fallbacks.inc({ from: this.#requested.name, to: name, result: 'success' });
    }
  }

  #recordUsage(exchange: Exchange, usage: Usage): void {
    const { runtime, metrics } = this.#ctx;
    recordUsage(
      {
        metrics,
        snapshot: this.#snapshot,
        modelNames: runtime.modelNames,
        requestedUpstream: this.#requested.name,
        requestedModel: this.#client.model,
      },
      { upstream: exchange.upstream.name, model: exchange.model, isFallback: exchange.isFallback },
      usage,
    );
  }

  /** Waits between retries; returns early when the app goes away. */
  async #sleep(ms: number): Promise<void> {
    const gone = new AbortController();
    const onClose = () => {
      gone.abort();
    };
    this.#res.once('close', onClose);
    try {
      await sleep(this.#ctx.timers ?? systemTimers, ms, gone.signal);
    } finally {
      this.#res.removeListener('close', onClose);
    }
  }

  #record(breaker: CircuitBreaker, ticket: Ticket, name: string, end: AttemptEnd): void {
    const { outcome, timings } = end;
    const slowMeasureMs = timings.ttfbMs ?? timings.durationMs;
    switch (outcome.kind) {
      case 'success':
        breaker.recordSuccess(ticket, slowMeasureMs);
        break;
      case 'failure':
        breaker.recordFailure(ticket, slowMeasureMs, outcome.retryAfterMs ?? 0, outcome.soft);
        break;
      case 'ignored':
        breaker.recordIgnored(ticket);
        break;
    }
    this.#observe(name, end);
  }

  /** Latency and failure metrics of a finished call. */
  #observe(name: string, end: AttemptEnd): void {
    const { metrics, runtime } = this.#ctx;
    const { outcome, timings } = end;
    const endpoint = this.#route.endpoint;
    if (outcome.kind === 'failure') {
      runtime.failureLatency.record(name, timings.durationMs);
      metrics.circuitFailures.inc({ provider: name, endpoint, reason: outcome.reason });
    }
    metrics.upstreamDuration.observe(
      { provider: name, endpoint, outcome: outcome.kind },
      timings.durationMs / 1000,
    );
    if (timings.ttfbMs !== undefined) {
      metrics.timeToFirstByte.observe({ provider: name, endpoint }, timings.ttfbMs / 1000);
    }
  }

  #wantsCapture(): boolean {
    return !this.#client.stream && this.#cacheKeyOf() !== undefined;
  }

  /** The cache key of this request (the body parsed for it only when the policy caches). */
  #cacheKeyOf(): string | undefined {
    if (this.#cacheKey === null) {
      const cache = this.#ctx.runtime.cache;
      this.#cacheKey = cache.enabled
        ? cache.keyFor(
            this.#requested.name,
            formatOfApi(this.#client.api),
            this.#route.path,
            this.#client.parsed(),
          )
        : undefined;
    }
    return this.#cacheKey;
  }

  /** Stores a successful non-streaming answer for last-resort use, when the policy caches. */
  #cacheAnswer(exchange: Exchange, status: number, contentType: string, body: Buffer): void {
    const key = this.#cacheKeyOf();
    if (key === undefined) return;
    this.#ctx.runtime.cache.set(key, {
      status,
      contentType,
      body,
      upstream: exchange.upstream.name,
      model: exchange.model,
    });
  }

  /** Answers from the last-resort cache; false when it has nothing fresh for this request. */
  #serveCached(): boolean {
    const key = this.#cacheKeyOf();
    const entry = key === undefined ? undefined : this.#ctx.runtime.cache.get(key);
    if (entry === undefined) return false;
    const format = formatOfApi(this.#client.api);
    const json = this.#client.parsed();
    const includeUsage =
      (json?.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const replay = this.#client.stream
      ? replayAsStream(format, entry.body, includeUsage)
      : undefined;
    if (this.#client.stream && (replay === undefined || this.#client.api === 'openai-responses'))
      return false;
    const ageSeconds = Math.max(0, Math.floor((this.#ctx.clock.nowMs() - entry.storedAtMs) / 1000));
    const body = replay === undefined ? entry.body : Buffer.from(replay);
    writeWhole(
      this.#res,
      entry.status,
      {
        'content-type':
          replay === undefined ? entry.contentType : 'text/event-stream; charset=utf-8',
      },
      body,
      { upstream: entry.upstream, model: entry.model, attempts: this.#attempts.join(',') },
      { 'x-aicb-cache': 'stale', age: String(ageSeconds) },
    );
    this.#count('cached');
    this.#logRequest('cached', entry.upstream);
    return true;
  }

  #skip(name: string, reason: SkipReason, detail: string | undefined): void {
    // The translator's reason, readable in the header (commas would split the list).
    const why = detail === undefined ? '' : `(${detail.replace(/[,\r\n]/g, ';')})`;
    this.#attempts.push(`${name}:skipped-${reason}${why}`);
    this.#ctx.metrics.fallbacks.inc({
      from: this.#requested.name,
      to: name,
      result: `skipped_${reason}`,
    });
    this.#ctx.logger.info(
      {
        upstream: this.#requested.name,
        target: name,
        reason,
        ...(detail === undefined ? {} : { detail }),
      },
      'fallback target skipped: it cannot serve this request faithfully',
    );
  }

  /** One debug line per request (guarded: building it costs nothing at info level). */
  #logRequest(result: string, served: string | undefined): void {
    const { logger } = this.#ctx;
    if (!logger.isLevelEnabled('debug')) return;
    logger.debug(
      {
        upstream: this.#requested.name,
        endpoint: this.#route.endpoint,
        model: this.#client.model,
        stream: this.#client.stream,
        result,
        served,
        attempts: this.#attempts.join(','),
      },
      'request',
    );
  }

  /** No target answered: the last real upstream answer, else a sidecar error. */
  #giveUp(): void {
    if (this.#serveCached()) return;
    this.#logRequest('not_served', undefined);
    const endpoint = this.#route.endpoint;
    const res = this.#res;
    const format = formatOfApi(this.#client.api);
    const attempts = this.#attempts.join(',');
    if (this.#held !== undefined) {
      // The upstream's own error is the most honest answer (the call that trips returns its
      // real result), marked with what was tried.
      const held = this.#held;
      writeWhole(res, held.status, held.headers, held.body, {
        upstream: this.#heldFrom ?? this.#requested.name,
        model: undefined,
        attempts,
      });
      this.#count('upstream_error');
      return;
    }
    if (this.#undecodable) {
      sendError(
        res,
        format,
        'AICB_UPSTREAM_UNDECODABLE',
        `An upstream answered in a content-encoding the sidecar cannot decode, so the key the policy gave it could not be masked; the answer was dropped (tried ${this.#attempts.join(', ')}).`,
        { 'x-aicb-attempts': attempts },
      );
      this.#count('upstream_error');
      return;
    }
    if (this.#dispatched > 0) {
      const timedOut =
        this.#lastTransport?.kind === 'failure' && this.#lastTransport.reason.endsWith('timeout');
      const code: SidecarErrorCode = timedOut
        ? 'AICB_UPSTREAM_TIMEOUT'
        : 'AICB_UPSTREAM_UNAVAILABLE';
      sendError(
        res,
        format,
        code,
        timedOut
          ? `No upstream answered in time (tried ${this.#attempts.join(', ')}).`
          : `No upstream could be reached or gave a usable answer (tried ${this.#attempts.join(', ')}).`,
        { 'x-aicb-attempts': attempts },
      );
      this.#count('upstream_error');
      return;
    }
    if (this.#connectionLimited > 0) {
      sendError(
        res,
        format,
        'AICB_CONNECTION_LIMIT',
        `Every connection the policy allows is busy (${this.#attempts.join(', ')}).`,
        { 'x-aicb-attempts': attempts },
      );
      this.#count('connection_limited');
      return;
    }
    const retryAfterMs = Number.isFinite(this.#retryAfterMs)
      ? this.#retryAfterMs
      : DEFAULT_RETRY_AFTER_MS;
    const skippedOnly = this.#attempts.every((a) => a.includes(':skipped-'));
    sendError(
      res,
      format,
      skippedOnly ? 'AICB_NO_TARGET' : 'AICB_CIRCUIT_OPEN',
      skippedOnly
        ? `No target can serve this request (${this.#attempts.join(', ')}).`
        : `Circuit open for ${this.#requested.name} and every fallback (${this.#attempts.join(', ')}); not calling them.`,
      {
        'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
        'x-aicb-attempts': attempts,
      },
    );
    this.#count('short_circuited');
    if (!skippedOnly) this.#ctx.onAllTargetsOpen?.(this.#requested.name, endpoint, attempts);
  }
}

function attemptLabel(outcome: AttemptOutcome, held: HeldResponse | undefined): string {
  if (held !== undefined && held.status !== 200) return String(held.status);
  if (outcome.kind === 'failure') return outcome.reason;
  return outcome.kind;
}
