// A real Kubernetes control plane for tests: etcd and kube-apiserver as child processes on free
// loopback ports, in a fresh temporary directory (the envtest recipe:
// etcd first, then kube-apiserver against it). Binaries come from
// tools/kube-testenv/build.sh, which honours KUBEBUILDER_ASSETS and caches its builds.
//
// Process hygiene: each binary runs in its own process group (detached) and is stopped by group
// id: on stop(), on process exit or SIGINT/SIGTERM of this process, and, should this process be
// killed outright (SIGKILL, OOM), by a small watchdog shell that outlives it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';

export const BINARIES = ['kube-apiserver', 'etcd', 'helm'] as const;

/** How to provide the binaries; part of every "not available" message. */
export const HOW_TO_PROVIDE =
  'The cluster tests need kube-apiserver, etcd and helm. Provide them either way:\n' +
  '  1. set KUBEBUILDER_ASSETS to a directory holding executable kube-apiserver, etcd and helm\n' +
  '     (Kubernetes 1.34, etcd 3.6, helm 3), or\n' +
  '  2. install Go >= 1.24 with access to the Go module proxy (GOPROXY, default\n' +
  '     https://proxy.golang.org); tools/kube-testenv/build.sh then builds them once\n' +
  '     (~4 minutes, ~1.8 GB memory on 2 cores) into ~/.cache/ai-circuit-breaker/kube-testenv/.';

export type AssetsResult =
  { readonly ok: true; readonly dir: string } | { readonly ok: false; readonly reason: string };

/**
 * Runs tools/kube-testenv/build.sh: it prints KUBEBUILDER_ASSETS when that holds the binaries,
 * else the cache directory, building into it first when needed (progress on our stderr).
 */
export async function findOrBuildAssets(repoRoot: string): Promise<AssetsResult> {
  const script = join(repoRoot, 'tools', 'kube-testenv', 'build.sh');
  const child = spawn('bash', [script], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    process.stderr.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      stderr += `${err.message}\n`;
      resolve(null);
    });
    child.on('close', resolve);
  });
  const dir = stdout.trim().split('\n').at(-1) ?? '';
  if (code === 0 && dir !== '' && BINARIES.every((b) => existsSync(join(dir, b)))) {
    return { ok: true, dir };
  }
  const errors = stderr
    .split('\n')
    .filter((l) => l.includes('ERROR') || l.includes('KUBEBUILDER_ASSETS='))
    .map((l) => l.replace(/^kube-testenv: /, ''));
  return {
    ok: false,
    reason:
      `tools/kube-testenv/build.sh exited with ${code === null ? 'an error' : `code ${code}`}` +
      (errors.length > 0 ? `: ${errors.join('; ')}` : ''),
  };
}

