/**
 * The request path of the sidecar (DESIGN section 2): route the app's request to its upstream,
 * build the attempt chain (the upstream, then its fallbacks), skip targets whose circuit is
 * open without calling them, fall over on failures that happened before any byte reached the
 * app, and otherwise fail fast in the app's own API format.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Ticket } from '../../breaker/breaker-ticket.ts';
import type { CircuitBreaker } from '../../breaker/circuit-breaker.ts';
import type { CompiledUpstream, PolicySnapshot } from '../../policy/snapshot.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/create-logger.ts';
import type { AttemptOutcome } from '../classify-outcome.ts';
import {
  errorBody,
  retryHeaders,
  statusOf,
  type ClientFormat,
  type SidecarErrorCode,
} from '../client-errors.ts';
import type { SidecarMetrics } from '../sidecar-metrics.ts';
import {
  formatOf,
  type ClientRequest,
  type SkipReason,
  type UpstreamRequest,
} from '../providers/upstream-request.ts';
import {
  azureDeploymentOf,
  endpointOf,
  routeRequest,
  type RequestRoute,
} from '../request-route.ts';
import type { SidecarRuntime } from '../sidecar-runtime.ts';
import { replayAsStream } from '../providers/replay-as-stream.ts';
import { retryPlan } from '../retry/retry-delay.ts';
import { planChain } from './chain-plan.ts';
import { recordUsage, UsageMeter } from './usage-meter.ts';
import { runAttempt, type AttemptTimings, type HeldResponse } from './upstream-attempt.ts';

export interface ProxyContext {
  readonly runtime: SidecarRuntime;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Told when a request found every target of its chain open (an alertable moment). */
  readonly onAllTargetsOpen?: (upstream: string, endpoint: string, attempts: string) => void;
}

/** Response headers that describe one hop and must not be forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Retry-After suggested when every circuit is open but none reported a deadline. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** Handles one request whose body (if any) has been read into `body`. */
export async function handleProxyRequest(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer | undefined,
): Promise<void> {
  const url = req.url ?? '/';
  const snapshot = ctx.runtime.snapshot;
  if (snapshot === undefined) {
    sendError(res, guessFormat(url), 'AICB_NO_POLICY', 'The sidecar has no policy yet.');
    return;
  }
  const route = routeRequest(url, ctx.runtime.upstreamNames, snapshot.defaultUpstream);
  const requested = route === undefined ? undefined : ctx.runtime.upstream(route.upstream);
  if (route === undefined || requested === undefined) {
    const names = [...ctx.runtime.upstreamNames].join(', ');
    sendError(
      res,
      guessFormat(url),
      'AICB_UNKNOWN_UPSTREAM',
      `No upstream matches this path. Configured upstreams: ${names}. Use /{upstream}/... or /v1/... for the default (${snapshot.defaultUpstream}).`,
    );
    ctx.metrics.requests.inc({
      upstream: 'unknown',
      endpoint: endpointOf(url),
      result: 'rejected',
    });
    return;
  }
  const format = formatOf(requested.provider);
  const client = readClientRequest(req, route, body, format);
  if (client === undefined) {
    sendError(res, format, 'AICB_INVALID_JSON', 'The request body is not valid JSON.');
    ctx.metrics.requests.inc({
      upstream: route.upstream,
      endpoint: route.endpoint,
      result: 'rejected',
    });
    return;
  }
  await new ChainRun(ctx, snapshot, res, route, requested, client).run();
}

/** Parses what the chain needs from the body; undefined when a JSON body does not parse. */
function readClientRequest(
  req: IncomingMessage,
  route: RequestRoute,
  body: Buffer | undefined,
  format: ClientFormat,
): ClientRequest | undefined {
  let json: Record<string, unknown> | undefined;
  const hasBody = body !== undefined && body.length > 0;
  const contentType = req.headers['content-type'] ?? '';
  if (hasBody && (contentType === '' || contentType.includes('json'))) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        json = parsed as Record<string, unknown>;
      }
    } catch {
      return undefined;
    }
  }
  const bodyModel = json?.model;
  return {
    method: req.method ?? 'GET',
    path: route.path,
    headers: req.headers,
    body: hasBody ? body : null,
    json,
    model: typeof bodyModel === 'string' ? bodyModel : azureDeploymentOf(route.path),
    stream: json?.stream === true,
    format,
  };
}

