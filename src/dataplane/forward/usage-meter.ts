/**
 * Token and cost accounting for one answered attempt: usage from the answer (a non-streaming
 * body, or the usage events of a stream as the upstream sent them), priced with the policy's
 * table, and for fallbacks also what the requested model would have cost for the same tokens.
 */
import type { PolicySnapshot } from '../../policy/snapshot.ts';
import type { ClientFormat } from '../client-errors.ts';
import { costUsd, modelLabel, priceOf } from '../cost/pricing.ts';
import { StreamUsageScanner, usageFromBody, type Usage } from '../cost/usage.ts';
import type { SidecarMetrics } from '../sidecar-metrics.ts';

export class UsageMeter {
  readonly #scanner: StreamUsageScanner;
  readonly #clientFormat: ClientFormat;
  #usage: Usage | undefined;

  /** Stream bytes are in the upstream's format; complete bodies arrive in the app's. */
  constructor(formats: { readonly upstream: ClientFormat; readonly client: ClientFormat }) {
    this.#scanner = new StreamUsageScanner(formats.upstream);
    this.#clientFormat = formats.client;
  }

  /** For AttemptOptions.observeChunk. */
  readonly observe = (chunk: Buffer): void => {
    this.#scanner.push(chunk);
  };

  /** A complete answer as the app received it. */
  body(body: Buffer): void {
    this.#usage = usageFromBody(this.#clientFormat, body);
  }

  usage(): Usage | undefined {
    return this.#usage ?? this.#scanner.usage();
  }
}

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
  metrics.tokens.inc({ upstream: served.upstream, model, kind: 'input' }, usage.inputTokens);
  metrics.tokens.inc({ upstream: served.upstream, model, kind: 'output' }, usage.outputTokens);
  const price = served.model === undefined ? undefined : priceOf(snapshot.pricing, served.model);
  if (price === undefined) return;
  const cost = costUsd(price, usage);
  metrics.cost.inc({ upstream: served.upstream, model }, cost);
  if (!served.isFallback) return;
  const labels = { from: ctx.requestedUpstream, to: served.upstream };
  metrics.fallbackCost.inc(labels, cost);
  const requestedPrice =
    ctx.requestedModel === undefined ? undefined : priceOf(snapshot.pricing, ctx.requestedModel);
  if (requestedPrice !== undefined)
    metrics.fallbackRequestedCost.inc(labels, costUsd(requestedPrice, usage));
}
