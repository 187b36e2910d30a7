// `npm run bench:outage`: a 60-second outage replay. Steady open-loop load (RATE req/s of
// non-streaming chat completions for gpt-4o) runs for DURATION_S seconds; from OUTAGE_START_S to
// OUTAGE_END_S the primary (an OpenAI-style fake provider) answers every call 503 after 200–800 ms,
// like an overloaded provider; otherwise it answers in 100–300 ms. The replay runs three times:
//
//   baseline      load generator → primary directly (what the app sees without the sidecar)
//   no retries    load generator → sidecar (dist/, real CLI) → primary, fallback anthropic
//   retries       the same with spec.retry (attempts 2, server_error and overloaded, backoff
//                 100 ms–1 s, budget 20 % over 10 s, at least 3)
//
// The fallback is an Anthropic-style fake provider (modelMap gpt-4o → claude-sonnet-4-6, key from
// the sidecar's environment); breaker defaults except recoveryTimeout 5s, default price table.
// Each fake provider runs in a process of its own (this file with --role provider) and counts the
// calls it receives, by mode (ok / failing); the load generator (this file with --role load, an
// open loop like bench/open-loop.ts: fixed timetable, latency from the due time, undici Pool) also
// switches the primary into and out of the outage on its own timetable, and records status and
// aicb headers of every answer. The driver polls /health/circuit-breakers every 250 ms during the
// run and reads the sidecar's /metrics before (after a short warm-up) and after it; sidecar
// figures are the difference.
//
// Every number in the table is measured by the run: counted at the providers, seen by the load
// generator, or read from the sidecar's /metrics. Token counts come from the fake providers'
// usage objects (12 input tokens, ANSWER_WORDS output tokens per answer), priced with the
// bundled default table, so cost figures show the mechanism, not a real bill. The fake provider's
// latency knob paces every chunk of a stream, so there is no streaming share in the load.
//
// Every process binds 127.0.0.1, is started here and stopped by PID (also on Ctrl-C). dist/ is
// rebuilt with tsc at the start (AICB_BENCH_SKIP_BUILD=1 skips that). Prints a table and appends a
// dated section to bench/outage-results.md. Takes about three and a half minutes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { startFakeProvider, type FakeApi } from '../test/support/fake-provider.ts';
import {
  ChildProcesses,
  startSidecar as startSidecarFrom,
  type Sidecar,
} from './child-processes.ts';
import { percentiles, type Percentiles } from './percentiles.ts';
import { foreignLoad as foreignLoadOf } from './proc-stats.ts';
import { appendResults, buildDist, machine, revision, table, waitForQuiet } from './run-context.ts';

// ---------------------------------------------------------------------------------------------
// Parameters

const RATE = 50;
const DURATION_S = 60;
const OUTAGE_START_S = 15;
const OUTAGE_END_S = 45;
/** Latency of a normal answer and of a failure during the outage, drawn uniformly, ms. */
const OK_DELAY_MS = [100, 300] as const;
const FAIL_DELAY_MS = [200, 800] as const;
/** Output tokens of every answer (the fake reports one token per word). */
const ANSWER_WORDS = 60;
const CONNECTIONS = 256;
const WARMUP_REQUESTS = 40;
const RECOVERY_TIMEOUT = '5s';
const HEALTH_POLL_MS = 250;
const REQUESTED_MODEL = 'gpt-4o';
const FALLBACK_MODEL = 'claude-sonnet-4-6';
const SIDECAR_FLAGS = ['--max-semi-space-size=8'];
const RETRY = {
  attempts: 2,
  retryOn: ['server_error', 'overloaded'],
  backoff: { base: '100ms', max: '1s' },
  budget: { percent: 20, window: '10s', minRetries: 3 },
} as const;
const WATCHDOG_MS = 5 * 60_000;
const QUIET_WAIT_MS = 20_000;
/** Foreign CPU (cores) above which a run is flagged. */
const FOREIGN_WARN_CORES = 0.1;

const ROOT = resolve(import.meta.dirname, '..');
const SELF = import.meta.filename;
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
const RESULTS_FILE = join(ROOT, 'bench', 'outage-results.md');
const SKIP_BUILD = process.env.AICB_BENCH_SKIP_BUILD === '1';

