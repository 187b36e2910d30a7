/**
 * Turns breaker events into metrics and log lines. The breaker imports neither; this is the
 * only subscriber the data plane needs for them.
 */
import type { BreakerStateKind } from '../breaker/breaker-state.ts';
import type { Logger } from '../shared/create-logger.ts';
import { parseKey, type Circuits } from './circuits.ts';
import { STATE_GAUGE_VALUE, type SidecarMetrics } from './sidecar-metrics.ts';

/** Subscribes; returns the unsubscribe function. */
export function observeCircuits(
  circuits: Circuits,
  metrics: SidecarMetrics,
  logger: Logger,
): () => void {
  const refreshGauge = (upstream: string, endpoint: string) => {
    const worst = circuits.worstState(upstream, endpoint);
    // An evicted or removed circuit takes its series along (bounded cardinality).
    if (worst === undefined) metrics.circuitState.remove({ provider: upstream, endpoint });
    else metrics.circuitState.set({ provider: upstream, endpoint }, STATE_GAUGE_VALUE[worst]);
  };
  const events = circuits.registry.events;
  const offChange = events.on('stateChange', (e) => {
    const { upstream, endpoint, model } = parseKey(e.key);
    refreshGauge(upstream, endpoint);
    const outage = circuits.outages.observe(e);
    if (outage.kind === 'started') metrics.circuitOpenings.inc({ provider: upstream, endpoint });
    if (outage.kind === 'ended') {
      metrics.circuitOpenDuration.observe(
        { provider: upstream, endpoint },
        outage.durationMs / 1000,
      );
    }
    metrics.circuitStateChanges.inc({ provider: upstream, from_state: e.from, to_state: e.to });
    const fields = {
      upstream,
      endpoint,
      ...(model === undefined ? {} : { model }),
      from: e.from,
      to: e.to,
      reason: e.reason,
      attempt: e.attempt,
      ...(e.openForMs === undefined ? {} : { openForMs: e.openForMs }),
      ...(e.note === undefined ? {} : { note: e.note }),
    };
    const message = `circuit ${e.key} ${describe(e.from)} -> ${describe(e.to)} (${e.reason})`;
    if (e.to === 'open' || e.to === 'forced_open') logger.warn(fields, message);
    else logger.info(fields, message);
  });
  const offEvicted = events.on('evicted', (e) => {
    circuits.outages.forget(e.key);
    const { upstream, endpoint } = parseKey(e.key);
    refreshGauge(upstream, endpoint);
  });
  const offCreated = circuits.created.subscribe((key) => {
    const { upstream, endpoint } = parseKey(key);
    refreshGauge(upstream, endpoint);
  });
  return () => {
    offChange();
    offEvicted();
    offCreated();
  };
}

function describe(state: BreakerStateKind): string {
  return state.replace('_', '-');
}
