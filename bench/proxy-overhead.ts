// `npm run bench:proxy` (the first half of `npm run bench`): what the sidecar costs, side by side in one run on this machine. The same fake
// provider process (bench/fake-upstreams.ts) and the same load generators serve three paths:
//
//   direct   load generator → fake provider
//   sidecar  load generator → sidecar (dist/, real CLI) → fake provider
//   nginx    load generator → nginx pass-through (1 worker, upstream keep-alive) → fake provider,
//            as a reference, when /usr/sbin/nginx (or nginx on PATH) exists
//
// Measured: req/s at 32 connections (wrk -t1 -c32, closed loop); CPU time per request of the
// proxying process (/proc/<pid>/stat utime+stime before/after ÷ requests); p50/p99 at a fixed
// 500 req/s and stream time to first byte at 200 req/s (bench/open-loop.ts: open loop, latency
// from the due time; three interleaved runs per target, samples pooled); fast-fail latency with
// the circuit forced open; calls that reach a dead primary while 200 requests are sent (counted
// by the dead provider itself); RSS idle and under load (VmRSS sampled every 100 ms, and VmHWM).
// The sidecar is then measured again with --max-semi-space-size=N for each N in
// AICB_BENCH_SEMI_SPACE_MB (default "1"; e.g. "1 8 16") — throughput, CPU, RSS — so the flag
// can be decided on numbers. It is off for every other measurement.
//
// Everything runs unpinned on the same cores (the "shared box" protocol, as
// bench/RESULTS.md describes it). The machine may be shared with other
// work, so the run waits (up to 45 s) for a quiet moment before starting and reports, for every
// measurement, the CPU used meanwhile by processes it did not start ("foreign CPU").
// Every process binds 127.0.0.1, is
// started here and stopped by PID (also on Ctrl-C). dist/ is rebuilt with tsc at the start of
// every run (AICB_BENCH_SKIP_BUILD=1 skips that). Extra Node flags for the sidecar:
// AICB_BENCH_NODE_FLAGS (e.g. "--max-old-space-size=96"). Prints a table and appends a dated
// section to bench/RESULTS.md. Takes about three and a half minutes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { FakeUpstreamOrigins, FakeUpstreamStats } from './fake-upstreams.ts';
import type { OpenLoopResult } from './open-loop.ts';
import {
  ChildProcesses,
  freePort,
  startSidecar as startSidecarFrom,
  type Proc,
  type Sidecar,
} from './child-processes.ts';
import { percentiles, type Percentiles } from './percentiles.ts';
import {
  cpuSeconds,
  foreignLoad as foreignLoadOf,
  hwmMb,
  rssMb,
  sampleRss as sampleRssEvery,
} from './proc-stats.ts';
import { appendResults, buildDist, machine, revision, table, waitForQuiet } from './run-context.ts';

// ---------------------------------------------------------------------------------------------
// Parameters

const WRK_CONNECTIONS = 32;
const WRK_SECONDS = 10;
const WRK_WARMUP_SECONDS = 2;
/** Open-loop runs are interleaved: ROUNDS rounds, each visiting every target (rotating order). */
const ROUNDS = 3;
const LATENCY_RATE = 500;
const LATENCY_SECONDS = 5;
const LATENCY_WARMUP_SECONDS = 1.5;
const STREAM_RATE = 200;
const STREAM_SECONDS = 4;
const STREAM_WARMUP_SECONDS = 1;
/** Stream shape: role chunk, then this many content chunks this far apart, then [DONE]. */
const STREAM_CHUNKS = 32;
const STREAM_CHUNK_DELAY_MS = 20;
const DEAD_PRIMARY_REQUESTS = 200;
const DEAD_PRIMARY_RATE = 500;
const FAILURE_THRESHOLD = 5;
/** Words in a non-streamed answer: about 0.9 KB of response body. */
const ANSWER_WORDS = 100;
const SETTLE_MS = 2000;
const RSS_SAMPLE_MS = 100;
/** Semi-space sizes (MB) the sidecar is measured again with; AICB_BENCH_SEMI_SPACE_MB="1 16". */
const SEMI_SPACE_MB = (process.env.AICB_BENCH_SEMI_SPACE_MB ?? '1')
  .split(/[\s,]+/)
  .filter((v) => v !== '')
  .map(Number);
const semiSpaceFlag = (mb: number) => `--max-semi-space-size=${mb}`;
const WATCHDOG_MS = 6 * 60_000;
/** Foreign CPU (cores) above which a run is flagged as disturbed. */
const FOREIGN_WARN_CORES = 0.1;
/** Longest wait for a quiet machine before starting. */
const QUIET_WAIT_MS = 45_000;

const TARGETS = {
  rps: 10_000,
  cpuUs: 90,
  addedP50Ms: 0.15,
  addedP99Ms: 0.5,
  addedTtfbP99Ms: 1,
  fastFailP99Ms: 0.2,
  rssIdleMb: 60,
  rssLoadMb: 120,
} as const;

