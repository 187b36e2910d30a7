// `npm run bench:profile`: where the sidecar's time and memory go under the load of
// `npm run bench:table`. For each scenario a fresh sidecar (dist/, real CLI) runs with
// --cpu-prof; half-way through the load it writes a heap snapshot (--heapsnapshot-signal), and
// at exit the CPU profile. The script then prints, per scenario, the functions with the most
// self time, self time by package or source file, and the heap's largest object groups by
// constructor. The files stay in the printed directory for Chrome DevTools.
//
// Scenarios (AICB_PROFILE_SCENARIOS="1kb 1mb" picks some):
//   1kb        wrk -c32, 1 KB chat requests, no fallback
//   1mb        wrk -c32, 1 MB chat requests, no fallback
//   1mb-cross  wrk -c32, 1 MB chat requests to an upstream with an unused cross-format fallback
//   stream-x   16 concurrent OpenAI-format streams served by a forced Anthropic fallback
//   streams    1000 concurrent slow streams held open (memory per stream: read the heap part)
//
// Everything binds 127.0.0.1 and is stopped by PID. AICB_BENCH_SKIP_BUILD=1 skips the build.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { ChildProcesses, startSidecar } from './child-processes.ts';
import type { LeanOrigins } from './lean-upstreams.ts';
import { buildDist, table } from './run-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
const SECONDS = Number(process.env.AICB_PROFILE_SECONDS ?? 8);
const TOP = 15;
/** Snapshots are summarised with one JSON.parse; V8 strings stop at 512 MB. */
const MAX_SNAPSHOT_BYTES = 400 * 2 ** 20;
const ALL = ['1kb', '1mb', '1mb-cross', 'stream-x', 'streams'] as const;
type Scenario = (typeof ALL)[number];
const SCENARIOS = (process.env.AICB_PROFILE_SCENARIOS ?? ALL.join(' '))
  .split(/[\s,]+/)
  .filter((s): s is Scenario => (ALL as readonly string[]).includes(s));

const processes = new ChildProcesses(ROOT, 'bench:profile');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void processes.stopAll().finally(() => process.exit(130)));
}
const log = (line: string) => {
  console.error(`[bench:profile ${new Date().toISOString().slice(11, 19)}] ${line}`);
};

function chatBody(bytes: number, stream = false): string {
  const base = {
    model: 'gpt-4o-mini',
    ...(stream ? { stream: true } : {}),
    messages: [
      { role: 'system', content: '' },
      { role: 'user', content: 'Hello.' },
    ],
  };
  const pad = bytes - JSON.stringify(base).length;
  base.messages[0] = { role: 'system', content: 'x'.repeat(Math.max(0, pad)) };
  return JSON.stringify(base);
}

const dir = mkdtempSync(join(tmpdir(), 'aicb-profile-'));

function wrkScript(name: string, body: string): string {
  const file = join(dir, `${name}.lua`);
  writeFileSync(
    file,
    `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = [==[${body}]==]\n`,
  );
  return file;
}

const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
/** One POST to its end; a failed one counts as done (the load goes on; profiles are the point). */
function post(url: string, body: string): Promise<void> {
  return new Promise((resolvePost) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', resolvePost);
        res.on('error', () => {
          resolvePost();
        });
      },
    );
    req.on('error', () => {
      resolvePost();
    });
    req.end(body);
  });
}

/** Runs `load` for SECONDS; asks for the heap snapshot half-way. */
async function underLoad(pid: number, load: (deadline: number) => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + SECONDS * 1000;
  const snapshot = sleep((SECONDS * 1000) / 2).then(() => process.kill(pid, 'SIGUSR2'));
  await Promise.all([load(deadline), snapshot]);
}

