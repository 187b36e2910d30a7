import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../src/controlplane/controller-metrics.ts';
import { declaredMetricNames, SidecarMetrics } from '../../../src/dataplane/sidecar-metrics.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';
import { metricDefinitions } from '../../support/metric-definitions.ts';

describe('docs/metrics.md', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
  /** The tables' rows: metric name and the label names of its Labels column. */
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` +\| [a-z]+ +\| ([^|]*)\|/gm)].map((m) => ({
    name: m[1] ?? '',
    labels: [...(m[2] ?? '').matchAll(/`([a-z_]+)`/g)].map((l) => l[1] ?? ''),
  }));
  const sidecar = new SidecarMetrics({ collectProcessMetrics: false });
  const controller = new ControllerMetrics({ collectProcessMetrics: false });

  it('lists exactly the metrics the sidecar and the controller declare', () => {
    expect(rows.map((r) => r.name).sort()).toEqual(
      [
        ...declaredMetricNames(sidecar),
        ...controller.registry.getMetricsAsArray().map((m) => m.name),
      ].sort(),
    );
  });

  it('gives each metric the labels it is declared with, in order', () => {
    const line = (m: { name: string; labels: readonly string[] }) =>
      `${m.name} {${m.labels.join(', ')}}`;
    const declared = [
      ...metricDefinitions(sidecar.registry),
      ...metricDefinitions(controller.registry),
    ].map((m) => line({ name: m.name, labels: m.labelNames }));
    expect(rows.map(line).sort()).toEqual(declared.sort());
  });
});