export interface ControlPlane {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly token: string;
  readonly assetsDir: string;
  readonly kubectlCacheDir: string;
  /** Milliseconds from spawning etcd to the API server's /readyz answering ok. */
  readonly startMs: number;
  /** Milliseconds from spawning etcd to its /health answering true. */
  readonly etcdMs: number;
  /** Stops kube-apiserver, then etcd (by process group), and deletes the directory. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;
const USER = 'envtest-admin';

/** Starts etcd and kube-apiserver from `assetsDir`; resolves once /readyz says ok. */
export async function startControlPlane(assetsDir: string): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'aicb-kube-testenv-'));
  const certDir = join(dir, 'certs');
  const kubectlCacheDir = join(dir, 'kubectl-cache');
  mkdirSync(certDir);
  mkdirSync(kubectlCacheDir);
  const groups = new ProcessGroups(dir);
  try {
    const token = randomBytes(24).toString('hex');
    await writeFile(join(dir, 'tokens.csv'), `${token},${USER},uid-${USER},"system:masters"\n`);
    openssl(['genrsa', '-out', join(dir, 'sa.key'), '2048']);
    openssl(['rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
    const [etcdPort, peerPort, apiPort] = await freePorts(3);
    const etcdURL = `http://127.0.0.1:${etcdPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const t0 = performance.now();
    const etcd = groups.spawn('etcd', join(assetsDir, 'etcd'), [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdURL}`,
      `--advertise-client-urls=${etcdURL}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await waitUntil('etcd', etcd, dir, async () => {
      const r = await get(`${etcdURL}/health`);
      return r.status === 200 && r.body.includes('"health":"true"');
    });
    const etcdMs = performance.now() - t0;

    const apiserver = groups.spawn('kube-apiserver', join(assetsDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdURL}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
    ]);
    // kube-apiserver writes a self-signed serving cert into --cert-dir before it serves; the
    // readiness probe trusts exactly that file, so it also proves the kubeconfig's CA is right.
    const caFile = join(certDir, 'apiserver.crt');
    await waitUntil('kube-apiserver', apiserver, dir, async () => {
      if (!existsSync(caFile)) return false;
      const r = await get(`${server}/readyz`, readFileSync(caFile));
      return r.status === 200 && r.body === 'ok';
    });
    const startMs = performance.now() - t0;

    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'kube-testenv', cluster: { server, 'certificate-authority': caFile } }],
        users: [{ name: USER, user: { token } }],
        contexts: [{ name: 'kube-testenv', context: { cluster: 'kube-testenv', user: USER } }],
        'current-context': 'kube-testenv',
      }),
      { mode: 0o600 },
    );
    return {
      dir,
      kubeconfig,
      server,
      token,
      assetsDir,
      kubectlCacheDir,
      startMs,
      etcdMs,
      stop: () => groups.stop(),
    };
  } catch (err) {
    await groups.stop();
    throw err;
  }
}

/** The child processes of one control plane, each the leader of its own process group. */
class ProcessGroups {
  private readonly children: ChildProcess[] = [];
  private watchdog: ChildProcess | undefined;
  private stopped = false;
  private readonly onExit = (): void => {
    this.killNow();
  };
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.killNow();
    // Our listener suppressed the default action; restore it unless someone else handles it.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    process.on('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  spawn(name: string, binary: string, args: readonly string[]): ChildProcess {
    const log = openSync(join(this.dir, `${name}.log`), 'a');
    try {
      const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
      child.on('error', () => {
        // Reported by waitUntil (exitCode/pid); keeps the error from being unhandled.
      });
      if (child.pid === undefined) throw new Error(`could not start ${binary}`);
      this.children.push(child);
      this.restartWatchdog();
      return child;
    } finally {
      closeSync(log);
    }
  }

  /** Graceful stop: SIGTERM (apiserver first, then etcd), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopWatchdog();
    for (const child of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) =>
        child.once('exit', () => {
          resolve();
        }),
      );
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
      }, STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    this.detach();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort, for 'exit' and signals: SIGKILL every group, delete the dir. */
  private killNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopWatchdog();
    for (const child of [...this.children].reverse()) killGroup(child, 'SIGKILL');
    this.detach();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private detach(): void {
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** A shell that kills the groups and deletes the dir once this process is gone. */
  private restartWatchdog(): void {
    this.stopWatchdog();
    const pids = this.children.map((c) => `-${String(c.pid)}`).join(' ');
    const script =
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
      `kill -KILL -- ${pids} 2>/dev/null; rm -rf "$2"`;
    this.watchdog = spawn(
      'bash', // dash's kill has no `--` for process groups
      ['-c', script, 'kube-testenv-watchdog', String(process.pid), this.dir],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog?.pid !== undefined && this.watchdog.exitCode === null) {
      try {
        process.kill(-this.watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.watchdog = undefined;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

function openssl(args: readonly string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error !== undefined)
    throw new Error(`openssl is needed to make the service account keys: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** Free loopback ports: all bound at once (so distinct), then released for the children. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => {
            resolve(s);
          });
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Polls `ready` until true; fails early with the log tail when the process exits. */
async function waitUntil(
  name: string,
  child: ChildProcess,
  dir: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited (${String(child.exitCode ?? child.signalCode)}) before it was ready:\n${logTail(dir, name)}`,
      );
    }
    if (await ready().catch(() => false)) return;
    if (performance.now() > deadline) {
      throw new Error(
        `${name} was not ready after ${READY_TIMEOUT_MS / 1000}s:\n${logTail(dir, name)}`,
      );
    }
    await sleep(50);
  }
}

function logTail(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, `${name}.log`), 'utf8')
      .split('\n')
      .slice(-30)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', timeout: 2000, ...(ca ? { ca } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => {
      req.destroy(new Error('timeout'));
    });
    req.on('error', reject);
    req.end();
  });
}
