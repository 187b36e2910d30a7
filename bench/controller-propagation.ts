// Controller benchmark (issue 6, "Benchmark"): policy propagation from `kubectl apply` to the
// acknowledgement by every sidecar, with 100 and with 1000 simulated sidecar streams, against a
// real kube-apiserver; and the controller's memory and CPU while it holds them.
//
//   npm exec -- node bench/controller-propagation.ts [--sizes 100,1000] [--rounds 10,5] [--no-write]
//
// 1. etcd + kube-apiserver from the cached binaries (test/support/kube-testenv), the CRD installed
//    with `kubectl apply --server-side`, a namespace with the `sidecar` ServiceAccount.
// 2. `aicb controller` as a separate process (plain HTTP, ports chosen by the OS and read from
//    its log), so /proc/<pid> gives its RSS and CPU; the run waits until /readyz says leader.
// 3. Per size N: N pods (label aicircuit.io/injected=true) and one pod-bound token each
//    (TokenRequest, audience aicircuit.io); N simulated sidecar streams (bench/simulated-sidecar.ts,
//    one process, one undici Agent) that ack every snapshot at once. A warm-up apply, then R
//    rounds: t0 is taken right before `kubectl apply --server-side` of the policy with a new
//    spec.breaker.failureThreshold is spawned; a sidecar's propagation time is when it sent its
//    ack for the snapshot carrying that threshold, minus t0.
// 4. Controller VmRSS/VmHWM idle, before the streams, with them, after the rounds; its CPU during
//    the rounds; aicb_controller_propagation_seconds from its /metrics for comparison.
// Prints the tables and appends a dated section to bench/controller-results.md. Every process is
// stopped by pid in finally blocks, on SIGINT/SIGTERM and on a watchdog; temp dirs are deleted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  AuthenticationV1TokenRequest,
  V1Namespace,
  V1Pod,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { installCrd } from '../test/cluster/kube/kube-helpers.ts';
import { connect, type Cluster } from '../test/support/kube-testenv/cluster.ts';
import {
  HOW_TO_PROVIDE,
  findOrBuildAssets,
  startControlPlane,
  type ControlPlane,
} from '../test/support/kube-testenv/control-plane.ts';
import { percentiles } from './percentiles.ts';
import { CLK_TCK, cpuSeconds, hwmMb, machineBusySeconds, rssMb, sampleRss } from './proc-stats.ts';
import { appendResults, machine, revision, table } from './run-context.ts';
import { SidecarFleet, type SnapshotReceipt } from './simulated-sidecar.ts';

const ROOT = join(import.meta.dirname, '..');
const RESULTS_FILE = join(ROOT, 'bench', 'controller-results.md');
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
const NODE_VERSION = spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000' },
    rounds: { type: 'string', default: '10,5' },
    'no-write': { type: 'boolean', default: false },
    controller: { type: 'string', default: 'src' },
    'controller-main': { type: 'string' },
  },
});
/**
 * How the controller runs: `src` is `node src/cli/main.ts controller` (type stripping, as in
 * development); `image` is what the Dockerfile runs: the TypeScript compiled with
 * tsconfig.build.json (into a temp dir, dist/ is left alone), NODE_ENV=production and
 * --max-semi-space-size=8.
 */
const CONTROLLER_MODE = flags.controller;
/** With `--controller image`: an already compiled main.js to run instead (a candidate build). */
const CONTROLLER_MAIN = flags['controller-main'];
const SIZES = flags.sizes.split(',').map(Number);
const ROUNDS = flags.rounds.split(',').map(Number);
if (
  (CONTROLLER_MODE !== 'src' && CONTROLLER_MODE !== 'image') ||
  SIZES.some((n) => !Number.isSafeInteger(n) || n < 1) ||
  ROUNDS.length !== SIZES.length ||
  ROUNDS.some((r) => !Number.isSafeInteger(r) || r < 1)
) {
  console.error(
    'usage: [--sizes 100,1000 --rounds 10,5 (one round count per size)] [--controller src|image [--controller-main dist/cli/main.js]] [--no-write]',
  );
  process.exit(2);
}

/** Targets of issue 6: p99 per size, and the controller's RSS at 1000 streams. */
const P99_TARGET_MS = new Map([
  [100, 1000],
  [1000, 3000],
]);
const RSS_TARGET_MB = 150;
const RSS_TARGET_STREAMS = 1000;

const CREATE_CONCURRENCY = 16;
const CONNECT_CONCURRENCY = 100;
const SETTLE_MS = 1000;
const RSS_SAMPLE_MS = 100;
const WATCHDOG_MS = 6 * 60_000;
const POLICY = 'bench';
const SELECTOR = { app: 'bench' };