async function scenario(name: Scenario, policy: string): Promise<string> {
  const out = join(dir, name);
  // --diagnostic-dir must exist: the snapshot is silently not written otherwise.
  mkdirSync(out);
  const sc = await startSidecar(processes, {
    name: `sidecar ${name}`,
    node: NODE,
    nodeFlags: [
      '--cpu-prof',
      `--cpu-prof-dir=${out}`,
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${out}`,
    ],
    root: ROOT,
    policy,
    env: { BENCH_ANTHROPIC_KEY: 'sk-ant-bench' },
  });
  const path = '/v1/chat/completions';
  const wrk = (upstream: string, bytes: number) => async (deadline: number) => {
    const seconds = Math.max(1, Math.round((deadline - Date.now()) / 1000));
    await processes.run(
      'wrk',
      'wrk',
      [
        '-t1',
        '-c32',
        `-d${seconds}s`,
        '-s',
        wrkScript(`${name}-${bytes}`, chatBody(bytes)),
        `${sc.url}/${upstream}${path}`,
      ],
      (seconds + 20) * 1000,
    );
  };
  log(`${name}: load for ${SECONDS} s`);
  switch (name) {
    case '1kb':
      await underLoad(sc.proc.pid, wrk('openai', 1024));
      break;
    case '1mb':
      await underLoad(sc.proc.pid, wrk('openai', 1024 * 1024));
      break;
    case '1mb-cross':
      await underLoad(sc.proc.pid, wrk('openaix', 1024 * 1024));
      break;
    case 'stream-x':
      await underLoad(sc.proc.pid, (deadline) =>
        Promise.all(
          Array.from({ length: 16 }, async () => {
            while (Date.now() < deadline)
              await post(`${sc.url}/xstream${path}`, chatBody(1024, true));
          }),
        ),
      );
      break;
    case 'streams':
      await underLoad(sc.proc.pid, () =>
        Promise.all(
          Array.from({ length: 1000 }, () => post(`${sc.url}/slow${path}`, chatBody(1024, true))),
        ),
      );
      break;
  }
  // Let the snapshot finish writing before the exit that writes the CPU profile.
  for (let i = 0; i < 100 && !readdirSync(out).some((f) => f.endsWith('.heapsnapshot')); i++) {
    await sleep(200);
  }
  await processes.stop(sc.proc);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading the profiles

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function and per package/file, as shares of all samples. */
function cpuSummary(file: string): { functions: string[][]; files: string[][]; totalMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const fn = new Map<string, number>();
  const where = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (f === undefined) continue;
    total += us;
    const place = origin(f.url);
    const key = `${f.functionName || '(anonymous)'} ${place}${f.url === '' ? '' : `:${f.lineNumber + 1}`}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    where.set(place, (where.get(place) ?? 0) + us);
  }
  const top = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([k, us]) => [k, `${((100 * us) / total).toFixed(1)}%`, (us / 1000).toFixed(0)]);
  return { functions: top(fn), files: top(where), totalMs: total / 1000 };
}

/** `undici/lib/...` for packages, `src/...` for ours, `node:...` for Node's own, else the tag. */
function origin(url: string): string {
  if (url === '') return '(native / VM)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url;
  if (url.startsWith('file://')) return relative(ROOT, new URL(url).pathname);
  return url;
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size by node type and name (constructor), the heap snapshot's "summary" view. */
function heapSummary(file: string): { rows: string[][]; totalMb: number } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const groups = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?';
    const size = snap.nodes[i + sizeAt] ?? 0;
    const name =
      type === 'object' || type === 'native'
        ? (snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '?')
        : `(${type})`;
    const g = groups.get(name) ?? { bytes: 0, count: 0 };
    g.bytes += size;
    g.count++;
    groups.set(name, g);
    total += size;
  }
  const rows = [...groups]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, TOP)
    .map(([name, g]) => [name.slice(0, 60), String(g.count), (g.bytes / 2 ** 20).toFixed(2)]);
  return { rows, totalMb: total / 2 ** 20 };
}

// ---------------------------------------------------------------------------------------------

try {
  buildDist(ROOT, NODE, process.env.AICB_BENCH_SKIP_BUILD === '1', log);
  const providers = processes.start('providers', NODE, [join(ROOT, 'bench', 'lean-upstreams.ts')]);
  const origins = JSON.parse(await processes.firstLine(providers, 10_000)) as LeanOrigins;
  const policy = join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'aicircuit.io/v1alpha1',
      kind: 'AICircuitPolicy',
      metadata: { name: 'profile' },
      spec: {
        upstreams: [
          { name: 'openai', provider: 'openai', baseURL: origins.openai },
          { name: 'openaix', provider: 'openai', baseURL: origins.openai },
          { name: 'xstream', provider: 'openai', baseURL: origins.stream },
          { name: 'slow', provider: 'openai', baseURL: origins.slow },
          {
            name: 'anthropic',
            provider: 'anthropic',
            baseURL: origins.anthropic,
            apiKey: { env: 'BENCH_ANTHROPIC_KEY' },
          },
        ],
        fallbacks: [
          { from: 'openaix', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] },
          { from: 'xstream', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] },
        ],
        overrides: [{ upstream: 'xstream', state: 'forcedOpen' }],
      },
    }),
  );
  for (const name of SCENARIOS) {
    const out = await scenario(name, policy);
    const files = readdirSync(out);
    const cpu = files.find((f) => f.endsWith('.cpuprofile'));
    const heap = files.find((f) => f.endsWith('.heapsnapshot'));
    console.log(`\n## ${name} (${out})\n`);
    if (cpu !== undefined) {
      const s = cpuSummary(join(out, cpu));
      console.log(`CPU profile: ${s.totalMs.toFixed(0)} ms sampled\n`);
      console.log(table([['top self time: function, file:line', 'self', 'ms'], ...s.functions]));
      console.log('');
      console.log(table([['self time by package / file', 'self', 'ms'], ...s.files]));
    } else {
      console.log('no CPU profile was written (the sidecar did not exit cleanly)');
    }
    const heapBytes = heap === undefined ? 0 : statSync(join(out, heap)).size;
    if (heap !== undefined && heapBytes > MAX_SNAPSHOT_BYTES) {
      console.log(
        `\nHeap snapshot of ${(heapBytes / 2 ** 20).toFixed(0)} MB: too large to summarise here; open it in DevTools.`,
      );
    } else if (heap !== undefined) {
      const h = heapSummary(join(out, heap));
      console.log(
        `\nHeap snapshot half-way through the load: ${h.totalMb.toFixed(1)} MB of objects\n`,
      );
      console.log(table([['constructor / type', 'objects', 'self MB'], ...h.rows]));
    }
  }
} finally {
  await processes.stopAll();
}
