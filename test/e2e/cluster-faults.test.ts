// The cluster tooling under faults (tools/kube-testenv/cluster-up.sh, cluster-down.sh): a
// kubelet that cannot start ends `up` with its last log lines and a clean host; an `up` killed
// halfway leaves a running cluster that a second `up` refuses to touch and that `down` removes
// completely.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { e2eEnv, waitFor } from './support/e2e-cluster.ts';
import { CLUSTER_DIR, leftovers } from './support/host-leftovers.ts';
import { KUBE_TESTENV, REPO_ROOT, runTool } from './support/tool-run.ts';

const env = e2eEnv();
const TITLE = 'cluster-up.sh and cluster-down.sh under faults';
const UP = join(KUBE_TESTENV, 'cluster-up.sh');
const DOWN = join(KUBE_TESTENV, 'cluster-down.sh');

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  it('a kubelet that cannot start ends up with its last log lines, and the host is left as found', async () => {
    const r = await runTool('bash', [UP], {
      timeoutMs: 300_000,
      env: { ...process.env, AICB_CLUSTER_KUBELET_FLAGS: '--no-such-flag' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kubelet exited before it was ready');
    expect(r.stderr).toMatch(/last lines of .*kubelet\.log[\s\S]*unknown flag: --no-such-flag/);
    expect(r.stderr).toContain('cluster down, host restored');
    expect(leftovers()).toEqual([]);
  });

  it('an up killed halfway: a second up refuses, and down removes everything', async () => {
    // The up runs in its own process group, so that killing it kills the script and its
    // children as a crash would, while the components it already started (own sessions) stay.
    const child = spawn('bash', [UP], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<void>((resolve) =>
      child.on('close', () => {
        resolve();
      }),
    );
    try {
      await waitFor(
        'the kubelet to be up',
        () => Promise.resolve(stderr.includes('kubelet ready') ? true : undefined),
        {
          timeoutMs: 180_000,
        },
      );
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
    expect(existsSync(CLUSTER_DIR)).toBe(true);
    expect(leftovers().some((l) => l.startsWith('process '))).toBe(true);

    const second = await runTool('bash', [UP], { timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`${CLUSTER_DIR} exists: a cluster is up`);
    // The refusal touched nothing: the crashed cluster's processes still run.
    expect(leftovers().some((l) => l.startsWith('process '))).toBe(true);

    const down = await runTool('bash', [DOWN], { timeoutMs: 300_000 });
    expect(down.stderr).toContain('cluster down, host restored');
    expect(down.code).toBe(0);
    expect(leftovers()).toEqual([]);
  });
});
