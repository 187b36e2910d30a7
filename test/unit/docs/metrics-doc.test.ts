import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../src/controlplane/controller-metrics.ts';
import { declaredMetricNames, SidecarMetrics } from '../../../src/dataplane/sidecar-metrics.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

describe('docs/metrics.md', () => {
  it('lists exactly the metrics the sidecar and the controller declare', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` +\|/gm)].map((m) => m[1] ?? '').sort();
    const controller = new ControllerMetrics({ collectProcessMetrics: false }).registry
      .getMetricsAsArray()
      .map((m) => m.name);
    expect(documented).toEqual(
      [
        ...declaredMetricNames(new SidecarMetrics({ collectProcessMetrics: false })),
        ...controller,
      ].sort(),
    );
  });
});