const ROOT = resolve(import.meta.dirname, '..');
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
const RESULTS_FILE = join(ROOT, 'bench', 'RESULTS.md');
const NODE_FLAGS = (process.env.AICB_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
const SKIP_BUILD = process.env.AICB_BENCH_SKIP_BUILD === '1';
const NODE_VERSION = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();

/** A 1 KB chat request, as an app would send it (its own key rides along). */
const REQUEST_BODY = chatBody(false);
const STREAM_BODY = chatBody(true);
const CLIENT_HEADERS = ['authorization: Bearer sk-bench-client-own-key'];

function chatBody(stream: boolean): string {
  const base = {
    model: 'gpt-4o-mini',
    ...(stream ? { stream: true } : {}),
    messages: [
      { role: 'system', content: '' },
      { role: 'user', content: 'Summarise the state of the circuit in one sentence.' },
    ],
  };
  const filler = 'You are a concise assistant for an online shop. ';
  const size = JSON.stringify(base).length;
  const system = filler.repeat(Math.ceil((1024 - size) / filler.length)).slice(0, 1024 - size);
  return JSON.stringify({
    ...base,
    messages: [{ role: 'system', content: system }, base.messages[1]],
  });
}

// ---------------------------------------------------------------------------------------------
// Processes: every child is registered and stopped by PID in cleanup().

const processes = new ChildProcesses(ROOT, 'bench');
const foreignLoad = () => foreignLoadOf(() => processes.pids());
const sampleRss = (pid: number) => sampleRssEvery(pid, RSS_SAMPLE_MS);
const start = processes.start.bind(processes);
const stop = processes.stop.bind(processes);
const run = processes.run.bind(processes);

let tmp: string | undefined;

async function cleanup(): Promise<void> {
  await processes.stopAll();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n[bench] ${signal}: stopping every process started here`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (line: string) => {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

// ---------------------------------------------------------------------------------------------
// wrk (closed loop, 32 connections)

interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly socketErrors: number;
  readonly non2xx: number;
  /** CPU µs per request of the watched process (the proxy, or the provider when direct). */
  readonly cpuUsPerRequest: number;
  /** CPU µs per request of the fake provider process. */
  readonly providerCpuUsPerRequest: number;
  readonly peakRssMb: number | undefined;
  /** Average CPU (cores) used by processes outside this benchmark during the run. */
  readonly foreignCores: number;
}

function writeWrkScript(dir: string): string {
  const file = join(dir, 'post.lua');
  const headers = CLIENT_HEADERS.map((h) => {
    const [name = '', ...rest] = h.split(':');
    return `wrk.headers["${name.trim()}"] = "${rest.join(':').trim()}"`;
  });
  writeFileSync(
    file,
    [
      'wrk.method = "POST"',
      'wrk.headers["content-type"] = "application/json"',
      ...headers,
      `wrk.body = [==[${REQUEST_BODY}]==]`,
      'done = function(summary, latency, requests)',
      '  local e = summary.errors',
      '  io.write(string.format(\'\\n{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,' +
        '"write":%d,"status":%d,"timeout":%d}\\n\', summary.requests, summary.duration, ' +
        'e.connect, e.read, e.write, e.status, e.timeout))',
      'end',
      '',
    ].join('\n'),
  );
  return file;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
}

async function wrk(
  script: string,
  url: string,
  seconds: number,
  watchPid: number,
  providerPid: number,
  rssPid?: number,
): Promise<WrkResult> {
  const foreign = foreignLoad();
  const cpu0 = cpuSeconds(watchPid);
  const provider0 = cpuSeconds(providerPid);
  const stopSampling = rssPid === undefined ? undefined : sampleRss(rssPid);
  const out = await run(
    'wrk',
    'wrk',
    ['-t1', `-c${WRK_CONNECTIONS}`, `-d${seconds}s`, '-s', script, url],
    (seconds + 15) * 1000,
  );
  const peakRssMb = stopSampling?.();
  const cpu = cpuSeconds(watchPid) - cpu0;
  const providerCpu = cpuSeconds(providerPid) - provider0;
  const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${out}`);
  const s = JSON.parse(line) as WrkSummary;
  return {
    requests: s.requests,
    seconds: s.durationUs / 1e6,
    rps: s.requests / (s.durationUs / 1e6),
    socketErrors: s.connect + s.read + s.write + s.timeout,
    non2xx: s.status,
    cpuUsPerRequest: (cpu * 1e6) / s.requests,
    providerCpuUsPerRequest: (providerCpu * 1e6) / s.requests,
    peakRssMb,
    foreignCores: foreign(),
  };
}

// ---------------------------------------------------------------------------------------------
// Open-loop runs

interface OpenLoopOptions {
  readonly rate: number;
  readonly warmup: number;
  readonly duration?: number;
  readonly count?: number;
  readonly connections: number;
  readonly body: string;
  readonly firstByte?: boolean;
}

type MeasuredRun = OpenLoopResult & { readonly foreignCores: number };

async function openLoop(url: string, o: OpenLoopOptions): Promise<MeasuredRun> {
  const args = [
    join(ROOT, 'bench', 'open-loop.ts'),
    '--url',
    url,
    '--rate',
    String(o.rate),
    '--warmup',
    String(o.warmup),
    '--connections',
    String(o.connections),
    '--body',
    o.body,
    ...CLIENT_HEADERS.flatMap((h) => ['--header', h]),
    ...(o.duration === undefined ? [] : ['--duration', String(o.duration)]),
    ...(o.count === undefined ? [] : ['--count', String(o.count)]),
    ...(o.firstByte === true ? ['--first-byte'] : []),
    '--samples',
  ];
  const seconds = o.warmup + (o.duration ?? (o.count ?? 0) / o.rate);
  const foreign = foreignLoad();
  const out = await run('open-loop', NODE, args, (seconds + 30) * 1000);
  const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as OpenLoopResult;
  return { ...result, foreignCores: foreign() };
}

/** Several open-loop runs of one target, their samples pooled. */
interface Pooled {
  readonly latency: Percentiles;
  readonly service: Percentiles;
  readonly lag: Percentiles;
  readonly statuses: Record<string, number>;
  readonly errors: number;
  /** Lowest rate any run achieved. */
  readonly achievedRate: number;
  readonly runs: number;
  /** Lowest and highest per-run p99 (from the due time). */
  readonly p99Range: readonly [number, number];
  /** Highest average CPU (cores) used outside this benchmark during any of the runs. */
  readonly foreignCores: number;
}

