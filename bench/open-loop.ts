// Open-loop load generator for `npm run bench`: sends requests on a fixed timetable (request i is
// due at t0 + i / rate) whether or not earlier ones have answered, and measures each latency from
// the time the request was DUE, not from when it was actually sent. A stalled target therefore
// shows its stall in every request scheduled during it (no coordinated omission).
//
// Runs in a process of its own (single-threaded, one undici Pool) and prints one JSON line
// (OpenLoopResult) on stdout. Latencies are in milliseconds.
//
//   node bench/open-loop.ts --url http://127.0.0.1:PORT/v1/chat/completions --rate 500 \
//     --warmup 3 --duration 15 [--count N] [--connections 64] [--body JSON] \
//     [--header 'name: value']... [--first-byte] [--samples]
//
// --first-byte: the latency ends at the first response body byte (time to first byte of a
// stream); otherwise it ends when the whole response has arrived. --count overrides --duration.
// --samples adds every measured sample to the output, so runs can be pooled.
//
// Timer precision: Node timers have 1 ms granularity, so a request can leave up to about 1 ms
// after it was due. That lag is part of the reported latency (it is the same for every target
// measured with this generator) and is reported separately as `lag`, next to `service` (latency
// from the actual send), so its share can be seen.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';
import { percentiles, type Percentiles } from './percentiles.ts';

export interface OpenLoopResult {
  readonly url: string;
  readonly rate: number;
  /** Requests in the measured phase (after the warm-up). */
  readonly measured: number;
  /** Measured requests that got a complete response. */
  readonly completed: number;
  /** Measured requests that failed at the transport level or never finished. */
  readonly errors: number;
  readonly statuses: Record<string, number>;
  /** Due time → first byte (--first-byte) or → complete response. */
  readonly latency: Percentiles;
  /** Actual send → same end point. */
  readonly service: Percentiles;
  /** Actual send − due time (generator timer lag). */
  readonly lag: Percentiles;
  /** Rate actually achieved over the measured phase, requests/s. */
  readonly achievedRate: number;
  /** Every measured sample, with --samples (null for failed requests). */
  readonly samples?: {
    readonly latency: readonly (number | null)[];
    readonly service: readonly (number | null)[];
    readonly lag: readonly (number | null)[];
  };
}

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    rate: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '3' },
    duration: { type: 'string', default: '15' },
    count: { type: 'string' },
    connections: { type: 'string', default: '64' },
    body: { type: 'string' },
    header: { type: 'string', multiple: true, default: [] },
    'first-byte': { type: 'boolean', default: false },
    'drain-timeout': { type: 'string', default: '10' },
    samples: { type: 'boolean', default: false },
  },
});

if (values.url === undefined) {
  console.error('open-loop: --url is required');
  process.exit(2);
}
const target = new URL(values.url);
const rate = Number(values.rate);
const warmupCount = Math.round(Number(values.warmup) * rate);
const measuredCount =
  values.count === undefined ? Math.round(Number(values.duration) * rate) : Number(values.count);
const total = warmupCount + measuredCount;
const firstByte = values['first-byte'];
const drainTimeoutMs = Number(values['drain-timeout']) * 1000;
const body = values.body === undefined ? undefined : Buffer.from(values.body);
const headers: Record<string, string> = {};
for (const line of values.header) {
  const colon = line.indexOf(':');
  if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
}
if (body !== undefined) {
  headers['content-type'] ??= 'application/json';
  headers['content-length'] = String(body.length);
}
const method = body === undefined ? 'GET' : 'POST';
const path = target.pathname + target.search;

const pool = new Pool(target.origin, {
  connections: Number(values.connections),
  pipelining: 1,
  keepAliveTimeout: 60_000,
});

// Measured samples, indexed by (request index − warmupCount); NaN until known.
const latency = new Float64Array(measuredCount).fill(Number.NaN);
const service = new Float64Array(measuredCount).fill(Number.NaN);
const lag = new Float64Array(measuredCount);
const statuses: Record<string, number> = {};
let settled = 0;
let errors = 0;
let completed = 0;
let firstMeasuredSend = 0;
let lastMeasuredSend = 0;

class Probe implements Dispatcher.DispatchHandler {
  readonly #slot: number;
  readonly #due: number;
  readonly #sent: number;
  #status = 0;
  #seenByte = false;

  constructor(index: number, due: number, sent: number) {
    this.#slot = index - warmupCount;
    this.#due = due;
    this.#sent = sent;
  }

  // undici requires every handler to have this, even one with nothing to do.
  onRequestStart(): void {
    return;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#status = statusCode;
  }

  onResponseData(): void {
    if (firstByte && !this.#seenByte) {
      this.#seenByte = true;
      this.#record(performance.now());
    }
  }

  onResponseEnd(): void {
    const now = performance.now();
    if (!firstByte || !this.#seenByte) this.#record(now);
    if (this.#slot >= 0) {
      completed++;
      const key = String(this.#status);
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
    done();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#slot >= 0) {
      errors++;
      latency[this.#slot] = Number.NaN;
      const key = `error:${(error as { code?: string }).code ?? error.name}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
    done();
  }

  #record(now: number): void {
    if (this.#slot < 0) return;
    latency[this.#slot] = now - this.#due;
    service[this.#slot] = now - this.#sent;
  }
}

function send(index: number, due: number): void {
  const sent = performance.now();
  if (index >= warmupCount) {
    lag[index - warmupCount] = sent - due;
    if (index === warmupCount) firstMeasuredSend = sent;
    lastMeasuredSend = sent;
  }
  pool.dispatch(
    { origin: target.origin, path, method, headers, body: body ?? null },
    new Probe(index, due, sent),
  );
}

const intervalMs = 1000 / rate;
const t0 = performance.now() + 5;
let next = 0;

function tick(): void {
  const now = performance.now();
  while (next < total && t0 + next * intervalMs <= now) {
    send(next, t0 + next * intervalMs);
    next++;
  }
  if (next < total) {
    setTimeout(tick, Math.max(0, t0 + next * intervalMs - performance.now()));
  } else {
    drainTimer = setTimeout(finish, drainTimeoutMs);
  }
}

let drainTimer: NodeJS.Timeout | undefined;
let finished = false;

function done(): void {
  settled++;
  if (settled === total) finish();
}

function finish(): void {
  if (finished) return;
  finished = true;
  if (drainTimer !== undefined) clearTimeout(drainTimer);
  const unfinished = measuredCount - completed - errors;
  const result: OpenLoopResult = {
    url: target.href,
    rate,
    measured: measuredCount,
    completed,
    errors: errors + unfinished,
    statuses: unfinished > 0 ? { ...statuses, unfinished } : statuses,
    latency: percentiles(latency),
    service: percentiles(service),
    lag: percentiles(lag),
    achievedRate:
      measuredCount > 1 ? ((measuredCount - 1) * 1000) / (lastMeasuredSend - firstMeasuredSend) : 0,
    ...(values.samples
      ? { samples: { latency: [...latency], service: [...service], lag: [...lag] } }
      : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  void pool.destroy().then(() => process.exit(0));
}

setTimeout(tick, 5);
