/**
 * The operator docs as an operator uses them: the override the runbook builds is in force when
 * applied (its `until` is computed, an hour from now), and every PromQL expression in the docs
 * names series that exist (a histogram only has `_bucket`, `_sum` and `_count` series).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../src/controlplane/controller-metrics.ts';
import { SidecarMetrics } from '../../../src/dataplane/sidecar-metrics.ts';
import { compilePolicy } from '../../../src/snapshot/compile-snapshot.ts';
import { policyWarnings } from '../../../src/snapshot/policy-warnings.ts';
import { validatePolicy } from '../../../src/policy/validate-policy.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

const runbook = readFileSync(join(REPO_ROOT, 'docs/runbook.md'), 'utf8');

describe('docs/runbook.md override', () => {
  it('computes an until an hour from now, and the patch it builds is a valid override in force', () => {
    const lines = runbook.split('\n').map((l) => l.trim());
    const untilLine = lines.find((l) => l.startsWith('UNTIL=$('));
    const patchLine = lines.find((l) => l.startsWith('kubectl patch aicp'));
    expect(untilLine).toBeDefined();
    expect(patchLine).toBeDefined();
    // Run the doc's own shell: the UNTIL line, then print the -p argument the patch would send.
    const patchArg = /-p ('.*')$/.exec(patchLine ?? '')?.[1] ?? '';
    const script = `${untilLine ?? ''}\nprintf '%s\\n' "$UNTIL"\nprintf '%s' ${patchArg}`;
    const before = Date.now();
    const [until = '', patch = ''] = execFileSync('sh', ['-c', script], { encoding: 'utf8' }).split(
      '\n',
    );
    const untilMs = Date.parse(until);
    expect(untilMs - before).toBeGreaterThan(59 * 60_000);
    expect(untilMs - before).toBeLessThan(61 * 60_000);
    const spec = (JSON.parse(patch) as { spec: { overrides: unknown[] } }).spec;
    const result = validatePolicy({
      apiVersion: 'aicircuit.io/v1alpha1',
      kind: 'AICircuitPolicy',
      metadata: { name: 'chat-egress', namespace: 'shop' },
      spec: {
        upstreams: [{ name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' }],
        overrides: spec.overrides,
      },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const snapshot = compilePolicy(result.policy);
    expect(snapshot.overrides).toEqual([
      {
        upstream: 'openai',
        endpoint: null,
        state: 'forcedOpen',
        untilWallMs: untilMs,
        reason: 'INC-123 provider outage',
      },
    ]);
    expect(policyWarnings(snapshot, Date.now())).toEqual([]);
  });
});

describe('PromQL in the docs', () => {
  it('names only series the sidecar and the controller export (a histogram by _bucket, _sum, _count)', async () => {
    const series = new Set<string>();
    for (const registry of [
      new SidecarMetrics({ collectProcessMetrics: false }).registry,
      new ControllerMetrics({ collectProcessMetrics: false }).registry,
    ]) {
      for (const metric of await registry.getMetricsAsJSON()) {
        if (String(metric.type) === 'histogram') {
          for (const suffix of ['_bucket', '_sum', '_count']) series.add(`${metric.name}${suffix}`);
        } else series.add(metric.name);
      }
    }
    const docs = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).map((f) => `docs/${f}`)];
    const unknown: string[] = [];
    let queries = 0;
    for (const doc of docs.filter((d) => d.endsWith('.md'))) {
      for (const line of readFileSync(join(REPO_ROOT, doc), 'utf8').split('\n')) {
        // metrics.md's table declares metrics by their base names; everywhere else a name in
        // code is something to type into Prometheus, so it must be a series that exists.
        if (doc === 'docs/metrics.md' && line.startsWith('| `')) continue;
        for (const [, code] of line.matchAll(/`([^`]+)`/g)) {
          const names = [...(code ?? '').matchAll(/\b(?:aicb|circuit_breaker)_[a-z_]+\b/g)];
          if (names.length > 0 && /\(|==|>|</.test(code ?? '')) queries++;
          for (const [name] of names) {
            if (!series.has(name)) unknown.push(`${doc}: ${name} in \`${code ?? ''}\``);
          }
        }
      }
    }
    expect(queries).toBeGreaterThan(10);
    expect(unknown).toEqual([]);
  });
});