/** A small support-bot request, as an app would send it (its own key rides along). */
const REQUEST_BODY = JSON.stringify({
  model: REQUESTED_MODEL,
  max_tokens: 300,
  temperature: 0.2,
  messages: [
    {
      role: 'system',
      content:
        'You are the support assistant of an online shop. Answer in at most three sentences, ' +
        "in the customer's language. Never invent order data; if you do not know, say so and " +
        'offer to hand over to a human agent.',
    },
    {
      role: 'user',
      content:
        'My order #48213 was marked as delivered yesterday, but the parcel is not here and the ' +
        'neighbours have not seen it. What should I do?',
    },
  ],
});
const CLIENT_HEADERS = {
  authorization: 'Bearer sk-bench-client-own-key',
  'content-type': 'application/json',
} as const;

type Mode = 'ok' | 'fail';

interface ProviderStats {
  readonly mode: Mode;
  readonly calls: Record<Mode, number>;
}

interface ProviderOrigins {
  readonly url: string;
  readonly control: string;
}

/** One answer the load generator saw. */
interface Sample {
  /** Due time, seconds from the start of the timetable. */
  readonly due: number;
  /** HTTP status; 0 when the request failed at the transport level or never finished. */
  readonly status: number;
  /** Due time → complete response, ms (NaN when it failed at the transport level). */
  readonly latencyMs: number;
  readonly upstream: string;
  readonly error: string;
  readonly fallback: boolean;
  readonly attempts: string;
}

interface LoadResult {
  readonly samples: readonly Sample[];
  readonly lag: Percentiles;
  readonly achievedRate: number;
  /** When the primary was switched (seconds from the start of the timetable). */
  readonly switches: readonly { readonly mode: Mode; readonly at: number }[];
}

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'driver' },
    api: { type: 'string', default: 'openai' },
    url: { type: 'string' },
    control: { type: 'string' },
  },
});

// ---------------------------------------------------------------------------------------------
// Role "provider": one fake provider, its delay drawn anew every millisecond, with a control
// port: GET /stats, POST /mode/fail, POST /mode/ok.