/** One request's walk down its chain. */
class ChainRun {
  readonly #ctx: ProxyContext;
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
  #retryAfterMs = Number.POSITIVE_INFINITY;
  #dispatched = 0;
  readonly #cacheKey: string | undefined;

  constructor(
    ctx: ProxyContext,
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
    this.#cacheKey = ctx.runtime.cache.keyFor(
      requested.name,
      client.format,
      route.path,
      client.json,
    );
  }

  async run(): Promise<void> {
    const { runtime, clock } = this.#ctx;
    const endpoint = this.#route.endpoint;
    const steps = planChain({
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
      const served = await this.#try(step.request, step.isFallback);
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
  async #try(request: UpstreamRequest, isFallback: boolean): Promise<boolean> {
    const { runtime, metrics } = this.#ctx;
    const name = request.upstream.name;
    const endpoint = this.#route.endpoint;
    const retry = this.#snapshot.retry;
    const budget = retry.attempts > 0 ? runtime.retryBudget(name) : undefined;
    budget?.recordRequest();
    for (let attempt = 1; ; attempt++) {
      const result = await this.#attemptOnce(request, isFallback);
      if (result === 'served') return true;
      if (result === 'rejected') return false;
      // A failure before the first byte: maybe retry the same target.
      if (budget === undefined || result.outcome.kind !== 'failure') return false;
      // If that failure opened the circuit, a retry would only wait out its backoff to be
      // rejected: go down the chain now.
      if (this.#circuitOpen(request)) {
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
        metrics.requests.inc({ upstream: this.#requested.name, endpoint, result: 'cancelled' });
        return true;
      }
    }
  }

  /** The breaker that guards this target for this request's endpoint (and model, if keyed so). */
  #breakerFor(request: UpstreamRequest): CircuitBreaker {
    const { circuits } = this.#ctx.runtime;
    return circuits.breaker(
      circuits.keyFor(request.upstream.name, this.#route.endpoint, request.model),
    );
  }

  /** Whether the target's circuit refuses calls now (open or forced open). */
  #circuitOpen(request: UpstreamRequest): boolean {
    const { state } = this.#breakerFor(request).getState();
    return state === 'open' || state === 'forced_open';
  }

  /** One attempt on one target. */
  async #attemptOnce(
    request: UpstreamRequest,
    isFallback: boolean,
  ): Promise<'served' | 'rejected' | { readonly outcome: AttemptOutcome }> {
    const { runtime, metrics, clock } = this.#ctx;
    const name = request.upstream.name;
    const endpoint = this.#route.endpoint;
    const breaker = this.#breakerFor(request);
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
    this.#dispatched++;
    const ticket: Ticket = admission;
    const meter = new UsageMeter({
      upstream: formatOf(request.upstream.provider),
      client: this.#client.format,
    });
    const result = await runAttempt({
      dispatcher: runtime.dispatcher(request.upstream),
      request,
      firstByteTimeoutMs: request.upstream.timeouts.firstByteMs,
      idleTimeoutMs: request.upstream.timeouts.idleMs,
      totalTimeoutMs: request.upstream.timeouts.totalMs,
      failOn: this.#snapshot.failOn,
      clientFormat: this.#client.format,
      upstreamFormat: formatOf(request.upstream.provider),
      adapter: request.adapter,
      capture: (status, contentType, body) => {
        meter.body(body);
        this.#cacheAnswer(request, status, contentType, body);
      },
      observeChunk: meter.observe,
      res: this.#res,
      clock,
      commit: (status, headers) => {
        this.#attempts.push(`${name}:${status}`);
        this.#writeHead(status, headers, request, isFallback);
      },
      onFinished: (outcome, timings) => {
        this.#record(breaker, ticket, name, outcome, timings);
        const usage = outcome.kind === 'success' ? meter.usage() : undefined;
        if (usage !== undefined) {
          recordUsage(
            {
              metrics,
              snapshot: this.#snapshot,
              modelNames: runtime.modelNames,
              requestedUpstream: this.#requested.name,
              requestedModel: this.#client.model,
            },
            { upstream: name, model: request.model, isFallback },
            usage,
          );
        }
      },
    });
    if (result.kind !== 'failed') this.#logRequest(result.kind, name);
    switch (result.kind) {
      case 'committed':
        metrics.requests.inc({
          upstream: this.#requested.name,
          endpoint,
          result: isFallback ? 'fallback' : 'ok',
        });
        if (isFallback)
          metrics.fallbacks.inc({ from: this.#requested.name, to: name, result: 'success' });
        return 'served';
      case 'cancelled':
        metrics.requests.inc({ upstream: this.#requested.name, endpoint, result: 'cancelled' });
        return 'served';
      case 'failed':
        this.#attempts.push(`${name}:${attemptLabel(result.outcome, result.held)}`);
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

  /** Waits between retries; returns early when the app goes away. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const res = this.#res;
      function done(): void {
        clearTimeout(timer);
        res.removeListener('close', done);
        resolve();
      }
      res.once('close', done);
    });
  }

  #record(
    breaker: ReturnType<SidecarRuntime['circuits']['breaker']>,
    ticket: Ticket,
    name: string,
    outcome: AttemptOutcome,
    timings: AttemptTimings,
  ): void {
    const { metrics } = this.#ctx;
    const endpoint = this.#route.endpoint;
    const slowMeasureMs = timings.ttfbMs ?? timings.durationMs;
    switch (outcome.kind) {
      case 'success':
        breaker.recordSuccess(ticket, slowMeasureMs);
        break;
      case 'failure':
        breaker.recordFailure(ticket, slowMeasureMs, outcome.retryAfterMs ?? 0, outcome.soft);
        this.#ctx.runtime.failureLatency.record(name, timings.durationMs);
        metrics.circuitFailures.inc({ provider: name, endpoint, reason: outcome.reason });
        break;
      case 'ignored':
        breaker.recordIgnored(ticket);
        break;
    }
    metrics.upstreamDuration.observe(
      { provider: name, endpoint, outcome: outcome.kind },
      timings.durationMs / 1000,
    );
    if (timings.ttfbMs !== undefined) {
      metrics.timeToFirstByte.observe({ provider: name, endpoint }, timings.ttfbMs / 1000);
    }
  }

  /** Stores a successful non-streaming answer for last-resort use, when the policy caches. */
  #cacheAnswer(request: UpstreamRequest, status: number, contentType: string, body: Buffer): void {
    const key = this.#cacheKey;
    if (key === undefined || this.#client.stream) return;
    this.#ctx.runtime.cache.set(key, {
      status,
      contentType,
      body,
      upstream: request.upstream.name,
      model: request.model,
    });
  }

  /** Answers from the last-resort cache; false when it has nothing fresh for this request. */
  #serveCached(): boolean {
    const key = this.#cacheKey;
    const entry = key === undefined ? undefined : this.#ctx.runtime.cache.get(key);
    if (entry === undefined) return false;
    const includeUsage =
      (this.#client.json?.stream_options as { include_usage?: unknown } | undefined)
        ?.include_usage === true;
    const replay = this.#client.stream
      ? replayAsStream(this.#client.format, entry.body, includeUsage)
      : undefined;
    if (this.#client.stream && replay === undefined) return false;
    const ageSeconds = Math.max(0, Math.floor((this.#ctx.clock.nowMs() - entry.storedAtMs) / 1000));
    const body = replay === undefined ? entry.body : Buffer.from(replay);
    this.#res.writeHead(entry.status, {
      'content-type': replay === undefined ? entry.contentType : 'text/event-stream; charset=utf-8',
      'content-length': String(body.length),
      'x-aicb-cache': 'stale',
      age: String(ageSeconds),
      'x-aicb-upstream': entry.upstream,
      ...(entry.model === undefined ? {} : { 'x-aicb-model': entry.model }),
      'x-aicb-attempts': this.#attempts.join(','),
    });
    this.#res.end(body);
    this.#ctx.metrics.requests.inc({
      upstream: this.#requested.name,
      endpoint: this.#route.endpoint,
      result: 'cached',
    });
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

  #writeHead(
    status: number,
    upstreamHeaders: Record<string, string | string[] | undefined>,
    request: UpstreamRequest,
    isFallback: boolean,
  ): void {
    const headers: Record<string, string | string[]> = {};
    for (const name in upstreamHeaders) {
      const value = upstreamHeaders[name];
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['x-aicb-upstream'] = request.upstream.name;
    if (request.model !== undefined) headers['x-aicb-model'] = request.model;
    headers['x-aicb-attempts'] = this.#attempts.join(',');
    if (isFallback)
      headers['x-aicb-fallback'] = `${this.#requested.name}->${request.upstream.name}`;
    this.#res.writeHead(status, headers);
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
    const { metrics } = this.#ctx;
    const endpoint = this.#route.endpoint;
    const res = this.#res;
    if (this.#held !== undefined) {
      // The upstream's own error is the most honest answer (the call that trips returns its
      // real result), marked with what was tried.
      const held = this.#held;
      const headers: Record<string, string | string[]> = {};
      for (const name in held.headers) {
        const value = held.headers[name];
        if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'content-length')
          headers[name] = value;
      }
      headers['x-aicb-upstream'] = this.#heldFrom ?? this.#requested.name;
      headers['x-aicb-attempts'] = this.#attempts.join(',');
      headers['content-length'] = String(held.body.length);
      res.writeHead(held.status, headers);
      res.end(held.body);
      metrics.requests.inc({ upstream: this.#requested.name, endpoint, result: 'upstream_error' });
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
        this.#client.format,
        code,
        timedOut
          ? `No upstream answered in time (tried ${this.#attempts.join(', ')}).`
          : `No upstream could be reached (tried ${this.#attempts.join(', ')}).`,
        { 'x-aicb-attempts': this.#attempts.join(',') },
      );
      metrics.requests.inc({ upstream: this.#requested.name, endpoint, result: 'upstream_error' });
      return;
    }
    const retryAfterMs = Number.isFinite(this.#retryAfterMs)
      ? this.#retryAfterMs
      : DEFAULT_RETRY_AFTER_MS;
    const skippedOnly = this.#attempts.every((a) => a.includes(':skipped-'));
    sendError(
      res,
      this.#client.format,
      skippedOnly ? 'AICB_NO_TARGET' : 'AICB_CIRCUIT_OPEN',
      skippedOnly
        ? `No target can serve this request (${this.#attempts.join(', ')}).`
        : `Circuit open for ${this.#requested.name} and every fallback (${this.#attempts.join(', ')}); not calling them.`,
      {
        'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
        'x-aicb-attempts': this.#attempts.join(','),
      },
    );
    metrics.requests.inc({ upstream: this.#requested.name, endpoint, result: 'short_circuited' });
    if (!skippedOnly)
      this.#ctx.onAllTargetsOpen?.(this.#requested.name, endpoint, this.#attempts.join(','));
  }
}

function attemptLabel(outcome: AttemptOutcome, held: HeldResponse | undefined): string {
  if (held !== undefined && held.status !== 200) return String(held.status);
  if (outcome.kind === 'failure') return outcome.reason;
  return outcome.kind;
}

/** API format to answer in when the request could not be routed to an upstream. */
export function guessFormat(url: string): ClientFormat {
  const queryAt = url.indexOf('?');
  return (queryAt === -1 ? url : url.slice(0, queryAt)).endsWith('/messages')
    ? 'anthropic'
    : 'openai';
}

/** Writes a sidecar error in the caller's format. */
export function sendError(
  res: ServerResponse,
  format: ClientFormat,
  code: SidecarErrorCode,
  message: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(format, code, message);
  res.writeHead(statusOf(code), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-aicb-error': code,
    ...retryHeaders(code),
    ...extraHeaders,
  });
  res.end(body);
}
