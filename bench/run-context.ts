// What every benchmark records next to its numbers, and how it prepares a run: the code it
// measured (git revision, dist/ rebuilt or not), the machine, whether the machine was quiet, and
// the Markdown its results are written as.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { format, resolveConfig } from 'prettier';

/**
 * Rebuilds dist/ (same as `npm run build`) unless `skip`. tsc still emits when it finds type
 * errors, so a type error elsewhere in the tree (another change in progress) does not stop the
 * run: the files it names are returned, to be recorded with the results. No output at all is fatal.
 */
export function buildDist(
  root: string,
  node: string,
  skip: boolean,
  log: (line: string) => void,
): string | undefined {
  if (skip) {
    log('AICB_BENCH_SKIP_BUILD=1: using dist/ as it is');
    return undefined;
  }
  log('building dist/ (tsc -p tsconfig.build.json)');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const began = Date.now();
  const out = spawnSync(node, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  const main = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(main) || statSync(main).mtimeMs < began - 1000) {
    throw new Error(`build produced no dist/cli/main.js:\n${out.stdout}${out.stderr}`);
  }
  if (out.status === 0) return undefined;
  const files = [
    ...new Set([...out.stdout.matchAll(/^(\S+?)\(\d+,\d+\): error/gm)].map((m) => m[1])),
  ];
  log(`warning: tsc reported type errors (output emitted anyway):\n${out.stdout}`);
  return `tsc reported type errors in ${files.join(', ') || 'the tree'}; dist/ was emitted anyway`;
}

/**
 * The machine is shared (other sessions run tests on it): waits up to `maxWaitMs` for a 2 s
 * window in which processes the benchmark did not start use less than `quietCores`, then starts
 * regardless. Returns the load seen in the last window, in cores.
 */
export async function waitForQuiet(
  foreignLoad: () => () => number,
  o: { readonly maxWaitMs: number; readonly quietCores: number },
  log: (line: string) => void,
): Promise<number> {
  const deadline = Date.now() + o.maxWaitMs;
  for (;;) {
    const measure = foreignLoad();
    await sleep(2000);
    const load = measure();
    if (load < o.quietCores || Date.now() >= deadline) return load;
    log(`machine busy with other work (${load.toFixed(2)} cores); waiting for it to quieten`);
  }
}

/** The measured code: the commit, and whether src/ had uncommitted changes. */
export function revision(root: string): string {
  const git = (args: string[]) =>
    spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout.trim();
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head === '') return 'unknown (not a git checkout)';
  const dirty = git(['status', '--porcelain', '--', 'src']) !== '';
  return `${head}${dirty ? ' with uncommitted changes in src/' : ''}`;
}

/** CPU model, cores, memory and kernel, for the results header. */
export function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? '?';
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  return `${model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${kernel}`;
}

/** A Markdown table: the first row is the header (prettier aligns it when the file is written). */
export function table(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows;
  if (head === undefined) return '';
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...body.map(line)].join('\n');
}

/**
 * Appends a run's section to its results file (created with `preamble` the first time), then
 * formats the file in the repository's prettier style (aligned tables) so `prettier --check`
 * passes on it.
 */
export async function appendResults(
  file: string,
  preamble: string,
  section: string,
): Promise<void> {
  if (!existsSync(file)) writeFileSync(file, preamble);
  appendFileSync(file, `\n${section}`);
  const options = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(readFileSync(file, 'utf8'), { ...options, filepath: file }));
}
