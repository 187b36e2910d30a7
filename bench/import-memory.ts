// `npm run build && node bench/import-memory.ts`: what each module the sidecar loads costs in
// resident memory, to decide what to load lazily. Every module is imported alone in a fresh
// `node --expose-gc` process; after a full GC the process reports RSS and V8 heap, and the bare
// process (nothing imported) is subtracted. The project's own modules are measured from dist/
// (what the image runs: no type stripping), so dependencies they load count towards them. The
// rows of the first table are independent, not additive: two modules that share a dependency
// both include it, and the first package loaded also pays for Node's module loader code. The
// second table loads them one after another, each row adding one, so its increments add up.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { table } from './run-context.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PINNED_NODE = join(ROOT, 'node_modules', '.bin', 'node');
const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;
const RUNS = 3;

const dist = (path: string) => pathToFileURL(join(ROOT, 'dist', path)).href;

/** [label, specifier]; an empty specifier is the bare process. */
const MODULES: readonly (readonly [string, string])[] = [
  ['(bare node)', ''],
  ['fastify', 'fastify'],
  ['undici', 'undici'],
  ['zod', 'zod'],
  ['pino', 'pino'],
  ['prom-client', 'prom-client'],
  ['yaml', 'yaml'],
  ['@kubernetes/client-node', '@kubernetes/client-node'],
  ['dist/policy/policy-schema.js (zod schemas)', dist('policy/policy-schema.js')],
  ['dist/snapshot/snapshot.js', dist('snapshot/snapshot.js')],
  ['dist/dataplane/sidecar-metrics.js', dist('dataplane/sidecar-metrics.js')],
  ['dist/dataplane/build-sidecar.js', dist('dataplane/build-sidecar.js')],
  ['dist/dataplane/config/standalone-policy.js', dist('dataplane/config/standalone-policy.js')],
  ['dist/dataplane/controller-client.js', dist('dataplane/controller-client.js')],
  ['dist/cli/sidecar-command.js (all of aicb sidecar)', dist('cli/sidecar-command.js')],
];

const PROBE = `
for (const spec of process.argv.slice(1)) if (spec) await import(spec);
for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
const m = process.memoryUsage();
console.log(JSON.stringify({ rss: m.rss, heap: m.heapUsed, external: m.external }));
`;

interface Reading {
  readonly rss: number;
  readonly heap: number;
  readonly external: number;
}

function probe(...specs: string[]): Reading {
  const readings: Reading[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = spawnSync(NODE, ['--expose-gc', '--input-type=module', '-e', PROBE, ...specs], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (out.status !== 0) throw new Error(`importing ${specs.join(', ')} failed:\n${out.stderr}`);
    readings.push(JSON.parse(out.stdout) as Reading);
  }
  // The median run by RSS: page-cache and allocator noise are a few hundred KB either way.
  readings.sort((a, b) => a.rss - b.rss);
  const median = readings[Math.floor(RUNS / 2)];
  if (median === undefined) throw new Error('no reading');
  return median;
}

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run npm run build first');
  process.exit(2);
}
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const bare = probe('');
const rows = MODULES.map(([label, spec]) => {
  const r = spec === '' ? bare : probe(spec);
  return spec === ''
    ? [label, mb(r.rss), '', mb(r.heap), '']
    : [label, mb(r.rss), `+${mb(r.rss - bare.rss)}`, mb(r.heap), `+${mb(r.heap - bare.heap)}`];
});
console.log(
  `Node ${spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()}, median of ${RUNS} runs, after a full GC`,
);
console.log(table([['module imported alone', 'RSS MB', 'added', 'V8 heap MB', 'added'], ...rows]));

/** One after another, in the order a lean sidecar would need them: each row adds one. */
const CUMULATIVE: readonly (readonly [string, string])[] = [
  ['+ node:http', 'node:http'],
  ['+ undici Pool alone (lib/dispatcher/pool.js)', 'undici/lib/dispatcher/pool.js'],
  ['+ the rest of undici (its index)', 'undici'],
  ['+ pino', 'pino'],
  ['+ prom-client', 'prom-client'],
  ['+ zod', 'zod'],
  ['+ fastify', 'fastify'],
  ['+ yaml', 'yaml'],
  ['+ dist/cli/sidecar-command.js (all of aicb sidecar)', dist('cli/sidecar-command.js')],
];
const cumulative: string[][] = [];
let before = bare;
const loaded: string[] = [];
for (const [label, spec] of CUMULATIVE) {
  loaded.push(spec);
  const r = probe(...loaded);
  cumulative.push([
    label,
    mb(r.rss),
    `+${mb(r.rss - before.rss)}`,
    mb(r.heap),
    `+${mb(r.heap - before.heap)}`,
  ]);
  before = r;
}
console.log('');
console.log(
  table([['loaded one after another', 'RSS MB', 'added', 'V8 heap MB', 'added'], ...cumulative]),
);
