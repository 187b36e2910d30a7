/**
 * Token and cost accounting for one answered attempt: the usage its exchange read (a body's
 * tail, or a stream's usage events), priced with the policy's table, and for fallbacks also what
 * the requested model would have cost for the same tokens.
 */
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import { costUsd, modelLabel, priceOf } from './pricing.ts';
import type { Usage } from './usage.ts';
import type { SidecarMetrics } from '../sidecar-metrics.ts';

export interface CostContext {
  readonly metrics: SidecarMetrics;
  readonly snapshot: PolicySnapshot;
  readonly modelNames: ReadonlySet<string>;
  readonly requestedUpstream: string;
  readonly requestedModel: string | undefined;
}

/** Records tokens and estimated cost of one answer. */
export function recordUsage(
  ctx: CostContext,
  served: {
    readonly upstream: string;
    readonly model: string | undefined;
    readonly isFallback: boolean;
  },
  usage: Usage,
): void {
  const { metrics, snapshot } = ctx;
  const model =
    served.model === undefined
      ? 'other'
      : modelLabel(snapshot.pricing, served.model, ctx.modelNames);
  metrics.tokens.inc({ provider: served.upstream, model, kind: 'input' }, usage.inputTokens);
  metrics.tokens.inc({ provider: served.upstream, model, kind: 'output' }, usage.outputTokens);
  const price = served.model === undefined ? undefined : priceOf(snapshot.pricing, served.model);
  if (price === undefined) return;
  const cost = costUsd(price, usage);
  metrics.cost.inc({ provider: served.upstream, model }, cost);
  if (!served.isFallback) return;
  const labels = { from: ctx.requestedUpstream, to: served.upstream };
  metrics.fallbackCost.inc(labels, cost);
  const requestedPrice =
    ctx.requestedModel === undefined ? undefined : priceOf(snapshot.pricing, ctx.requestedModel);
  if (requestedPrice !== undefined)
    metrics.fallbackRequestedCost.inc(labels, costUsd(requestedPrice, usage));
}
