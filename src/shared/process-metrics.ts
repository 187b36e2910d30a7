/**
 * The process_* and nodejs_* series every component exports (prom-client's default metrics),
 * sampled so that an idle process stays idle. prom-client's default keeps a
 * monitorEventLoopDelay timer firing every 10 ms, which alone costs an idle Node process about
 * 7 ms of CPU per second (issue 11); a sidecar runs in every pod, so that is paid once per pod.
 * Sampling the event-loop delay once per second keeps the nodejs_eventloop_lag_* series (a
 * stall of a second or more is always seen; shorter stalls are sampled) at about a hundredth
 * of that cost. Everything else is read at scrape time and costs nothing in between.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/** Resolution of the event-loop delay histogram behind nodejs_eventloop_lag_{min,max,p50,...}. */
export const EVENT_LOOP_SAMPLE_MS = 1000;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