const log = (message: string) => {
  console.error(`[bench] ${message}`);
};

// ---------------------------------------------------------------------------------------------
// Cleanup: every start registers its stop here; run newest first, once.

const cleanups: { name: string; run: () => Promise<void> }[] = [];
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (let c = cleanups.pop(); c !== undefined; c = cleanups.pop()) {
      try {
        await c.run();
      } catch (error) {
        log(`cleanup of ${c.name} failed: ${(error as Error).message}`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping every process started here`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// /proc readings

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** CPU seconds and command name of every process visible in /proc. */
function allProcesses(): Map<number, { comm: string; cpu: number }> {
  const out = new Map<number, { comm: string; cpu: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(entry), { comm, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Pids whose command line contains `text` (to find the control plane's etcd and apiserver). */
function pidsWithArgument(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * CPU accounting over a window: the controller, the control plane (etcd + apiserver), this
 * process with its reaped children (the simulated sidecars and kubectl), and everything else
 * on the machine ("foreign": other sessions' work, which competes for the same cores).
 */
interface CpuWindow {
  readonly seconds: number;
  readonly controller: number;
  readonly controlPlane: number;
  readonly bench: number;
  readonly foreign: number;
  readonly topForeign: string;
}

function cpuWindow(controllerPid: number, controlPlanePids: readonly number[]): () => CpuWindow {
  const ours = new Set([process.pid, controllerPid, ...controlPlanePids]);
  const read = () => {
    const procs = allProcesses();
    const sum = (pids: readonly number[]) =>
      pids.reduce((s, pid) => s + (procs.get(pid)?.cpu ?? 0), 0);
    return {
      wall: performance.now(),
      machine: machineBusySeconds(),
      controller: sum([controllerPid]),
      controlPlane: sum(controlPlanePids),
      bench: cpuSeconds('self', true),
      procs,
    };
  };
  const a = read();
  return () => {
    const b = read();
    const controller = b.controller - a.controller;
    const controlPlane = b.controlPlane - a.controlPlane;
    const bench = b.bench - a.bench;
    const foreign = Math.max(0, b.machine - a.machine - controller - controlPlane - bench);
    const top = [...b.procs]
      .filter(([pid]) => !ours.has(pid))
      .map(([pid, p]) => ({ comm: p.comm, cpu: p.cpu - (a.procs.get(pid)?.cpu ?? 0) }))
      .filter((p) => p.cpu >= 0.05)
      .sort((x, y) => y.cpu - x.cpu)
      .slice(0, 4)
      .map((p) => `${p.comm} ${p.cpu.toFixed(1)} s`)
      .join(', ');
    return {
      seconds: (b.wall - a.wall) / 1000,
      controller,
      controlPlane,
      bench,
      foreign,
      topForeign: top === '' ? 'none' : top,
    };
  };
}

// ---------------------------------------------------------------------------------------------
// The controller process

/** The controller's log, printed when the run fails. */
let controllerLog: string | undefined;

interface ControllerProcess {
  readonly pid: number;
  readonly deliveryUrl: string;
  readonly adminUrl: string;
  readonly logFile: string;
}

/** Node arguments and environment that start `aicb` in CONTROLLER_MODE (see there). */
function controllerCommand(dir: string): {
  args: string[];
  env: NodeJS.ProcessEnv;
  note: string;
} {
  const env = { ...process.env };
  delete env.KUBERNETES_SERVICE_HOST;
  if (CONTROLLER_MODE === 'src') {
    return {
      args: [join(ROOT, 'src', 'cli', 'main.ts')],
      env,
      note: '`node src/cli/main.ts controller` (type stripping)',
    };
  }
  if (CONTROLLER_MAIN !== undefined) {
    return {
      args: ['--max-semi-space-size=8', CONTROLLER_MAIN],
      env: { ...env, NODE_ENV: 'production' },
      note: `\`NODE_ENV=production node --max-semi-space-size=8 ${CONTROLLER_MAIN} controller\` (a build given with --controller-main, not the checkout's src/)`,
    };
  }
  // The image's layout: dist/ beside package.json and node_modules.
  const app = join(dir, 'app');
  mkdirSync(app);
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  const tsc = spawnSync(
    NODE,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(app, 'dist'),
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const main = join(app, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`tsc emitted no ${main}:\n${tsc.stdout}${tsc.stderr}`);
  const errors = tsc.status === 0 ? '' : ` (tsc reported type errors in src/, emitted anyway)`;
  return {
    args: ['--max-semi-space-size=8', main],
    env: { ...env, NODE_ENV: 'production' },
    note: `compiled with tsconfig.build.json at the start of the run${errors}, \`NODE_ENV=production node --max-semi-space-size=8 dist/cli/main.js controller\` as in the Dockerfile`,
  };
}

/** How the controller was started, for the report. */
let controllerNote = '';

async function startController(
  kubeconfig: string,
  leaseNamespace: string,
  dir: string,
): Promise<ControllerProcess> {
  const logFile = join(dir, 'controller.log');
  controllerLog = logFile;
  const command = controllerCommand(dir);
  controllerNote = command.note;
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      NODE,
      [
        ...command.args,
        'controller',
        '--kubeconfig',
        kubeconfig,
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        '127.0.0.1:0',
        '--identity',
        'bench',
        '--lease-namespace',
        leaseNamespace,
      ],
      { stdio: ['ignore', fd, fd], env: command.env },
    );
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the controller');
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const killOnExit = () => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  cleanups.push({
    name: `controller (pid ${pid})`,
    run: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
    },
  });
  // Ports 0: the OS picks them; the controller logs its URLs once it listens.
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the controller exited:\n${tail(logFile)}`);
    const line = readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('"controller listening"'));
    if (line !== undefined) {
      const { delivery, admin } = JSON.parse(line) as { delivery: string; admin: string };
      return { pid, deliveryUrl: delivery, adminUrl: admin, logFile };
    }
    if (performance.now() > deadline)
      throw new Error(`the controller did not listen within 30 s:\n${tail(logFile)}`);
    await sleep(50);
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Warn/error lines of the controller's pino log, counted, with the three commonest messages. */
function logProblems(file: string): string {
  const counts = new Map<string, number>();
  let total = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    } catch {
      continue;
    }
    if (entry.level !== 'warn' && entry.level !== 'error' && entry.level !== 'fatal') continue;
    total++;
    const key = `${entry.level}: ${String(entry.msg)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = [...counts]
    .sort(([, a], [, b]) => b - a)
    .slice(0, 3)
    .map(([msg, n]) => `${n}× "${msg}"`);
  return total === 0 ? 'none' : `${total} (${top.join('; ')})`;
}