async function providerRole(api: FakeApi): Promise<void> {
  const fake = await startFakeProvider({ api, record: true, words: ANSWER_WORDS });
  let mode: Mode = 'ok';
  const calls: Record<Mode, number> = { ok: 0, fail: 0 };
  const uniform = ([lo, hi]: readonly [number, number]) =>
    Math.round(lo + Math.random() * (hi - lo));
  // Requests are recorded (and their behaviour chosen) synchronously on arrival, so every call
  // drained here arrived under the current mode.
  const drain = () => {
    calls[mode] += fake.requests.splice(0).length;
  };
  const draw = () => {
    fake.setDefault(
      mode === 'ok'
        ? { type: 'ok', delayMs: uniform(OK_DELAY_MS) }
        : { type: 'status', status: 503, delayMs: uniform(FAIL_DELAY_MS) },
    );
  };
  draw();
  const redraw = setInterval(() => {
    drain();
    draw();
  }, 1);

  const control = createHttpServer((req, res) => {
    const switchTo = /^\/mode\/(ok|fail)$/.exec(req.url ?? '')?.[1];
    if (req.method === 'POST' && (switchTo === 'ok' || switchTo === 'fail')) {
      drain();
      mode = switchTo;
      draw();
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method === 'GET' && req.url === '/stats') {
      drain();
      const stats: ProviderStats = { mode, calls };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  control.keepAliveTimeout = 60_000;
  await new Promise<void>((ok) => control.listen(0, '127.0.0.1', ok));
  const { port } = control.address() as AddressInfo;
  const origins: ProviderOrigins = { url: fake.url, control: `http://127.0.0.1:${port}` };
  process.stdout.write(`${JSON.stringify(origins)}\n`);

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    clearInterval(redraw);
    control.closeAllConnections();
    control.close();
    await fake.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

// ---------------------------------------------------------------------------------------------
// Role "load": the open-loop generator. Prints {"t0": epoch ms} when the timetable starts and
// one LoadResult line at the end.

async function loadRole(url: string, primaryControl: string): Promise<void> {
  const target = new URL(url);
  const path = target.pathname + target.search;
  const body = Buffer.from(REQUEST_BODY);
  const headers = { ...CLIENT_HEADERS, 'content-length': String(body.length) };
  const pool = new Pool(target.origin, {
    connections: CONNECTIONS,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const controlPool = new Pool(primaryControl, { connections: 2 });
  const requestCount = RATE * DURATION_S;
  const intervalMs = 1000 / RATE;
  const samples: (Sample | undefined)[] = new Array<Sample | undefined>(requestCount).fill(
    undefined,
  );
  const lag = new Float64Array(requestCount);
  const switches: { mode: Mode; at: number }[] = [];
  let settled = 0;
  let firstSend = 0;
  let lastSend = 0;

  const header = (h: Record<string, string | string[] | undefined>, name: string) => {
    const v = h[name];
    return Array.isArray(v) ? v.join(',') : (v ?? '');
  };

  class Probe implements Dispatcher.DispatchHandler {
    readonly #index: number;
    readonly #due: number;
    #status = 0;
    #headers: Record<string, string | string[] | undefined> = {};

    constructor(index: number, due: number) {
      this.#index = index;
      this.#due = due;
    }

    onRequestStart(): void {
      return;
    }

    onResponseStart(
      _controller: Dispatcher.DispatchController,
      statusCode: number,
      responseHeaders: Record<string, string | string[] | undefined>,
    ): void {
      this.#status = statusCode;
      this.#headers = responseHeaders;
    }

    onResponseData(): void {
      return;
    }

    onResponseEnd(): void {
      this.#settle(this.#status, performance.now() - this.#due);
    }

    onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
      this.#settle(0, Number.NaN, `transport:${(error as { code?: string }).code ?? error.name}`);
    }

    #settle(status: number, latencyMs: number, transportError?: string): void {
      samples[this.#index] = {
        due: (this.#index * intervalMs) / 1000,
        status,
        latencyMs,
        upstream: header(this.#headers, 'x-aicb-upstream'),
        error: transportError ?? header(this.#headers, 'x-aicb-error'),
        fallback: header(this.#headers, 'x-aicb-fallback') !== '',
        attempts: header(this.#headers, 'x-aicb-attempts'),
      };
      settled++;
      if (settled === requestCount) finish();
    }
  }

  const t0 = performance.now() + 20;
  const t0Epoch = Date.now() + 20;
  process.stdout.write(`${JSON.stringify({ t0: t0Epoch })}\n`);

  const switchAt = (mode: Mode, seconds: number) => {
    setTimeout(
      () => {
        const at = (performance.now() - t0) / 1000;
        controlPool
          .request({ path: `/mode/${mode}`, method: 'POST' })
          .then(async (res) => {
            await res.body.dump();
            switches.push({ mode, at });
          })
          .catch((error: unknown) => {
            console.error(`[load] switching the primary to ${mode} failed: ${String(error)}`);
          });
      },
      t0 + seconds * 1000 - performance.now(),
    );
  };
  switchAt('fail', OUTAGE_START_S);
  switchAt('ok', OUTAGE_END_S);

  let next = 0;
  const tick = () => {
    const now = performance.now();
    while (next < requestCount && t0 + next * intervalMs <= now) {
      const due = t0 + next * intervalMs;
      const sent = performance.now();
      lag[next] = sent - due;
      if (next === 0) firstSend = sent;
      lastSend = sent;
      pool.dispatch(
        { origin: target.origin, path, method: 'POST', headers, body },
        new Probe(next, due),
      );
      next++;
    }
    if (next < requestCount) {
      setTimeout(tick, Math.max(0, t0 + next * intervalMs - performance.now()));
    } else {
      drainTimer = setTimeout(finish, 15_000);
    }
  };
  let drainTimer: NodeJS.Timeout | undefined;
  let finished = false;

  function finish(): void {
    if (finished) return;
    finished = true;
    if (drainTimer !== undefined) clearTimeout(drainTimer);
    const result: LoadResult = {
      samples: samples.map(
        (s, i) =>
          s ?? {
            due: (i * intervalMs) / 1000,
            status: 0,
            latencyMs: Number.NaN,
            upstream: '',
            error: 'unfinished',
            fallback: false,
            attempts: '',
          },
      ),
      lag: percentiles(lag),
      achievedRate: requestCount > 1 ? ((requestCount - 1) * 1000) / (lastSend - firstSend) : 0,
      switches,
    };
    // Exit only once the (large) line has been handed over completely: the driver reads a pipe.
    process.stdout.write(`${JSON.stringify(result)}\n`, () => {
      void Promise.all([pool.destroy(), controlPool.destroy()]).then(() => process.exit(0));
    });
  }

  process.on('SIGTERM', () => process.exit(143));
  process.on('SIGINT', () => process.exit(130));
  await sleep(Math.max(0, t0 - performance.now()));
  tick();
}

// ---------------------------------------------------------------------------------------------
// Driver: processes. Every child is registered and stopped by PID in cleanup().

const processes = new ChildProcesses(ROOT, 'outage');
/** CPU used by processes this run did not start, from now until the returned function is called. */
const foreignLoad = () => foreignLoadOf(() => processes.pids());
const start = processes.start.bind(processes);
const stop = processes.stop.bind(processes);

let tmp: string | undefined;

async function cleanup(): Promise<void> {
  await processes.stopAll();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
}

const log = (line: string) => {
  console.error(`[outage ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

// ---------------------------------------------------------------------------------------------
// Prometheus text: series → value, and differences between two scrapes.

type Scrape = Map<string, number>;

function parseMetrics(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

async function scrape(adminUrl: string): Promise<Scrape> {
  return parseMetrics(await (await fetch(`${adminUrl}/metrics`)).text());
}

function difference(after: Scrape, before: Scrape): Scrape {
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}

interface Series {
  readonly labels: Record<string, string>;
  readonly value: number;
}

function series(m: Scrape, name: string, match: Record<string, string> = {}): Series[] {
  const out: Series[] = [];
  for (const [key, value] of m) {
    const brace = key.indexOf('{');
    if ((brace === -1 ? key : key.slice(0, brace)) !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of key.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) out.push({ labels, value });
  }
  return out;
}

const metricTotal = (m: Scrape, name: string, match: Record<string, string> = {}) =>
  series(m, name, match).reduce((n, s) => n + s.value, 0);

// ---------------------------------------------------------------------------------------------
// Driver: the runs

type RunName = 'baseline' | 'noRetries' | 'retries';

interface Transition {
  readonly at: number;
  readonly state: string;
}

interface RunResult {
  readonly name: RunName;
  readonly load: LoadResult;
  readonly primary: Record<Mode, number>;
  readonly fallbackCalls: number;
  /** Sidecar /metrics difference over the run (undefined for the baseline). */
  readonly metrics: Scrape | undefined;
  /** Primary circuit state changes seen by polling /health/circuit-breakers. */
  readonly transitions: readonly Transition[];
  readonly finalState: string | undefined;
  readonly foreignCores: number;
}

async function providerStats(p: ProviderOrigins): Promise<ProviderStats> {
  return (await (await fetch(`${p.control}/stats`)).json()) as ProviderStats;
}

function policyYaml(primary: ProviderOrigins, fallback: ProviderOrigins, retry: boolean): string {
  return stringify({
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata: { name: `outage-replay${retry ? '-retries' : ''}` },
    spec: {
      defaultUpstream: 'openai',
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: primary.url },
        {
          name: 'anthropic',
          provider: 'anthropic',
          baseURL: fallback.url,
          apiKey: { env: 'BENCH_ANTHROPIC_KEY' },
        },
      ],
      breaker: { recoveryTimeout: RECOVERY_TIMEOUT },
      fallbacks: [
        {
          from: 'openai',
          to: [{ upstream: 'anthropic', modelMap: { [REQUESTED_MODEL]: FALLBACK_MODEL } }],
        },
      ],
      ...(retry ? { retry: RETRY } : {}),
    },
  });
}

function startSidecar(policy: string): Promise<Sidecar> {
  return startSidecarFrom(processes, {
    name: 'sidecar',
    node: NODE,
    nodeFlags: SIDECAR_FLAGS,
    root: ROOT,
    policy,
    env: { BENCH_ANTHROPIC_KEY: 'sk-ant-bench-fallback-key' },
  });
}

/** A few requests through the sidecar before the measured run (connections, JIT). */
async function warmUp(url: string): Promise<void> {
  const one = async () => {
    const res = await fetch(url, { method: 'POST', headers: CLIENT_HEADERS, body: REQUEST_BODY });
    await res.arrayBuffer();
  };
  for (let i = 0; i < WARMUP_REQUESTS; i += 10) {
    await Promise.all(Array.from({ length: 10 }, one));
  }
}

async function replay(
  name: RunName,
  primary: ProviderOrigins,
  fallback: ProviderOrigins,
  dir: string,
): Promise<RunResult> {
  let sidecar: Sidecar | undefined;
  try {
    let url = `${primary.url}/v1/chat/completions`;
    let before: Scrape | undefined;
    if (name !== 'baseline') {
      const policy = join(dir, `${name}.yaml`);
      writeFileSync(policy, policyYaml(primary, fallback, name === 'retries'));
      sidecar = await startSidecar(policy);
      url = `${sidecar.url}/openai/v1/chat/completions`;
      await warmUp(url);
      await sleep(500);
      before = await scrape(sidecar.adminUrl);
    }
    const p0 = await providerStats(primary);
    const fb0 = await providerStats(fallback);
    if (p0.mode !== 'ok') throw new Error('the primary is still failing from an earlier run');

    log(
      `${name}: ${DURATION_S} s at ${RATE} req/s, primary failing ${OUTAGE_START_S}–${OUTAGE_END_S} s`,
    );
    const foreign = foreignLoad();
    const load = start(`load (${name})`, NODE, [
      SELF,
      '--role',
      'load',
      '--url',
      url,
      '--control',
      primary.control,
    ]);
    const { t0 } = JSON.parse(await processes.firstLine(load, 10_000)) as { t0: number };
    const transitions: Transition[] = [];
    let finalState: string | undefined;
    const poll = async () => {
      if (sidecar === undefined) return;
      const health = (await (
        await fetch(`${sidecar.adminUrl}/health/circuit-breakers`)
      ).json()) as { providers: Record<string, string> };
      const state = health.providers.openai ?? '?';
      if (state !== finalState) transitions.push({ at: (Date.now() - t0) / 1000, state });
      finalState = state;
    };
    const exited = load.exited.then(() => true);
    for (;;) {
      const [, done] = await Promise.all([
        poll(),
        Promise.race([exited, sleep(HEALTH_POLL_MS).then(() => false)]),
      ]);
      if (done) break;
    }
    const code = await load.exited;
    const foreignCores = foreign();
    if (code !== 0)
      throw new Error(`load generator exited with ${String(code)}:\n${load.output()}`);
    // JSON has no NaN: a failed request's latency arrives as null.
    const wire = JSON.parse(load.stdout().trim().split('\n').at(-1) ?? '{}') as Omit<
      LoadResult,
      'samples'
    > & { samples: (Omit<Sample, 'latencyMs'> & { latencyMs: number | null })[] };
    const result: LoadResult = {
      ...wire,
      samples: wire.samples.map((s) => ({ ...s, latencyMs: s.latencyMs ?? Number.NaN })),
    };
    const p1 = await providerStats(primary);
    const fb1 = await providerStats(fallback);
    const metrics =
      sidecar === undefined || before === undefined
        ? undefined
        : difference(await scrape(sidecar.adminUrl), before);
    return {
      name,
      load: result,
      primary: { ok: p1.calls.ok - p0.calls.ok, fail: p1.calls.fail - p0.calls.fail },
      fallbackCalls: fb1.calls.ok + fb1.calls.fail - (fb0.calls.ok + fb0.calls.fail),
      metrics,
      transitions,
      finalState,
      foreignCores,
    };
  } finally {
    if (sidecar !== undefined) await stop(sidecar.proc);
  }
}

interface Results {
  readonly startedAt: Date;
  readonly buildWarning: string | undefined;
  readonly quietBefore: number;
  readonly runs: readonly RunResult[];
}

async function measure(): Promise<Results> {
  const buildWarning = buildDist(ROOT, NODE, SKIP_BUILD, log);
  const quietBefore = await waitForQuiet(
    foreignLoad,
    { maxWaitMs: QUIET_WAIT_MS, quietCores: FOREIGN_WARN_CORES },
    log,
  );
  const startedAt = new Date();
  tmp = mkdtempSync(join(tmpdir(), 'aicb-outage-'));
  log('starting the fake providers');
  const primaryProc = start('primary (openai)', NODE, [
    SELF,
    '--role',
    'provider',
    '--api',
    'openai',
  ]);
  const fallbackProc = start('fallback (anthropic)', NODE, [
    SELF,
    '--role',
    'provider',
    '--api',
    'anthropic',
  ]);
  const primary = JSON.parse(await processes.firstLine(primaryProc, 10_000)) as ProviderOrigins;
  const fallback = JSON.parse(await processes.firstLine(fallbackProc, 10_000)) as ProviderOrigins;
  const runs: RunResult[] = [];
  for (const name of ['baseline', 'noRetries', 'retries'] as const) {
    runs.push(await replay(name, primary, fallback, tmp));
    await sleep(1000);
  }
  return { startedAt, buildWarning, quietBefore, runs };
}

// ---------------------------------------------------------------------------------------------
// Report

type Phase = 'before' | 'outage' | 'after';
const PHASES: Record<Phase, readonly [number, number]> = {
  before: [0, OUTAGE_START_S],
  outage: [OUTAGE_START_S, OUTAGE_END_S],
  after: [OUTAGE_END_S, DURATION_S],
};
const inPhase = (s: Sample, p: Phase) => s.due >= PHASES[p][0] && s.due < PHASES[p][1];
const answered = (s: Sample) => s.status >= 200 && s.status < 300;

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const usd = (n: number) => (Number.isFinite(n) ? `$${n.toFixed(4)}` : 'n/a');
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : 'n/a');

function statusText(samples: readonly Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) {
    const key = s.status === 0 ? s.error : `${s.status}${s.error === '' ? '' : ` ${s.error}`}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ×${int(v)}`)
    .join(', ');
}

/** The most frequent x-aicb-attempts values, with counts. */
function attemptPatterns(samples: readonly Sample[], top: number): string {
  const counts = new Map<string, number>();
  for (const s of samples) {
    if (s.attempts !== '') counts.set(s.attempts, (counts.get(s.attempts) ?? 0) + 1);
  }
  if (counts.size === 0) return '—';
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `\`${k}\` ×${int(v)}`)
    .join(', ');
}

function latency(samples: readonly Sample[]): string {
  const p = percentiles(samples.map((s) => s.latencyMs));
  return `${f0(p.p50)} / ${f0(p.p99)}`;
}

function transitionsText(r: RunResult): string {
  if (r.metrics === undefined) return '—';
  const seen = r.transitions.filter((t, i) => i > 0 || t.state !== 'closed');
  if (seen.length === 0) return 'stayed closed';
  return seen.map((t) => `${t.state.replace('_', '-')} ${f1(t.at)} s`).join(' → ');
}

function byLabels(m: Scrape, name: string, keys: readonly string[], value = usd): string {
  const rows = series(m, name).filter((s) => s.value !== 0);
  if (rows.length === 0) return '0';
  return rows
    .map((s) => `${keys.map((k) => s.labels[k] ?? '?').join(' → ')} ${value(s.value)}`)
    .join('; ');
}

function report(r: Results): string {
  const cols = r.runs;
  const name: Record<RunName, string> = {
    baseline: 'no sidecar (direct)',
    noRetries: 'sidecar, no retries',
    retries: 'sidecar, retries',
  };
  const phase = (x: RunResult, p: Phase) => x.load.samples.filter((s) => inPhase(s, p));
  const m = (x: RunResult, f: (metrics: Scrape) => string) =>
    x.metrics === undefined ? '—' : f(x.metrics);
  const errorsIn = (samples: readonly Sample[]) => samples.filter((s) => !answered(s));
  const waitedOnErrors = (x: RunResult) =>
    errorsIn(phase(x, 'outage')).reduce(
      (n, s) => n + (Number.isFinite(s.latencyMs) ? s.latencyMs : 0),
      0,
    ) / 1000;
  const openDuration = (metrics: Scrape) => {
    const count = metricTotal(metrics, 'aicb_circuit_open_duration_seconds_count', {
      provider: 'openai',
    });
    const sum = metricTotal(metrics, 'aicb_circuit_open_duration_seconds_sum', {
      provider: 'openai',
    });
    return count === 0 ? 'no outage ended in the run' : `${f1(sum)} s over ${int(count)} outage(s)`;
  };
  const fallbackExtra = (metrics: Scrape) => {
    const paid = metricTotal(metrics, 'aicb_fallback_cost_usd_total');
    const requested = metricTotal(metrics, 'aicb_fallback_requested_cost_usd_total');
    return `${usd(paid)} vs ${usd(requested)} (extra ${usd(paid - requested)}, ${pct(paid - requested, requested)})`;
  };

  const rows: string[][] = [
    ['measurement', ...cols.map((x) => name[x.name])],
    [
      `requests sent, total / in the outage (${OUTAGE_START_S}–${OUTAGE_END_S} s)`,
      ...cols.map((x) => `${int(x.load.samples.length)} / ${int(phase(x, 'outage').length)}`),
    ],
    [
      '**calls reaching the dead primary** (counted by it, while failing)',
      ...cols.map(
        (x) =>
          `**${int(x.primary.fail)}** (${pct(x.primary.fail, phase(x, 'outage').length)} of the outage's requests)`,
      ),
    ],
    ['calls to the primary while healthy', ...cols.map((x) => int(x.primary.ok))],
    [
      '**requests answered by the fallback** (x-aicb-fallback), total / in the outage',
      ...cols.map(
        (x) =>
          `**${int(x.load.samples.filter((s) => s.fallback).length)}** / ${int(phase(x, 'outage').filter((s) => s.fallback).length)}`,
      ),
    ],
    ['calls counted by the fallback provider', ...cols.map((x) => int(x.fallbackCalls))],
    [
      '**fast fails to the app** (503 AICB_CIRCUIT_OPEN)',
      ...cols.map((x) => int(x.load.samples.filter((s) => s.error === 'AICB_CIRCUIT_OPEN').length)),
    ],
    [
      'primary attempts short-circuited, not sent (aicb_short_circuited_total)',
      ...cols.map((x) =>
        m(x, (mm) => int(metricTotal(mm, 'aicb_short_circuited_total', { provider: 'openai' }))),
      ),
    ],
    [
      '**errors returned to the app**, total / in the outage',
      ...cols.map(
        (x) =>
          `**${int(errorsIn(x.load.samples).length)}** / ${int(errorsIn(phase(x, 'outage')).length)}`,
      ),
    ],
    ['answers by status (whole run)', ...cols.map((x) => statusText(x.load.samples))],
    [
      'most frequent x-aicb-attempts in the outage',
      ...cols.map((x) => attemptPatterns(phase(x, 'outage'), 4)),
    ],
    [
      'app latency p50 / p99 (ms, from due time): before the outage',
      ...cols.map((x) => latency(phase(x, 'before'))),
    ],
    ['… during the outage', ...cols.map((x) => latency(phase(x, 'outage')))],
    ['… after the outage', ...cols.map((x) => latency(phase(x, 'after')))],
    [
      'time the app spent waiting for errors in the outage (sum of their latencies)',
      ...cols.map((x) => `${f1(waitedOnErrors(x))} s`),
    ],
    [
      'upstream time spent on failed primary calls (aicb_upstream_duration_seconds, failure)',
      ...cols.map((x) =>
        m(
          x,
          (mm) =>
            `${f1(metricTotal(mm, 'aicb_upstream_duration_seconds_sum', { provider: 'openai', outcome: 'failure' }))} s over ${int(metricTotal(mm, 'aicb_upstream_duration_seconds_count', { provider: 'openai', outcome: 'failure' }))} calls`,
        ),
      ),
    ],
    [
      '**time not spent waiting** (aicb_wait_avoided_seconds_total, openai)',
      ...cols.map((x) =>
        m(
          x,
          (mm) =>
            `**${f1(metricTotal(mm, 'aicb_wait_avoided_seconds_total', { provider: 'openai' }))} s**`,
        ),
      ),
    ],
    [
      'estimated cost by upstream / model (aicb_cost_usd_total)',
      ...cols.map((x) => m(x, (mm) => byLabels(mm, 'aicb_cost_usd_total', ['provider', 'model']))),
    ],
    [
      'tokens by upstream / kind (aicb_tokens_total)',
      ...cols.map((x) =>
        m(x, (mm) => byLabels(mm, 'aicb_tokens_total', ['provider', 'kind'], int)),
      ),
    ],
    [
      '**fallback cost vs the requested model** (aicb_fallback_cost_usd_total vs aicb_fallback_requested_cost_usd_total)',
      ...cols.map((x) => m(x, fallbackExtra)),
    ],
    [
      'circuit openings (aicb_circuit_openings_total, openai)',
      ...cols.map((x) =>
        m(x, (mm) => int(metricTotal(mm, 'aicb_circuit_openings_total', { provider: 'openai' }))),
      ),
    ],
    [
      'time open (aicb_circuit_open_duration_seconds, openai)',
      ...cols.map((x) => m(x, openDuration)),
    ],
    [
      `primary circuit seen by /health polling (every ${HEALTH_POLL_MS} ms; s from start)`,
      ...cols.map((x) =>
        x.metrics === undefined
          ? '—'
          : `${transitionsText(x)}${x.finalState === 'closed' ? '' : ` (still ${x.finalState ?? '?'} at the end)`}`,
      ),
    ],
    [
      'half-open probes started (state changes to half_open)',
      ...cols.map((x) =>
        m(x, (mm) =>
          int(
            metricTotal(mm, 'circuit_breaker_state_changes_total', {
              provider: 'openai',
              to_state: 'half_open',
            }),
          ),
        ),
      ),
    ],
    [
      'retry decisions (aicb_retries_total by result)',
      ...cols.map((x) =>
        m(x, (mm) => byLabels(mm, 'aicb_retries_total', ['provider', 'result'], int)),
      ),
    ],
    [
      'failures recorded for openai (circuit_breaker_failures_total)',
      ...cols.map((x) =>
        m(x, (mm) =>
          int(metricTotal(mm, 'circuit_breaker_failures_total', { provider: 'openai' })),
        ),
      ),
    ],
    [
      'outage switched on / off at (s, generator clock)',
      ...cols.map((x) =>
        x.load.switches
          .map((s) => `${s.mode === 'fail' ? 'on' : 'off'} ${s.at.toFixed(3)}`)
          .join(', '),
      ),
    ],
    [
      'achieved rate (req/s); generator lag p99 (ms)',
      ...cols.map((x) => `${x.load.achievedRate.toFixed(2)}; ${x.load.lag.p99.toFixed(2)}`),
    ],
    ['foreign CPU during the run (cores)', ...cols.map((x) => x.foreignCores.toFixed(2))],
  ];

  const foreignMax = Math.max(...cols.map((x) => x.foreignCores));
  const command = `${SKIP_BUILD ? 'AICB_BENCH_SKIP_BUILD=1 ' : ''}npm run bench:outage`;
  return [
    `## ${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- Command: \`${command}\``,
    `- Node ${spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()}; sidecar from dist/ (${SKIP_BUILD ? 'not rebuilt' : 'rebuilt with tsc at the start of the run'}), node flags \`${SIDECAR_FLAGS.join(' ')}\`, \`--log-level warn\``,
    `- Code: ${revision(ROOT)}${r.buildWarning === undefined ? '' : ` (${r.buildWarning})`}`,
    `- Machine: ${machine()}; load generator, fake providers and sidecar unpinned on the same cores`,
    `- Other load on the machine: at most ${foreignMax.toFixed(2)} cores during a run (${r.quietBefore.toFixed(2)} just before the start)${foreignMax > FOREIGN_WARN_CORES ? ' — **the machine was not quiet**' : ''}`,
    `- Load: open loop, ${RATE} req/s for ${DURATION_S} s, ${Buffer.byteLength(REQUEST_BODY)} B non-streaming chat request for \`${REQUESTED_MODEL}\`; primary answers in ${OK_DELAY_MS.join('–')} ms, and 503 after ${FAIL_DELAY_MS.join('–')} ms from ${OUTAGE_START_S} s to ${OUTAGE_END_S} s; fallback \`anthropic\` (\`${REQUESTED_MODEL}\` → \`${FALLBACK_MODEL}\`) answers in ${OK_DELAY_MS.join('–')} ms; every answer reports 12 input and ${ANSWER_WORDS} output tokens`,
    `- Policy: breaker defaults except \`recoveryTimeout: ${RECOVERY_TIMEOUT}\`; default price table; retries run: \`retry: ${JSON.stringify(RETRY)}\``,
    '',
    table(rows),
    '',
  ].join('\n');
}

const PREAMBLE = `# Outage replay results

Sections below are appended by \`npm run bench:outage\` (bench/outage-replay.ts), one per run, newest last. Every number in them was measured by that run
on the machine it names; none is edited by hand.

## The scenario (issue 8, "Tests and benchmark")

An app sends steady open-loop load — 50 non-streaming chat requests per second for \`gpt-4o\`,
each due on a fixed timetable whether or not earlier ones have answered — for 60 s. From 15 s to
45 s its provider (an OpenAI-style fake) fails every call with 503 after 200–800 ms, as an
overloaded provider does; otherwise it answers in 100–300 ms. The same replay runs three times:

- **no sidecar**: the app calls the provider directly (what it would see today);
- **sidecar, no retries**: through the sidecar, with a fallback to an Anthropic-style fake
  (\`gpt-4o\` → \`claude-sonnet-4-6\`), breaker defaults except \`recoveryTimeout: 5s\`, the
  bundled price table;
- **sidecar, retries**: the same plus \`spec.retry\` (2 attempts on \`server_error\` and
  \`overloaded\`, backoff 100 ms–1 s, retry budget 20 % over 10 s, at least 3).

Calls are counted by the fake providers themselves; answers (status, \`x-aicb-*\` headers,
latency from the due time) by the load generator; sidecar figures are the difference of its
\`/metrics\` between the start and the end of the run. Token counts are the fakes' (12 input and
60 output tokens per answer), so the cost rows show the mechanism at list prices, not a real bill.
`;

// ---------------------------------------------------------------------------------------------
// Entry

async function driver(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.error(`\n[outage] ${signal}: stopping every process started here`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    console.error(`[outage] still running after ${WATCHDOG_MS / 60_000} minutes: giving up`);
    void cleanup().finally(() => process.exit(1));
  }, WATCHDOG_MS);
  watchdog.unref();

  let results: Results;
  try {
    results = await measure();
  } catch (error) {
    console.error(
      `[outage] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    await cleanup();
    process.exit(1);
  } finally {
    await cleanup();
  }
  clearTimeout(watchdog);
  const section = report(results);
  console.log(`\n${section}`);
  await appendResults(RESULTS_FILE, PREAMBLE, section);
  log(`appended to ${RESULTS_FILE}`);
}

switch (args.role) {
  case 'provider':
    await providerRole(args.api === 'anthropic' ? 'anthropic' : 'openai');
    break;
  case 'load':
    if (args.url === undefined || args.control === undefined) {
      console.error('outage-replay --role load needs --url and --control');
      process.exit(2);
    }
    await loadRole(args.url, args.control);
    break;
  default:
    await driver();
}
