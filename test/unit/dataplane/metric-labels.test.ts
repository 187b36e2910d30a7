/**
 * One name for the upstream in metric labels: `provider` (the guide's `circuit_breaker_*` metrics
 * fix it). Read from the registry's own definitions, so a metric added later is covered too.
 */
import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../src/controlplane/controller-metrics.ts';
import { SidecarMetrics } from '../../../src/dataplane/sidecar-metrics.ts';
import { metricDefinitions } from '../../support/metric-definitions.ts';

describe('metric labels', () => {
  const sidecar = metricDefinitions(new SidecarMetrics({ collectProcessMetrics: false }).registry);

  it('no sidecar or controller metric has a label named upstream', () => {
    const controller = metricDefinitions(
      new ControllerMetrics({ collectProcessMetrics: false }).registry,
    );
    expect(sidecar.length).toBeGreaterThan(20);
    expect(
      [...sidecar, ...controller]
        .filter((m) => m.labelNames.includes('upstream'))
        .map((m) => m.name),
    ).toEqual([]);
  });

  it('labels the upstream provider on the guide metrics and on requests, tokens and cost', () => {
    const labels = (name: string) => sidecar.find((m) => m.name === name)?.labelNames;
    expect(labels('circuit_breaker_state')).toEqual(['provider', 'endpoint']);
    expect(labels('circuit_breaker_failures_total')).toEqual(['provider', 'endpoint', 'reason']);
    expect(labels('circuit_breaker_state_changes_total')).toEqual([
      'provider',
      'from_state',
      'to_state',
    ]);
    expect(labels('aicb_requests_total')).toEqual(['provider', 'endpoint', 'result']);
    expect(labels('aicb_tokens_total')).toEqual(['provider', 'model', 'kind']);
    expect(labels('aicb_cost_usd_total')).toEqual(['provider', 'model']);
  });
});