/** /readyz of the controller: the sidecar count while leading, undefined otherwise. */
async function readyz(adminUrl: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { status?: string; sidecars?: number };
    return res.status === 200 && body.status === 'leader' ? (body.sidecars ?? 0) : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// Controller metrics (Prometheus text)

interface HistogramReading {
  /** Cumulative counts by upper bound (Infinity for +Inf). */
  readonly buckets: Map<number, number>;
  readonly sum: number;
  readonly count: number;
}

interface MetricsReading {
  readonly propagation: HistogramReading;
  readonly reconcile: HistogramReading;
  readonly reconciles: number;
  readonly pushes: number;
  /** The controller's own V8 heap (used / total) and external memory, in MB. */
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
}

async function readMetrics(adminUrl: string): Promise<MetricsReading> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const value = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  const histogram = (name: string): HistogramReading => {
    const buckets = new Map<number, number>();
    for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm')))
      buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
    return { buckets, sum: value(`${name}_sum`), count: value(`${name}_count`) };
  };
  return {
    propagation: histogram('aicb_controller_propagation_seconds'),
    reconcile: histogram('aicb_controller_reconcile_duration_seconds'),
    reconciles: value('aicb_controller_reconciles_total'),
    pushes: value('aicb_controller_pushes_total'),
    heapUsedMb: value('nodejs_heap_size_used_bytes') / 2 ** 20,
    heapTotalMb: value('nodejs_heap_size_total_bytes') / 2 ** 20,
    externalMb: value('nodejs_external_memory_bytes') / 2 ** 20,
  };
}

function histogramDelta(a: HistogramReading, b: HistogramReading): HistogramReading {
  const buckets = new Map<number, number>();
  for (const [le, n] of b.buckets) buckets.set(le, n - (a.buckets.get(le) ?? 0));
  return { buckets, sum: b.sum - a.sum, count: b.count - a.count };
}