function pool(runs: readonly MeasuredRun[]): Pooled {
  const all = (pick: (r: OpenLoopResult) => readonly (number | null)[] | undefined) =>
    runs.flatMap((r) => (pick(r) ?? []).map((v) => v ?? Number.NaN));
  const statuses: Record<string, number> = {};
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  }
  const p99s = runs.map((r) => r.latency.p99);
  return {
    latency: percentiles(all((r) => r.samples?.latency)),
    service: percentiles(all((r) => r.samples?.service)),
    lag: percentiles(all((r) => r.samples?.lag)),
    statuses,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    achievedRate: Math.min(...runs.map((r) => r.achievedRate)),
    runs: runs.length,
    p99Range: [Math.min(...p99s), Math.max(...p99s)],
    foreignCores: Math.max(...runs.map((r) => r.foreignCores)),
  };
}

interface Target {
  readonly name: string;
  readonly url: string;
}

/** ROUNDS rounds over the targets, in an order that rotates each round; samples pooled. */
async function interleaved(
  what: string,
  targets: readonly Target[],
  o: OpenLoopOptions,
): Promise<Map<string, Pooled>> {
  const runs = new Map<string, MeasuredRun[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = [
      ...targets.slice(round % targets.length),
      ...targets.slice(0, round % targets.length),
    ];
    for (const t of order) {
      log(`${what}, round ${round + 1}/${ROUNDS}: ${t.name}`);
      runs.get(t.name)?.push(await openLoop(t.url, o));
    }
  }
  return new Map([...runs].map(([name, r]) => [name, pool(r)]));
}

function pooled(map: Map<string, Pooled>, name: string): Pooled {
  const found = map.get(name);
  if (found === undefined) throw new Error(`no runs for ${name}`);
  return found;
}

// ---------------------------------------------------------------------------------------------
// The processes under test

function startSidecar(policy: string, flags: readonly string[]): Promise<Sidecar> {
  return startSidecarFrom(processes, {
    name: `sidecar${flags.length > 0 ? ` ${flags.join(' ')}` : ''}`,
    node: NODE,
    nodeFlags: flags,
    root: ROOT,
    policy,
    env: { BENCH_BACKUP_KEY: 'sk-bench-backup-key' },
  });
}

function nginxBinary(): string | undefined {
  if (existsSync('/usr/sbin/nginx')) return '/usr/sbin/nginx';
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found !== '' ? found : undefined;
}

interface Nginx {
  readonly proc: Proc;
  readonly url: string;
  readonly version: string;
}

