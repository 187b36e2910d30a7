import type { Registry } from 'prom-client';

/** A registered metric as declared: its name and label names (prom-client keeps them on the object). */
export interface MetricDefinition {
  readonly name: string;
  readonly labelNames: readonly string[];
}

/** Every metric registered in `registry`, with the label names it was declared with. */
export function metricDefinitions(registry: Registry): MetricDefinition[] {
  return registry.getMetricsAsArray().map((m) => ({
    name: m.name,
    labelNames: [...((m as { labelNames?: readonly string[] }).labelNames ?? [])],
  }));
}
