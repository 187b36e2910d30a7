// The child processes a benchmark starts: each is registered when spawned, its output kept for
// error messages, and all of them stopped by PID (SIGTERM, then SIGKILL after 3 s) when the run
// ends or is interrupted. Also the pieces every benchmark needs around them: a free loopback
// port (re-exported from test/support), waiting for an HTTP endpoint, and a sidecar from dist/
// on a policy file.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/support/free-port.ts';

export { freePort };

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** Last few KB of stdout + stderr, for error messages. */
  output(): string;
}

const TAIL_BYTES = 8192;
const STOP_GRACE_MS = 3000;

export class ChildProcesses {
  readonly #running = new Map<number, Proc>();
  readonly #cwd: string;
  readonly #logPrefix: string;
  #stopping: Promise<void> | undefined;

  /** `logPrefix` names the benchmark in the lines printed when stopping a child fails. */
  constructor(cwd: string, logPrefix: string) {
    this.#cwd = cwd;
    this.#logPrefix = logPrefix;
  }

  /** PIDs of the children still running (for CPU accounting). */
  pids(): IterableIterator<number> {
    return this.#running.keys();
  }

  isRunning(proc: Proc): boolean {
    return this.#running.has(proc.pid);
  }

  start(name: string, file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Proc {
    const child = spawn(file, args, {
      cwd: this.#cwd,
      env: env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${name} (${file})`);
    let out = '';
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    });
    const exited = new Promise<number | null>((resolveExit) => {
      child.once('exit', (code) => {
        this.#running.delete(pid);
        resolveExit(code);
      });
    });
    const proc: Proc = { name, pid, child, exited, stdout: () => out, output: () => tail };
    this.#running.set(pid, proc);
    return proc;
  }

  async stop(proc: Proc): Promise<void> {
    if (!this.#running.has(proc.pid)) return;
    process.kill(proc.pid, 'SIGTERM');
    const gone = await Promise.race([
      proc.exited.then(() => true),
      sleep(STOP_GRACE_MS).then(() => false),
    ]);
    if (!gone && this.#running.has(proc.pid)) {
      process.kill(proc.pid, 'SIGKILL');
      await proc.exited;
    }
  }

  /** Runs a child to completion (stopped after `timeoutMs`) and returns its stdout. */
  async run(
    name: string,
    file: string,
    args: readonly string[],
    timeoutMs: number,
  ): Promise<string> {
    const proc = this.start(name, file, args);
    const timer = setTimeout(() => void this.stop(proc), timeoutMs);
    const code = await proc.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`${name} exited with ${String(code)}:\n${proc.output()}`);
    return proc.stdout();
  }

  /** The first line the child prints on stdout (children announce their addresses that way). */
  async firstLine(proc: Proc, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = proc.stdout();
      const nl = text.indexOf('\n');
      if (nl !== -1) return text.slice(0, nl);
      if (!this.isRunning(proc)) throw new Error(`${proc.name} exited:\n${proc.output()}`);
      if (Date.now() > deadline) {
        throw new Error(`${proc.name} printed nothing in ${timeoutMs} ms:\n${proc.output()}`);
      }
      await sleep(10);
    }
  }

  /** Polls `url` until it answers with a status `ok` accepts; fails if the child exits first. */
  async waitForHttp(
    url: string,
    proc: Proc,
    ok: (status: number) => boolean = (status) => status === 200,
  ): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (!this.isRunning(proc)) throw new Error(`${proc.name} exited:\n${proc.output()}`);
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (ok(res.status)) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`${proc.name} not ready at ${url}:\n${proc.output()}`);
  }

  /** Stops every child, newest first; safe to call more than once (signal handler and finally). */
  stopAll(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const proc of [...this.#running.values()].reverse()) {
        try {
          await this.stop(proc);
        } catch (error) {
          console.error(
            `[${this.#logPrefix}] stopping ${proc.name} (pid ${proc.pid}): ${String(error)}`,
          );
        }
      }
    })();
    return this.#stopping;
  }
}

export interface Sidecar {
  readonly proc: Proc;
  readonly url: string;
  readonly adminUrl: string;
}

export interface SidecarOptions {
  readonly name: string;
  /** The Node binary and the flags it runs with. */
  readonly node: string;
  readonly nodeFlags: readonly string[];
  /** The repository root; the sidecar runs from its dist/. */
  readonly root: string;
  readonly policy: string;
  /** Extra environment (the fallback's API key). */
  readonly env: NodeJS.ProcessEnv;
}

/** `aicb sidecar` from dist/ on free ports, logging warnings only; resolves once it is ready. */
export async function startSidecar(processes: ChildProcesses, o: SidecarOptions): Promise<Sidecar> {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = processes.start(
    o.name,
    o.node,
    [
      ...o.nodeFlags,
      join(o.root, 'dist', 'cli', 'main.js'),
      'sidecar',
      '--config',
      o.policy,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--log-level',
      'warn',
    ],
    { ...process.env, ...o.env },
  );
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await processes.waitForHttp(`${adminUrl}/readyz`, proc);
  return { proc, url: `http://127.0.0.1:${port}`, adminUrl };
}