async function startNginx(binary: string, dir: string, up: FakeUpstreamOrigins): Promise<Nginx> {
  const prefix = join(dir, 'nginx');
  rmSync(prefix, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', join(prefix, 'logs'), join(prefix, 'tmp')]);
  const port = await freePort();
  const hostPort = (origin: string) => new URL(origin).host;
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `# written by bench/proxy-overhead.ts: a plain pass-through, one worker (one core, like the sidecar's JS thread)
daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/client_body;
  proxy_temp_path ${prefix}/tmp/proxy;
  keepalive_requests 1000000;
  upstream provider { server ${hostPort(up.main)}; keepalive 64; }
  upstream streamer { server ${hostPort(up.stream)}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
    location /streamer/ {
      proxy_pass http://streamer/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  );
  const version = spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr.trim();
  const proc = start('nginx', binary, [
    '-p',
    prefix,
    '-c',
    conf,
    '-e',
    join(prefix, 'logs', 'error.log'),
  ]);
  const url = `http://127.0.0.1:${port}`;
  await processes.waitForHttp(`${url}/`, proc, () => true);
  return { proc, url, version };
}

async function upstreamStats(up: FakeUpstreamOrigins): Promise<FakeUpstreamStats> {
  const res = await fetch(`${up.control}/__stats`);
  return (await res.json()) as FakeUpstreamStats;
}

/** Half-open probes the dead primary's circuit has started, from the sidecar's metrics. */
async function probesStarted(adminUrl: string, upstream: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  let probes = 0;
  for (const line of text.split('\n')) {
    if (
      line.startsWith('circuit_breaker_state_changes_total{') &&
      line.includes(`provider="${upstream}"`) &&
      /to_state="half_?open"/i.test(line)
    ) {
      probes += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return probes;
}

function bareNodeRss(): Promise<number> {
  const proc = start('bare node', NODE, ['-e', 'setInterval(() => {}, 1000)']);
  return sleep(1000).then(async () => {
    const mb = rssMb(proc.pid);
    await stop(proc);
    return mb;
  });
}

// ---------------------------------------------------------------------------------------------
// The run

interface SidecarVariant {
  readonly flags: readonly string[];
  readonly idleRssMb: number;
  readonly wrk: WrkResult;
  readonly hwmMb: number;
}

interface Results {
  readonly startedAt: Date;
  readonly buildWarning: string | undefined;
  /** Foreign CPU load (cores) just before the run started. */
  readonly quietBefore: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly bareNodeRssMb: number;
  readonly wrkDirect: WrkResult;
  readonly wrkSidecar: WrkResult;
  readonly wrkNginx: WrkResult | undefined;
  readonly latDirect: Pooled;
  readonly latSidecar: Pooled;
  readonly latNginx: Pooled | undefined;
  readonly ttfbDirect: Pooled;
  readonly ttfbSidecar: Pooled;
  readonly ttfbNginx: Pooled | undefined;
  readonly fastFail: Pooled;
  readonly fastFailCode: string;
  readonly deadDirect: { readonly calls: number; readonly run: Pooled };
  readonly deadSidecar: {
    readonly calls: number;
    readonly fallbackCalls: number;
    readonly probes: number;
    readonly run: Pooled;
  };
  readonly deadSequential: {
    readonly calls: number;
    readonly fallbackCalls: number;
    readonly probes: number;
    readonly statuses: string;
  };
  readonly sidecar: SidecarVariant & { readonly afterLoadRssMb: number };
  readonly semiSpace: readonly SidecarVariant[];
  readonly nginx: { readonly version: string; readonly idleRssMb: number } | undefined;
  readonly nginxMissing: string | undefined;
}

async function measure(): Promise<Results> {
  const buildWarning = buildDist(ROOT, NODE, SKIP_BUILD, log);
  const quietBefore = await waitForQuiet(
    foreignLoad,
    { maxWaitMs: QUIET_WAIT_MS, quietCores: FOREIGN_WARN_CORES },
    log,
  );
  const startedAt = new Date();
  tmp = mkdtempSync(join(tmpdir(), 'aicb-bench-'));
  const script = writeWrkScript(tmp);

  log('starting fake providers');
  const providers = start('fake providers', NODE, [
    join(ROOT, 'bench', 'fake-upstreams.ts'),
    '--words',
    String(ANSWER_WORDS),
    '--stream-chunks',
    String(STREAM_CHUNKS),
    '--stream-chunk-delay-ms',
    String(STREAM_CHUNK_DELAY_MS),
  ]);
  const up = JSON.parse(await processes.firstLine(providers, 10_000)) as FakeUpstreamOrigins;

  const policy = join(tmp, 'policy.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'aicircuit.io/v1alpha1',
      kind: 'AICircuitPolicy',
      metadata: { name: 'bench' },
      spec: {
        defaultUpstream: 'openai',
        upstreams: [
          { name: 'openai', provider: 'openai', baseURL: up.main },
          { name: 'streamer', provider: 'openai', baseURL: up.stream },
          { name: 'down', provider: 'openai', baseURL: up.main },
          { name: 'dead', provider: 'openai', baseURL: up.dead },
          { name: 'dead-seq', provider: 'openai', baseURL: up.dead },
          {
            name: 'backup',
            provider: 'openai-compatible',
            baseURL: up.backup,
            apiKey: { env: 'BENCH_BACKUP_KEY' },
          },
        ],
        breaker: { failureThreshold: FAILURE_THRESHOLD },
        fallbacks: [
          { from: 'openai', to: [{ upstream: 'backup', model: 'gpt-4o-mini' }] },
          { from: 'dead', to: [{ upstream: 'backup', model: 'gpt-4o-mini' }] },
          { from: 'dead-seq', to: [{ upstream: 'backup', model: 'gpt-4o-mini' }] },
        ],
        overrides: [{ upstream: 'down', state: 'forcedOpen' }],
      },
    }),
  );

  const responseBytes = (
    await (
      await fetch(`${up.main}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: REQUEST_BODY,
      })
    ).arrayBuffer()
  ).byteLength;

  log('bare Node RSS');
  const bareNodeRssMb = await bareNodeRss();

  log(`starting sidecar (flags: ${NODE_FLAGS.join(' ') || 'none'})`);
  const sc = await startSidecar(policy, NODE_FLAGS);
  await sleep(SETTLE_MS);
  const idleRssMb = rssMb(sc.proc.pid);

  const nginxBin = nginxBinary();
  let ng: Nginx | undefined;
  let nginxIdleRssMb = Number.NaN;
  if (nginxBin !== undefined) {
    log('starting nginx');
    ng = await startNginx(nginxBin, tmp, up);
    await sleep(500);
    nginxIdleRssMb = rssMb(ng.proc.pid);
  }

  const direct = `${up.main}/v1/chat/completions`;
  const viaSidecar = `${sc.url}/openai/v1/chat/completions`;
  const viaNginx = ng === undefined ? undefined : `${ng.url}/v1/chat/completions`;
  const p = providers.pid;

  log(`wrk ${WRK_CONNECTIONS} connections: direct`);
  await wrk(script, direct, WRK_WARMUP_SECONDS, p, p);
  const wrkDirect = await wrk(script, direct, WRK_SECONDS, p, p);
  log(`wrk ${WRK_CONNECTIONS} connections: sidecar`);
  await wrk(script, viaSidecar, WRK_WARMUP_SECONDS, sc.proc.pid, p);
  const wrkSidecar = await wrk(script, viaSidecar, WRK_SECONDS, sc.proc.pid, p, sc.proc.pid);
  const sidecarHwm = hwmMb(sc.proc.pid);
  let wrkNginx: WrkResult | undefined;
  if (ng !== undefined && viaNginx !== undefined) {
    log(`wrk ${WRK_CONNECTIONS} connections: nginx`);
    await wrk(script, viaNginx, WRK_WARMUP_SECONDS, ng.proc.pid, p);
    wrkNginx = await wrk(script, viaNginx, WRK_SECONDS, ng.proc.pid, p, ng.proc.pid);
  }

  const fastFailUrl = `${sc.url}/down/v1/chat/completions`;
  const check = await fetch(fastFailUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: REQUEST_BODY,
  });
  const fastFailCode = `${check.status} ${check.headers.get('x-aicb-error') ?? ''}`.trim();
  await check.arrayBuffer();

  const lat = await interleaved(
    `open loop ${LATENCY_RATE} req/s`,
    [
      { name: 'direct', url: direct },
      { name: 'sidecar', url: viaSidecar },
      ...(viaNginx === undefined ? [] : [{ name: 'nginx', url: viaNginx }]),
      { name: 'fast fail', url: fastFailUrl },
    ],
    {
      rate: LATENCY_RATE,
      warmup: LATENCY_WARMUP_SECONDS,
      duration: LATENCY_SECONDS,
      connections: 64,
      body: REQUEST_BODY,
    },
  );

  const ttfb = await interleaved(
    `streams ${STREAM_RATE} req/s, time to first byte`,
    [
      { name: 'direct', url: `${up.stream}/v1/chat/completions` },
      { name: 'sidecar', url: `${sc.url}/streamer/v1/chat/completions` },
      ...(ng === undefined
        ? []
        : [{ name: 'nginx', url: `${ng.url}/streamer/v1/chat/completions` }]),
    ],
    {
      rate: STREAM_RATE,
      warmup: STREAM_WARMUP_SECONDS,
      duration: STREAM_SECONDS,
      connections: 512,
      body: STREAM_BODY,
      firstByte: true,
    },
  );

  log(`dead primary: ${DEAD_PRIMARY_REQUESTS} requests direct, then through the sidecar`);
  const dead = async (url: string) =>
    pool([
      await openLoop(url, {
        rate: DEAD_PRIMARY_RATE,
        warmup: 0,
        count: DEAD_PRIMARY_REQUESTS,
        connections: 64,
        body: REQUEST_BODY,
      }),
    ]);
  const s0 = await upstreamStats(up);
  const deadDirectRun = await dead(`${up.dead}/v1/chat/completions`);
  const s1 = await upstreamStats(up);
  const deadSidecarRun = await dead(`${sc.url}/dead/v1/chat/completions`);
  const s2 = await upstreamStats(up);
  const probes = await probesStarted(sc.adminUrl, 'dead');
  // The same dead provider behind a second upstream name (its own breaker), one request at a
  // time: with nothing in flight when the threshold is reached, the count is exact.
  log(`dead primary, sequential: ${DEAD_PRIMARY_REQUESTS} requests one after another`);
  const seqStatuses = new Map<number, number>();
  for (let i = 0; i < DEAD_PRIMARY_REQUESTS; i++) {
    const res = await fetch(`${sc.url}/dead-seq/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: REQUEST_BODY,
    });
    await res.arrayBuffer();
    seqStatuses.set(res.status, (seqStatuses.get(res.status) ?? 0) + 1);
  }
  const s3 = await upstreamStats(up);
  const seqProbes = await probesStarted(sc.adminUrl, 'dead-seq');

  await sleep(SETTLE_MS);
  const afterLoadRssMb = rssMb(sc.proc.pid);
  await stop(sc.proc);

  const semiSpace: SidecarVariant[] = [];
  for (const size of SEMI_SPACE_MB) {
    const flags = [...NODE_FLAGS, semiSpaceFlag(size)];
    log(`sidecar again with ${flags.join(' ')}: idle RSS, wrk`);
    const v = await startSidecar(policy, flags);
    await sleep(SETTLE_MS);
    const idle = rssMb(v.proc.pid);
    const url = `${v.url}/openai/v1/chat/completions`;
    await wrk(script, url, WRK_WARMUP_SECONDS, v.proc.pid, p);
    const result = await wrk(script, url, WRK_SECONDS, v.proc.pid, p, v.proc.pid);
    semiSpace.push({ flags, idleRssMb: idle, wrk: result, hwmMb: hwmMb(v.proc.pid) });
    await stop(v.proc);
  }

  return {
    startedAt,
    buildWarning,
    quietBefore,
    requestBytes: Buffer.byteLength(REQUEST_BODY),
    responseBytes,
    bareNodeRssMb,
    wrkDirect,
    wrkSidecar,
    wrkNginx,
    latDirect: pooled(lat, 'direct'),
    latSidecar: pooled(lat, 'sidecar'),
    latNginx: lat.get('nginx'),
    ttfbDirect: pooled(ttfb, 'direct'),
    ttfbSidecar: pooled(ttfb, 'sidecar'),
    ttfbNginx: ttfb.get('nginx'),
    fastFail: pooled(lat, 'fast fail'),
    fastFailCode,
    deadDirect: { calls: s1.dead - s0.dead, run: deadDirectRun },
    deadSidecar: {
      calls: s2.dead - s1.dead,
      fallbackCalls: s2.backup - s1.backup,
      probes,
      run: deadSidecarRun,
    },
    deadSequential: {
      calls: s3.dead - s2.dead,
      fallbackCalls: s3.backup - s2.backup,
      probes: seqProbes,
      statuses: [...seqStatuses].map(([code, n]) => `${code}×${n}`).join(', '),
    },
    sidecar: { flags: NODE_FLAGS, idleRssMb, wrk: wrkSidecar, hwmMb: sidecarHwm, afterLoadRssMb },
    semiSpace,
    nginx: ng === undefined ? undefined : { version: ng.version, idleRssMb: nginxIdleRssMb },
    nginxMissing: nginxBin === undefined ? 'nginx not installed: nginx column skipped' : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(3)} ms` : 'n/a');
const mb = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} MB` : 'n/a');
const us = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} µs` : 'n/a');
const plus = (n: number) =>
  Number.isFinite(n) ? `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(3)} ms` : 'n/a';
const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
/** Verdict; "busy" when other work used the machine during the runs behind the number. */
const met = (ok: boolean, ...runs: readonly ({ readonly foreignCores: number } | undefined)[]) => {
  const busy = runs.some((x) => x !== undefined && x.foreignCores > FOREIGN_WARN_CORES);
  return `${ok ? 'yes' : '**NO**'}${busy ? ' (machine busy)' : ''}`;
};
const flagsText = (flags: readonly string[]) => (flags.length === 0 ? 'none' : flags.join(' '));

const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');

function statuses(r: Pooled): string {
  return Object.entries(r.statuses)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
}

/** The commit measured, and whether src/ differed from it. */

function report(r: Results): string {
  const wrkVersion =
    spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() ?? 'wrk';
  const ng = (f: (x: NonNullable<Results['wrkNginx']>) => string) =>
    r.wrkNginx === undefined ? '—' : f(r.wrkNginx);
  const lat = (x: Pooled | undefined, q: 'p50' | 'p99') =>
    x === undefined ? '—' : ms(x.latency[q]);
  const addedP50 = r.latSidecar.latency.p50 - r.latDirect.latency.p50;
  const addedP99 = r.latSidecar.latency.p99 - r.latDirect.latency.p99;
  const addedTtfb50 = r.ttfbSidecar.latency.p50 - r.ttfbDirect.latency.p50;
  const addedTtfb99 = r.ttfbSidecar.latency.p99 - r.ttfbDirect.latency.p99;
  const deadTarget = FAILURE_THRESHOLD + r.deadSidecar.probes;
  const foreignMax = Math.max(
    ...[r.wrkDirect, r.wrkSidecar, r.wrkNginx, ...r.semiSpace.map((v) => v.wrk)].map(
      (x) => x?.foreignCores ?? 0,
    ),
    ...[
      r.latDirect,
      r.latSidecar,
      r.latNginx,
      r.ttfbDirect,
      r.ttfbSidecar,
      r.ttfbNginx,
      r.fastFail,
    ].map((x) => x?.foreignCores ?? 0),
  );
  const command =
    (NODE_FLAGS.length > 0 ? `AICB_BENCH_NODE_FLAGS='${NODE_FLAGS.join(' ')}' ` : '') +
    (SKIP_BUILD ? 'AICB_BENCH_SKIP_BUILD=1 ' : '') +
    (process.env.AICB_BENCH_SEMI_SPACE_MB === undefined
      ? ''
      : `AICB_BENCH_SEMI_SPACE_MB='${process.env.AICB_BENCH_SEMI_SPACE_MB}' `) +
    'npm run bench:proxy';
  const nginxIdle = r.nginx === undefined ? '—' : mb(r.nginx.idleRssMb);

  const rows: string[][] = [
    ['measurement', 'direct', 'sidecar', 'sidecar vs direct', 'nginx', 'target', 'met'],
    [
      `req/s at ${WRK_CONNECTIONS} connections (wrk, closed loop)`,
      int(r.wrkDirect.rps),
      int(r.wrkSidecar.rps),
      times(r.wrkSidecar.rps, r.wrkDirect.rps),
      ng((x) => int(x.rps)),
      `≥ ${int(TARGETS.rps)}`,
      met(r.wrkSidecar.rps >= TARGETS.rps, r.wrkSidecar),
    ],
    [
      'CPU per request (direct = the fake provider itself)',
      us(r.wrkDirect.cpuUsPerRequest),
      us(r.wrkSidecar.cpuUsPerRequest),
      times(r.wrkSidecar.cpuUsPerRequest, r.wrkDirect.cpuUsPerRequest),
      ng((x) => us(x.cpuUsPerRequest)),
      `≤ ${TARGETS.cpuUs} µs`,
      met(r.wrkSidecar.cpuUsPerRequest <= TARGETS.cpuUs),
    ],
    [
      `p50 at ${LATENCY_RATE} req/s (open loop)`,
      ms(r.latDirect.latency.p50),
      ms(r.latSidecar.latency.p50),
      plus(addedP50),
      lat(r.latNginx, 'p50'),
      `added ≤ ${TARGETS.addedP50Ms} ms`,
      met(addedP50 <= TARGETS.addedP50Ms, r.latDirect, r.latSidecar),
    ],
    [
      `p99 at ${LATENCY_RATE} req/s (open loop)`,
      ms(r.latDirect.latency.p99),
      ms(r.latSidecar.latency.p99),
      plus(addedP99),
      lat(r.latNginx, 'p99'),
      `added ≤ ${TARGETS.addedP99Ms} ms`,
      met(addedP99 <= TARGETS.addedP99Ms, r.latDirect, r.latSidecar),
    ],
    [
      `stream TTFB p50 at ${STREAM_RATE} req/s (open loop)`,
      ms(r.ttfbDirect.latency.p50),
      ms(r.ttfbSidecar.latency.p50),
      plus(addedTtfb50),
      lat(r.ttfbNginx, 'p50'),
      '—',
      '',
    ],
    [
      `stream TTFB p99 at ${STREAM_RATE} req/s (open loop)`,
      ms(r.ttfbDirect.latency.p99),
      ms(r.ttfbSidecar.latency.p99),
      plus(addedTtfb99),
      lat(r.ttfbNginx, 'p99'),
      `added ≤ ${TARGETS.addedTtfbP99Ms} ms`,
      met(addedTtfb99 <= TARGETS.addedTtfbP99Ms, r.ttfbDirect, r.ttfbSidecar),
    ],
    [
      `fast fail p50, circuit open (${r.fastFailCode}), ${LATENCY_RATE} req/s; direct = provider answering`,
      ms(r.latDirect.latency.p50),
      ms(r.fastFail.latency.p50),
      times(r.fastFail.latency.p50, r.latDirect.latency.p50),
      '—',
      '—',
      '',
    ],
    [
      'fast fail p99 (same run)',
      ms(r.latDirect.latency.p99),
      ms(r.fastFail.latency.p99),
      times(r.fastFail.latency.p99, r.latDirect.latency.p99),
      '—',
      `≤ ${TARGETS.fastFailP99Ms} ms`,
      met(r.fastFail.latency.p99 <= TARGETS.fastFailP99Ms, r.fastFail),
    ],
    [
      'fast fail p99 from actual send (without generator timer lag)',
      ms(r.latDirect.service.p99),
      ms(r.fastFail.service.p99),
      times(r.fastFail.service.p99, r.latDirect.service.p99),
      '—',
      `≤ ${TARGETS.fastFailP99Ms} ms`,
      met(r.fastFail.service.p99 <= TARGETS.fastFailP99Ms, r.fastFail),
    ],
    [
      `calls reaching a dead primary (503) while ${DEAD_PRIMARY_REQUESTS} requests are sent`,
      int(r.deadDirect.calls),
      int(r.deadSidecar.calls),
      `${int(r.deadSidecar.calls)} of ${int(DEAD_PRIMARY_REQUESTS)}`,
      '—',
      `≤ ${FAILURE_THRESHOLD} + ${r.deadSidecar.probes} probes`,
      met(r.deadSidecar.calls <= deadTarget, r.deadSidecar.run),
    ],
    [
      `the same, ${DEAD_PRIMARY_REQUESTS} requests sent one at a time`,
      '—',
      int(r.deadSequential.calls),
      `${int(r.deadSequential.calls)} of ${int(DEAD_PRIMARY_REQUESTS)}`,
      '—',
      `≤ ${FAILURE_THRESHOLD} + ${r.deadSequential.probes} probes`,
      met(r.deadSequential.calls <= FAILURE_THRESHOLD + r.deadSequential.probes),
    ],
    [
      `RSS idle, ${SETTLE_MS / 1000} s after start (direct = bare Node)`,
      mb(r.bareNodeRssMb),
      mb(r.sidecar.idleRssMb),
      `+${mb(r.sidecar.idleRssMb - r.bareNodeRssMb)}`,
      nginxIdle,
      `≤ ${TARGETS.rssIdleMb} MB`,
      met(r.sidecar.idleRssMb <= TARGETS.rssIdleMb),
    ],
    [
      `RSS peak at ${WRK_CONNECTIONS} connections (VmHWM; 100 ms samples max)`,
      '—',
      `${mb(r.sidecar.hwmMb)} (${mb(r.sidecar.wrk.peakRssMb ?? Number.NaN)})`,
      '',
      ng((x) => mb(x.peakRssMb ?? Number.NaN)),
      `≤ ${TARGETS.rssLoadMb} MB`,
      met(r.sidecar.hwmMb <= TARGETS.rssLoadMb),
    ],
    [
      `RSS after the load, ${SETTLE_MS / 1000} s settled`,
      '—',
      mb(r.sidecar.afterLoadRssMb),
      '',
      '—',
      '—',
      '',
    ],
  ];

  const semiRows: string[][] = [
    [
      'sidecar node flags',
      'req/s (32 conn.)',
      'CPU/request',
      'RSS idle',
      'RSS peak (VmHWM)',
      'RSS peak (samples)',
    ],
    ...[r.sidecar, ...r.semiSpace].map((v) => [
      `\`${flagsText(v.flags)}\``,
      int(v.wrk.rps),
      us(v.wrk.cpuUsPerRequest),
      mb(v.idleRssMb),
      mb(v.hwmMb),
      mb(v.wrk.peakRssMb ?? Number.NaN),
    ]),
  ];

  const olRows: string[][] = [
    [
      'open-loop target',
      'runs',
      'lowest achieved req/s',
      'statuses',
      'lag p50/p99',
      'from send p50/p99',
      'from due p50/p99/p99.9/max',
      'p99 per run, min–max',
      'foreign CPU (cores, worst run)',
    ],
    ...named<Pooled>([
      ['latency direct', r.latDirect],
      ['latency sidecar', r.latSidecar],
      ['latency nginx', r.latNginx],
      ['TTFB direct', r.ttfbDirect],
      ['TTFB sidecar', r.ttfbSidecar],
      ['TTFB nginx', r.ttfbNginx],
      ['fast fail sidecar', r.fastFail],
      ['dead primary direct', r.deadDirect.run],
      ['dead primary sidecar', r.deadSidecar.run],
    ]).map(([name, x]) => [
      name,
      String(x.runs),
      x.achievedRate.toFixed(1),
      statuses(x),
      `${f3(x.lag.p50)} / ${f3(x.lag.p99)}`,
      `${f3(x.service.p50)} / ${f3(x.service.p99)}`,
      [x.latency.p50, x.latency.p99, x.latency.p999, x.latency.max].map(f3).join(' / '),
      `${f3(x.p99Range[0])} – ${f3(x.p99Range[1])}`,
      x.foreignCores.toFixed(2),
    ]),
  ];

  const wrkRows: string[][] = [
    [
      'wrk run',
      'requests',
      'seconds',
      'socket errors',
      'non-2xx',
      'provider CPU/request',
      'foreign CPU (cores)',
    ],
    ...named<WrkResult>([
      ['direct', r.wrkDirect],
      ['sidecar', r.wrkSidecar],
      ['nginx', r.wrkNginx],
      ...r.semiSpace.map((v) => [`sidecar ${v.flags.join(' ')}`, v.wrk] as const),
    ]).map(([name, x]) => [
      name,
      int(x.requests),
      x.seconds.toFixed(2),
      int(x.socketErrors),
      int(x.non2xx),
      us(x.providerCpuUsPerRequest),
      x.foreignCores.toFixed(2),
    ]),
  ];

  return [
    `## ${r.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- Command: \`${command}\` (bench/proxy-overhead.ts)`,
    `- Node ${NODE_VERSION} (${NODE === PINNED_NODE ? 'node_modules/.bin/node' : NODE}); sidecar from dist/, ${SKIP_BUILD ? 'not rebuilt' : 'rebuilt with tsc at the start of the run'}; sidecar node flags: ${flagsText(NODE_FLAGS)}`,
    `- Code: ${revision(ROOT)}${r.buildWarning === undefined ? '' : ` (${r.buildWarning})`}`,
    `- Machine: ${machine()}; load generator, fake providers, sidecar and nginx unpinned on the same cores`,
    `- Load: ${wrkVersion}, \`-t1 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s\` after a ${WRK_WARMUP_SECONDS} s warm-up, POST of a ${r.requestBytes} B chat request, ${r.responseBytes} B answer; open loop: bench/open-loop.ts (undici Pool, fixed timetable, latency from the due time), ${ROUNDS} interleaved runs per target of ${LATENCY_WARMUP_SECONDS} s warm-up + ${LATENCY_SECONDS} s at ${LATENCY_RATE} req/s; streams: ${STREAM_CHUNKS} chunks ${STREAM_CHUNK_DELAY_MS} ms apart, ${ROUNDS} runs of ${STREAM_WARMUP_SECONDS} s + ${STREAM_SECONDS} s at ${STREAM_RATE} req/s, latency to the first body byte`,
    `- nginx: ${r.nginx === undefined ? (r.nginxMissing ?? 'not run') : `${r.nginx.version}, 1 worker, no master, upstream keepalive 64, proxy_buffering off`}`,
    `- Other load on the machine (CPU of processes this run did not start, averaged per measurement): at most ${foreignMax.toFixed(2)} cores (${r.quietBefore.toFixed(2)} just before the start)${foreignMax > FOREIGN_WARN_CORES ? ' — **the machine was not quiet; treat latency tails as suspect**' : ''}`,
    `- Dead primary: failureThreshold ${FAILURE_THRESHOLD}; ${r.deadSidecar.probes} half-open probes started during the run; the fallback answered ${r.deadSidecar.fallbackCalls} calls; sequential: ${r.deadSequential.probes} probes, fallback answered ${r.deadSequential.fallbackCalls}, client saw ${r.deadSequential.statuses}`,
    '',
    table(rows),
    '',
    `The sidecar again with ${SEMI_SPACE_MB.map((m) => `\`${semiSpaceFlag(m)}\``).join(', ')} (same policy, same load, one wrk run each):`,
    '',
    table(semiRows),
    '',
    `Open-loop details (ms). Each target ran ${ROUNDS} times, interleaved with the others in rotating order; percentiles pool the samples of all runs. "lag" is how late the generator sent against its timetable (Node timers have 1 ms granularity); it is part of "from due", which is what the table above reports; "from send" leaves it out.`,
    '',
    table(olRows),
    '',
    table(wrkRows),
    '',
  ].join('\n');
}

/** The entries that have a value. */
function named<T>(entries: readonly (readonly [string, T | undefined])[]): [string, T][] {
  return entries.flatMap(([name, value]) => (value === undefined ? [] : [[name, value]]));
}

const PREAMBLE = `# Benchmark results

