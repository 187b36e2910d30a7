// `npm run bench:memory`: the most memory the sidecar reaches under the worst loads its default
// limits allow, run with the Node flags the chart ships, to size the chart's sidecar memory
// limit (charts/ai-circuit-breaker/values.yaml, sidecar.resources.limits.memory). Peak is the
// kernel's high-water mark (VmHWM) after each phase, so nothing between samples is missed:
//
//   1. idle, after start-up
//   2. 32 connections of 1 KB chat requests (wrk, 8 s)
//   3. 1000 concurrent slow streams held open
//   4. large bodies: 16 clients each sending the largest body the sidecar accepts by default
//      (--max-body-bytes, 32 MiB) in a loop for 10 s to a plain upstream; the sum far exceeds the
//      global bound on buffered request bytes, so some are refused with 503
//   5. the same, to an upstream whose primary is forced open, so every body is translated for
//      a cross-format (Anthropic) fallback: the most copies a body can cause
//
// Prints the phases with their peaks and the statuses seen. AICB_BENCH_NODE_FLAGS overrides the
// chart's flags; AICB_BENCH_SKIP_BUILD=1 skips rebuilding dist/.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { ChildProcesses, startSidecar } from './child-processes.ts';
import type { LeanOrigins } from './lean-upstreams.ts';
import { hwmMb, rssMb } from './proc-stats.ts';
import { buildDist, table } from './run-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
const CHART_NODE_OPTIONS = (
  parse(readFileSync(join(ROOT, 'charts', 'ai-circuit-breaker', 'values.yaml'), 'utf8')) as {
    sidecar?: { nodeOptions?: string };
  }
).sidecar?.nodeOptions;
const NODE_FLAGS = (process.env.AICB_BENCH_NODE_FLAGS ?? CHART_NODE_OPTIONS ?? '')
  .split(/\s+/)
  .filter((f) => f !== '');
/** The sidecar's default --max-body-bytes. */
const MAX_BODY_BYTES = 32 * 2 ** 20;
const LARGE_CLIENTS = 16;
const LARGE_SECONDS = 10;

const processes = new ChildProcesses(ROOT, 'bench:memory');
const dir = mkdtempSync(join(tmpdir(), 'aicb-memory-'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void processes.stopAll().finally(() => process.exit(130)));
}
const log = (line: string) => {
  console.error(`[bench:memory ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

function chatBody(bytes: number, stream = false): Buffer {
  const head = `{"model":"gpt-4o-mini",${stream ? '"stream":true,' : ''}"messages":[{"role":"user","content":"`;
  const tail = '"}]}';
  return Buffer.from(head + 'x'.repeat(bytes - head.length - tail.length) + tail);
}

const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
function post(url: string, body: Buffer): Promise<number> {
  return new Promise((resolvePost) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolvePost(res.statusCode ?? 0);
        });
        res.on('error', () => {
          resolvePost(-1);
        });
      },
    );
    req.on('error', () => {
      resolvePost(-1);
    });
    req.end(body);
  });
}

function count(statuses: number[]): string {
  const byStatus = new Map<number, number>();
  for (const s of statuses) byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
  return [...byStatus]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s === -1 ? 'error' : s}×${n}`)
    .join(' ');
}

async function loop(
  url: string,
  body: Buffer,
  clients: number,
  seconds: number,
): Promise<number[]> {
  const deadline = Date.now() + seconds * 1000;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < deadline) statuses.push(await post(url, body));
    }),
  );
  return statuses;
}

try {
  buildDist(ROOT, NODE, process.env.AICB_BENCH_SKIP_BUILD === '1', log);
  const providers = processes.start('providers', NODE, [
    join(ROOT, 'bench', 'lean-upstreams.ts'),
    '--slow-chunks',
    '10',
    '--slow-chunk-ms',
    '500',
  ]);
  const o = JSON.parse(await processes.firstLine(providers, 10_000)) as LeanOrigins;
  const policy = join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'aicircuit.io/v1alpha1',
      kind: 'AICircuitPolicy',
      metadata: { name: 'memory' },
      spec: {
        upstreams: [
          { name: 'openai', provider: 'openai', baseURL: o.openai },
          { name: 'slow', provider: 'openai', baseURL: o.slow },
          { name: 'xlate', provider: 'openai', baseURL: o.openai },
          {
            name: 'anthropic',
            provider: 'anthropic',
            baseURL: o.anthropic,
            apiKey: { env: 'BENCH_ANTHROPIC_KEY' },
          },
        ],
        fallbacks: [{ from: 'xlate', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] }],
        overrides: [{ upstream: 'xlate', state: 'forcedOpen' }],
      },
    }),
  );
  log(`starting the sidecar (Node flags: ${NODE_FLAGS.join(' ') || 'none'})`);
  const sc = await startSidecar(processes, {
    name: 'sidecar',
    node: NODE,
    nodeFlags: NODE_FLAGS,
    root: ROOT,
    policy,
    env: { BENCH_ANTHROPIC_KEY: 'sk-ant-bench' },
  });
  const pid = sc.proc.pid;
  const path = '/v1/chat/completions';
  await sleep(3000);
  const rows: string[][] = [
    ['phase', 'RSS after, MB', 'peak so far (VmHWM), MB', 'statuses'],
    ['idle', rssMb(pid).toFixed(1), hwmMb(pid).toFixed(1), ''],
  ];

  log('32 connections, 1 KB');
  const script = join(dir, 'small.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = [==[${chatBody(1024).toString()}]==]\n`,
  );
  await processes.run(
    'wrk',
    'wrk',
    ['-t1', '-c32', '-d8s', '-s', script, `${sc.url}/openai${path}`],
    30_000,
  );
  rows.push(['32 connections, 1 KB, 8 s', rssMb(pid).toFixed(1), hwmMb(pid).toFixed(1), '']);

  log('1000 slow streams');
  const streams = await Promise.all(
    Array.from({ length: 1000 }, () => post(`${sc.url}/slow${path}`, chatBody(1024, true))),
  );
  rows.push(['1000 slow streams', rssMb(pid).toFixed(1), hwmMb(pid).toFixed(1), count(streams)]);

  const large = chatBody(MAX_BODY_BYTES - 1024);
  log(`${LARGE_CLIENTS} clients × 32 MiB bodies, same format`);
  const same = await loop(`${sc.url}/openai${path}`, large, LARGE_CLIENTS, LARGE_SECONDS);
  rows.push([
    `${LARGE_CLIENTS} clients × 32 MiB, same format, ${LARGE_SECONDS} s`,
    rssMb(pid).toFixed(1),
    hwmMb(pid).toFixed(1),
    count(same),
  ]);
  log(`${LARGE_CLIENTS} clients × 32 MiB bodies, translated for a cross-format fallback`);
  const cross = await loop(`${sc.url}/xlate${path}`, large, LARGE_CLIENTS, LARGE_SECONDS);
  rows.push([
    `${LARGE_CLIENTS} clients × 32 MiB, cross-format fallback, ${LARGE_SECONDS} s`,
    rssMb(pid).toFixed(1),
    hwmMb(pid).toFixed(1),
    count(cross),
  ]);
  console.log(`\nSidecar Node flags: ${NODE_FLAGS.join(' ') || 'none'}\n`);
  console.log(table(rows));
} finally {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
