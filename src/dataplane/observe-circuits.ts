/**
 * Turns breaker events into metrics and log lines. The breaker imports neither; this is the
 * only subscriber the data plane needs for them. Outage metrics come from the one outage model
 * (`circuits.outages`), the state gauge from the circuits' effective states at scrape time.
 */
import type { BreakerStateKind } from '../breaker/breaker-state.ts';
import type { Logger } from '../shared/create-logger.ts';
import { parseKey, type Circuits } from './circuits.ts';
import type { SidecarMetrics } from './sidecar-metrics.ts';

/** Subscribes; returns the unsubscribe function. */
export function observeCircuits(
  circuits: Circuits,
  metrics: SidecarMetrics,
  logger: Logger,
): () => void {
  metrics.circuitStates = () => circuits.stateSeries();
  const offOutage = circuits.outages.changes.subscribe((change) => {
    const { upstream, endpoint } = parseKey(change.event.key);
    if (change.kind === 'started') metrics.circuitOpenings.inc({ provider: upstream, endpoint });
    if (change.kind === 'ended') {
      metrics.circuitOpenDuration.observe(
        { provider: upstream, endpoint },
        change.durationMs / 1000,
      );
    }
  });
  const offChange = circuits.registry.events.on('stateChange', (e) => {
    const { upstream, endpoint, model } = parseKey(e.key);
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
  return () => {
    metrics.circuitStates = undefined;
    offOutage();
    offChange();
  };
}

function describe(state: BreakerStateKind): string {
  return state.replace('_', '-');
}