Sections below are appended by \`npm run bench:proxy\` (bench/proxy-overhead.ts; \`npm run bench\`
runs it and then the outage replay), one per run, newest last. Every number in them was measured by that run on the machine it names; none is edited by
hand. The protocol ("shared box"): load generator, fake provider and proxy run unpinned on the
same cores; wrk runs once per target,
open-loop measurements run three times per target, interleaved, samples pooled.

## Targets (issue 4, "Benchmark")

- ≥ 10,000 requests/s at 32 connections; ≤ 90 µs sidecar CPU per request
- added ≤ 0.15 ms p50 and ≤ 0.5 ms p99 at 500 requests/s; added time to first byte ≤ 1 ms p99
- fast fail ≤ 0.2 ms p99; calls to a dead primary during 200 requests ≤ failureThreshold + probes
- RSS ≤ 60 MB idle and ≤ 120 MB at 32 connections

## References (not measured here)

Quoted from issue 4, "Benchmark" section ("measured on this same machine class"):

| system | req/s (32 conn.) | CPU per request | added at 500 req/s | added TTFB | dead primary | RSS |
|---|---|---|---|---|---|---|
| Portkey open-source gateway (Node 20) | ~930 | ~1,250 µs | +1.3 ms p50 / +28 ms p99 | +30 ms | one call per request | — |
| naive fastify + undici pass-through (Node 24; no breaker, no parsing) | ~8,100 | ~130 µs | — | — | — | 82 MB idle; 170–270 MB under load |
| nginx pass-through | — | ~19 µs | — | — | — | — |
| bare Node 24 | — | — | — | — | — | 43 MB |

`;

// ---------------------------------------------------------------------------------------------

const watchdog = setTimeout(() => {
  console.error(`[bench] still running after ${WATCHDOG_MS / 60_000} minutes: giving up`);
  void cleanup().finally(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();

let results: Results;
try {
  if (!NODE_VERSION.startsWith('v24.')) {
    log(`warning: children run on Node ${NODE_VERSION}; the pinned toolchain is Node 24`);
  }
  results = await measure();
} catch (error) {
  console.error(
    `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  await cleanup();
  process.exit(1);
}
await cleanup();
clearTimeout(watchdog);
const section = report(results);
console.log(`\n${section}`);
await appendResults(RESULTS_FILE, PREAMBLE, section);
log(`appended to ${RESULTS_FILE}`);
