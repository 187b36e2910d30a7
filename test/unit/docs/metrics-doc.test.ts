import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredMetricNames, SidecarMetrics } from '../../../src/dataplane/sidecar-metrics.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

describe('docs/metrics.md', () => {
  it('lists exactly the metrics the sidecar declares', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` +\|/gm)].map((m) => m[1] ?? '').sort();
    expect(documented).toEqual(
      declaredMetricNames(new SidecarMetrics({ collectProcessMetrics: false })),
    );
  });
});