/** The bucket bound holding quantile q, as "≤ 0.25 s". */
function histogramQuantile(h: HistogramReading, q: number): string {
  if (h.count === 0) return '—';
  for (const [le, n] of [...h.buckets].sort(([x], [y]) => x - y)) {
    if (n >= q * h.count) return le === Infinity ? '> last bucket' : `≤ ${le} s`;
  }
  return '?';
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects

function policyYaml(namespace: string, failureThreshold: number): string {
  return stringify({
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata: { name: POLICY, namespace },
    spec: {
      podSelector: { matchLabels: SELECTOR },
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
        { name: 'backup', provider: 'openai-compatible', baseURL: 'https://llm.example.com' },
      ],
      breaker: { failureThreshold, recoveryTimeout: '30s' },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
    },
  });
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Creates pod `name` and returns a token bound to it (audience aicircuit.io). */
async function podWithToken(cluster: Cluster, namespace: string, name: string): Promise<string> {
  const pod = await cluster.core.createNamespacedPod({
    namespace,
    body: Object.assign(new V1Pod(), {
      metadata: { name, labels: { ...SELECTOR, 'aicircuit.io/injected': 'true' } },
      spec: {
        serviceAccountName: 'sidecar',
        containers: [{ name: 'app', image: 'registry.example/app:1' }],
      },
    }),
  });
  const answer = await cluster.core.createNamespacedServiceAccountToken({
    name: 'sidecar',
    namespace,
    body: Object.assign(new AuthenticationV1TokenRequest(), {
      spec: {
        audiences: ['aicircuit.io'],
        expirationSeconds: 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata?.uid ?? '' },
      },
    }),
  });
  const token = answer.status?.token;
  if (token === undefined || token === '') throw new Error(`no token for pod ${name}`);
  return token;
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Round {
  readonly threshold: number;
  readonly kubectlMs: number;
  /** When the controller saw the change (its changedAtWallMs), from t0; wall clocks. */
  readonly seenMs: number;
  /** Per sidecar that acked the new version: ack sent − t0. */
  readonly ackMs: readonly number[];
  /** Per such sidecar: receipt (wall) − the controller's changedAtWallMs. */
  readonly fromSeenMs: readonly number[];
  /** Last ack answered by the controller, from t0. */
  readonly lastAnsweredMs: number;
  readonly missing: number;
  readonly ackErrors: number;
  readonly hashes: number;
  readonly bytes: number;
}

interface Phase {
  readonly n: number;
  readonly podsMs: number;
  readonly connectMs: number;
  readonly warmUp: Round;
  readonly rounds: readonly Round[];
  readonly rssBeforeStreams: number;
  readonly rssWithStreams: number;
  readonly hwmWithStreams: number;
  readonly rssAfterRounds: number;
  readonly hwmAfterRounds: number;
  readonly rssPeakDuringPhase: number;
  /** The controller's heap at the three RSS readings. */
  readonly heap: readonly [MetricsReading, MetricsReading, MetricsReading];
  readonly cpu: CpuWindow;
  readonly controllerHistogram: HistogramReading;
  readonly reconciles: number;
  readonly reconcileMeanMs: number;
  readonly pushes: number;
  readonly disconnects: number;
  readonly malformed: number;
}

interface Run {
  readonly startedAt: Date;
  readonly foreignBefore: number;
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly controlPlaneStartMs: number;
  readonly rssIdle: number;
  readonly hwmIdle: number;
  readonly phases: readonly Phase[];
  readonly whole: CpuWindow;
  /** Warnings and errors in the controller's log: count, and the commonest messages. */
  readonly controllerLogProblems: string;
}

/** Applies the policy with `threshold` and waits for every sidecar to ack that version. */
async function round(
  cluster: Cluster,
  fleet: SidecarFleet,
  namespace: string,
  threshold: number,
  timeoutMs: number,
): Promise<Round> {
  const input = policyYaml(namespace, threshold);
  const from = fleet.receipts.length;
  const t0Wall = Date.now();
  const t0 = performance.now();
  let kubectlMs = Number.NaN;
  const applied = cluster.kubectl(['apply', '--server-side', '-f', '-'], { input }).then((r) => {
    kubectlMs = performance.now() - t0;
    if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.output}`);
  });
  const got = new Map<number, SnapshotReceipt>();
  let unexpected = 0;
  let scanned = from;
  const deadline = t0 + timeoutMs;
  for (;;) {
    for (; scanned < fleet.receipts.length; scanned++) {
      const r = fleet.receipts[scanned];
      if (r === undefined) continue;
      if (r.failureThreshold === threshold) got.set(r.sidecar, r);
      else unexpected++;
    }
    const answered = [...got.values()].every((r) => r.ackStatus !== 0);
    if ((got.size === fleet.size && answered) || performance.now() > deadline) break;
    await sleep(5);
  }
  await applied;
  if (unexpected > 0) log(`round ${threshold}: ${unexpected} snapshots of another version`);
  const receipts = [...got.values()];
  const seen = Math.min(...receipts.map((r) => r.changedAtWallMs));
  return {
    threshold,
    kubectlMs,
    seenMs: receipts.length === 0 ? Number.NaN : seen - t0Wall,
    ackMs: receipts.map((r) => r.ackSentAt - t0),
    fromSeenMs: receipts.map((r) => t0Wall + (r.receivedAt - t0) - r.changedAtWallMs),
    lastAnsweredMs: Math.max(...receipts.map((r) => r.ackAnsweredAt - t0)),
    missing: fleet.size - got.size,
    ackErrors: receipts.filter((r) => r.ackStatus !== 204).length,
    hashes: new Set(receipts.map((r) => r.hash)).size,
    bytes: receipts[0]?.bytes ?? 0,
  };
}

async function measure(): Promise<Run> {
  const startedAt = new Date();
  const loadBefore = loadAverage();
  const foreignBefore = await (async () => {
    const busy0 = machineBusySeconds();
    const own0 = cpuSeconds('self', true);
    await sleep(2000);
    return Math.max(0, machineBusySeconds() - busy0 - (cpuSeconds('self', true) - own0)) / 2;
  })();
  log(
    `machine before the run: load average ${loadBefore}; others busy ${foreignBefore.toFixed(2)} cores`,
  );

  const assets = await findOrBuildAssets(ROOT);
  if (!assets.ok) throw new Error(`no kube-apiserver/etcd: ${assets.reason}\n${HOW_TO_PROVIDE}`);
  const cp: ControlPlane = await startControlPlane(assets.dir);
  cleanups.push({ name: 'control plane', run: () => cp.stop() });
  log(`control plane ready in ${(cp.startMs / 1000).toFixed(1)} s at ${cp.server}`);
  const controlPlanePids = pidsWithArgument(cp.dir);
  const cluster = connect({
    available: true,
    kubeconfig: cp.kubeconfig,
    server: cp.server,
    token: cp.token,
    assetsDir: cp.assetsDir,
    kubectlCacheDir: cp.kubectlCacheDir,
  });
  const dir = mkdtempSync(join(tmpdir(), 'aicb-bench-controller-'));
  cleanups.push({
    name: 'temp dir',
    run: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
  await installCrd(cluster);
  const namespace = 'bench';
  const leaseNamespace = 'bench-system';
  for (const name of [namespace, leaseNamespace]) {
    await cluster.core.createNamespace({
      body: Object.assign(new V1Namespace(), { metadata: { name } }),
    });
  }
  await cluster.core.createNamespacedServiceAccount({
    namespace,
    body: Object.assign(new V1ServiceAccount(), { metadata: { name: 'sidecar' } }),
  });

  const controller = await startController(cp.kubeconfig, leaseNamespace, dir);
  await waitUntil(
    'the controller to lead',
    async () => (await readyz(controller.adminUrl)) !== undefined,
    30_000,
  );
  log(`controller pid ${controller.pid} leading; delivery ${controller.deliveryUrl}`);
  const whole = cpuWindow(controller.pid, controlPlanePids);
  await sleep(2000);
  const rssIdle = rssMb(controller.pid);
  const hwmIdle = hwmMb(controller.pid);

  const tokens: string[] = [];
  let threshold = 10;
  const phases: Phase[] = [];
  for (const [index, n] of SIZES.entries()) {
    const roundCount = ROUNDS[index] ?? 1;
    const timeoutMs = Math.max(15_000, n * 30);
    const peak = sampleRss(controller.pid, RSS_SAMPLE_MS);
    // Pods and tokens, added to those of the previous size.
    const podsStarted = performance.now();
    const names = Array.from(
      { length: Math.max(0, n - tokens.length) },
      (_, i) => `sim-${String(tokens.length + i).padStart(4, '0')}`,
    );
    tokens.push(
      ...(await mapLimit(names, CREATE_CONCURRENCY, (name) =>
        podWithToken(cluster, namespace, name),
      )),
    );
    const podsMs = performance.now() - podsStarted;
    log(`N=${n}: ${names.length} pods and tokens created in ${(podsMs / 1000).toFixed(1)} s`);
    await sleep(2 * SETTLE_MS);
    const rssBeforeStreams = rssMb(controller.pid);
    const metricsBefore = await readMetrics(controller.adminUrl);

    const fleet = new SidecarFleet({ url: controller.deliveryUrl, size: n });
    for (const token of tokens.slice(0, n)) fleet.add(token);
    cleanups.push({ name: `fleet of ${n}`, run: () => fleet.close() });
    const connectStarted = performance.now();
    await fleet.connectAll(CONNECT_CONCURRENCY);
    await waitUntil(
      `${n} streams at the controller`,
      async () => (await readyz(controller.adminUrl)) === n,
      30_000,
    );
    const connectMs = performance.now() - connectStarted;
    log(`N=${n}: streams open in ${(connectMs / 1000).toFixed(1)} s`);

    const warmUp = await round(cluster, fleet, namespace, threshold++, timeoutMs);
    if (warmUp.missing > 0)
      throw new Error(`warm-up: ${warmUp.missing} of ${n} sidecars never acked the policy`);
    await sleep(SETTLE_MS);
    const rssWithStreams = rssMb(controller.pid);
    const hwmWithStreams = hwmMb(controller.pid);

    const metrics0 = await readMetrics(controller.adminUrl);
    const cpu = cpuWindow(controller.pid, controlPlanePids);
    const rounds: Round[] = [];
    for (let r = 0; r < roundCount; r++) {
      const result = await round(cluster, fleet, namespace, threshold++, timeoutMs);
      rounds.push(result);
      const p = percentiles(result.ackMs);
      log(
        `N=${n} round ${r + 1}/${roundCount}: ${result.ackMs.length} acks, p50 ${p.p50.toFixed(0)} ms, ` +
          `p99 ${p.p99.toFixed(0)} ms, max ${p.max.toFixed(0)} ms` +
          (result.missing > 0 ? `, ${result.missing} MISSING` : ''),
      );
      await sleep(SETTLE_MS);
    }
    const cpuRounds = cpu();
    const metrics1 = await readMetrics(controller.adminUrl);
    await sleep(SETTLE_MS);
    const rssAfterRounds = rssMb(controller.pid);
    const hwmAfterRounds = hwmMb(controller.pid);
    const metricsAfter = await readMetrics(controller.adminUrl);
    const disconnects = fleet.disconnects;
    const malformed = fleet.malformed;
    cleanups.pop();
    await fleet.close();
    await waitUntil(
      'the streams to close',
      async () => (await readyz(controller.adminUrl)) === 0,
      30_000,
    );
    const reconcile = histogramDelta(metrics0.reconcile, metrics1.reconcile);
    phases.push({
      n,
      podsMs,
      connectMs,
      warmUp,
      rounds,
      rssBeforeStreams,
      rssWithStreams,
      hwmWithStreams,
      rssAfterRounds,
      hwmAfterRounds,
      rssPeakDuringPhase: peak(),
      heap: [metricsBefore, metrics0, metricsAfter],
      cpu: cpuRounds,
      controllerHistogram: histogramDelta(metrics0.propagation, metrics1.propagation),
      reconciles: metrics1.reconciles - metrics0.reconciles,
      reconcileMeanMs:
        reconcile.count === 0 ? Number.NaN : (reconcile.sum / reconcile.count) * 1000,
      pushes: metrics1.pushes - metrics0.pushes,
      disconnects,
      malformed,
    });
  }
  return {
    startedAt,
    foreignBefore,
    loadBefore,
    loadAfter: loadAverage(),
    controlPlaneStartMs: cp.startMs,
    rssIdle,
    hwmIdle,
    phases,
    whole: whole(),
    controllerLogProblems: logProblems(controller.logFile),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (v: number) => (Number.isNaN(v) ? '—' : `${v.toFixed(0)} ms`);
const mb = (v: number) => `${v.toFixed(1)} MB`;

function kubectlVersion(): string {
  const out = spawnSync(process.env.KUBECTL ?? 'kubectl', ['version', '--client'], {
    encoding: 'utf8',
  });
  return out.stdout.split('\n')[0]?.replace('Client Version: ', '') ?? '?';
}

function busyNote(foreign: number, label: string): string {
  return `${label}: ${foreign.toFixed(2)} cores${foreign >= 0.2 ? ' (**busy**: the run competed for the cores; its latencies are suspect)' : ''}`;
}

function report(run: Run): string {
  const when = run.startedAt.toISOString().slice(0, 16).replace('T', ' ');
  const summary: string[][] = [
    [
      'sidecar streams',
      'rounds × acks',
      'p50',
      'p99',
      'max',
      'all acked: median round / worst round',
      'target p99',
      'met',
      'from the controller seeing the change: p50 / p99 (sidecar clock)',
      'controller histogram p50 / p99',
    ],
  ];
  const resources: string[][] = [
    [
      'sidecar streams',
      'RSS before streams (pods cached)',
      'RSS with streams (after warm-up)',
      'RSS after rounds',
      'RSS peak in phase (100 ms samples)',
      'VmHWM after rounds',
      'target',
      'met',
      'controller CPU in rounds',
      'CPU per round',
    ],
  ];
  const rounds: string[][] = [
    [
      'N',
      'round',
      'kubectl exited',
      'controller saw change',
      'first ack',
      'p50',
      'p99',
      'all acked (max)',
      'last ack answered',
      'missing / ack errors',
    ],
  ];
  const cpuRows: string[][] = [
    [
      'sidecar streams',
      'window',
      'controller',
      'etcd + kube-apiserver',
      'bench process (simulated sidecars, kubectl)',
      'others on the machine',
      'busiest other processes',
    ],
  ];
  const heapRows: string[][] = [
    [
      'sidecar streams',
      'before streams: heap used / total, external',
      'with streams',
      'after rounds',
    ],
  ];
  const details: string[] = [];
  for (const phase of run.phases) {
    const all = phase.rounds.flatMap((r) => r.ackMs);
    const p = percentiles(all);
    const seen = percentiles(phase.rounds.flatMap((r) => r.fromSeenMs));
    const allAcked = percentiles(phase.rounds.map((r) => Math.max(...r.ackMs)));
    const missing = phase.rounds.reduce((s, r) => s + r.missing, 0);
    const target = P99_TARGET_MS.get(phase.n);
    const met = target === undefined ? '' : p.p99 <= target && missing === 0 ? 'yes' : '**NO**';
    summary.push([
      String(phase.n),
      `${phase.rounds.length} × ${phase.n} (${all.length} measured${missing > 0 ? `, ${missing} missing` : ''})`,
      ms(p.p50),
      ms(p.p99),
      ms(p.max),
      `${ms(allAcked.p50)} / ${ms(allAcked.max)}`,
      target === undefined ? '—' : `≤ ${target} ms`,
      met,
      `${ms(seen.p50)} / ${ms(seen.p99)}`,
      `${histogramQuantile(phase.controllerHistogram, 0.5)} / ${histogramQuantile(phase.controllerHistogram, 0.99)} (${phase.controllerHistogram.count} acks)`,
    ]);
    const rssTarget = phase.n === RSS_TARGET_STREAMS;
    const rssMet =
      phase.rssWithStreams <= RSS_TARGET_MB && phase.rssPeakDuringPhase <= RSS_TARGET_MB;
    resources.push([
      String(phase.n),
      mb(phase.rssBeforeStreams),
      mb(phase.rssWithStreams),
      mb(phase.rssAfterRounds),
      mb(phase.rssPeakDuringPhase),
      mb(phase.hwmAfterRounds),
      rssTarget ? `≤ ${RSS_TARGET_MB} MB` : '—',
      rssTarget ? (rssMet ? 'yes' : '**NO**') : '',
      `${phase.cpu.controller.toFixed(2)} s in ${phase.cpu.seconds.toFixed(1)} s`,
      `${((phase.cpu.controller / phase.rounds.length) * 1000).toFixed(0)} ms`,
    ]);
    heapRows.push([
      String(phase.n),
      ...phase.heap.map(
        (m) =>
          `${m.heapUsedMb.toFixed(1)} / ${m.heapTotalMb.toFixed(1)} MB, ${m.externalMb.toFixed(1)} MB`,
      ),
    ]);
    cpuRows.push([
      String(phase.n),
      `${phase.cpu.seconds.toFixed(1)} s (rounds)`,
      `${phase.cpu.controller.toFixed(2)} s`,
      `${phase.cpu.controlPlane.toFixed(2)} s`,
      `${phase.cpu.bench.toFixed(2)} s`,
      `${phase.cpu.foreign.toFixed(2)} s (${(phase.cpu.foreign / phase.cpu.seconds).toFixed(2)} cores)`,
      phase.cpu.topForeign,
    ]);
    for (const [i, r] of [phase.warmUp, ...phase.rounds].entries()) {
      const q = percentiles(r.ackMs);
      rounds.push([
        String(phase.n),
        i === 0 ? 'warm-up (not counted)' : String(i),
        ms(r.kubectlMs),
        ms(r.seenMs),
        ms(Math.min(...r.ackMs)),
        ms(q.p50),
        ms(q.p99),
        ms(q.max),
        ms(r.lastAnsweredMs),
        `${r.missing} / ${r.ackErrors}${r.hashes > 1 ? ` (${r.hashes} different hashes!)` : ''}`,
      ]);
    }
    details.push(
      `- N=${phase.n}: ${phase.podsMs === 0 ? 'no new pods' : `pods + bound tokens created in ${(phase.podsMs / 1000).toFixed(1)} s`}` +
        ` (${CREATE_CONCURRENCY} at a time); ${phase.n} streams authenticated and open in ${(phase.connectMs / 1000).toFixed(1)} s` +
        ` (${CONNECT_CONCURRENCY} at a time); snapshot event ${phase.warmUp.bytes} B; during the rounds the controller ran` +
        ` ${phase.reconciles} reconciles (mean ${phase.reconcileMeanMs.toFixed(1)} ms) and ${phase.pushes} pushes;` +
        ` streams lost: ${phase.disconnects}; malformed events: ${phase.malformed}`,
    );
  }
  return [
    `## ${when} UTC`,
    '',
    `- Command: \`npm exec -- node bench/controller-propagation.ts${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
    `- Node ${NODE_VERSION}; controller: ${controllerNote}; plain HTTP, log level info, default 50 ms debounce; kubectl ${kubectlVersion()}`,
    `- Code: ${revision(ROOT)}`,
    `- Machine: ${machine()}; control plane, controller and simulated sidecars unpinned on the same cores`,
    `- Load average before / after: ${run.loadBefore} / ${run.loadAfter}; ${busyNote(run.foreignBefore, 'other processes before the run (2 s)')}; ${busyNote(run.whole.foreign / run.whole.seconds, 'other processes during the run')}`,
    `- Control plane ready in ${(run.controlPlaneStartMs / 1000).toFixed(1)} s; controller idle (leading, no pods, no streams): VmRSS ${mb(run.rssIdle)}, VmHWM ${mb(run.hwmIdle)}; warnings and errors in its log: ${run.controllerLogProblems}`,
    ...details,
    '',
    'Propagation, `kubectl apply` → ack sent by each sidecar (all rounds pooled):',
    '',
    table(summary),
    '',
    'Controller memory and CPU:',
    '',
    table(resources),
    '',
    "The controller's V8 heap (its /metrics, prom-client defaults) at the same moments:",
    '',
    table(heapRows),
    '',
    'CPU during the rounds, by process:',
    '',
    table(cpuRows),
    '',
    'Per round (times from t0 = right before kubectl is spawned):',
    '',
    table(rounds),
    '',
  ].join('\n');
}

const PREAMBLE = `# Controller benchmark results

Sections below are appended by \`npm exec -- node bench/controller-propagation.ts\`, one per run,
newest last. Every number in them was measured by that run on the machine it names; none is
edited by hand.

## Method

- A real control plane: etcd and kube-apiserver (test/support/kube-testenv), the CRD installed
  with \`kubectl apply --server-side\`, a namespace with the \`sidecar\` ServiceAccount.
- \`aicb controller\` as its own process (plain HTTP), leading; its memory is VmRSS/VmHWM from
  /proc/<pid>/status, its CPU from /proc/<pid>/stat. \`--controller src\` (the default) runs
  \`node src/cli/main.ts controller\` (Node's type stripping); \`--controller image\` compiles src/
  with tsconfig.build.json into a temp dir and runs it as the Dockerfile does (NODE_ENV=production,
  --max-semi-space-size=8). Each section names the one it used.
- For N = 100 and N = 1000: N pods labelled \`aicircuit.io/injected=true\` and one pod-bound
  token each (TokenRequest, audience \`aicircuit.io\`); N simulated sidecars
  (bench/simulated-sidecar.ts) in the benchmark process, each holding \`GET /v1/stream\` with its
  token and acknowledging every \`snapshot\` event at once with \`POST /v1/ack\`. They check the
  version (the snapshot's failureThreshold), not the policy itself.
- A warm-up apply (not counted), then rounds: t0 right before \`kubectl apply --server-side\` of
  the policy with a new \`spec.breaker.failureThreshold\` is spawned; each sidecar's propagation
  is the time it sent its ack for that version, minus t0. So it includes kubectl's own start,
  the API server, the watch, the controller's 50 ms debounce and reconcile, the SSE write and
  the simulated sidecar's event loop. One second of quiet between rounds.
- For comparison, the controller's own \`aicb_controller_propagation_seconds\` (from the
  controller seeing the change to the ack), as bucket bounds.
- Everything shares one machine: the simulated sidecars compete with the controller and the API
  server for the same cores, which a real fleet on other nodes would not. Other processes' CPU
  during the run is reported.

## Targets (issue 6, "Benchmark")

- p99 propagation ≤ 1 s with 100 sidecar streams, ≤ 3 s with 1000
- controller RSS ≤ 150 MB with 1000 streams
`;

// ---------------------------------------------------------------------------------------------

const watchdog = setTimeout(() => {
  log(`still running after ${WATCHDOG_MS / 60_000} minutes: giving up`);
  void cleanup().finally(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();

let run: Run;
try {
  if (!NODE_VERSION.startsWith('v24.'))
    log(`warning: the controller runs on Node ${NODE_VERSION}; the pinned toolchain is Node 24`);
  run = await measure();
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (controllerLog !== undefined) log(`controller log (last lines):\n${tail(controllerLog)}`);
  await cleanup();
  process.exit(1);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
const section = report(run);
console.log(`\n${section}`);
if (!flags['no-write']) {
  await appendResults(RESULTS_FILE, PREAMBLE, section);
  log(`appended to ${RESULTS_FILE}`);
}
