/**
 * The attempt chain of one request: the upstream the app addressed, then its fallback targets,
 * each planned for its provider. With `routing.strategy: least-cost` the targets whose circuit
 * admits the request are tried cheapest first; `maxCostMultiplier` skips targets whose model
 * costs more than that multiple of the requested one. Streaming OpenAI requests ask the
 * provider for usage (for cost accounting) and the extra chunk is removed before the app sees
 * it when the app did not ask.
 */
import type { CompiledUpstream, PolicySnapshot } from '../../policy/snapshot.ts';
import { blendedPricePerMillion, priceOf } from '../cost/pricing.ts';
import { OpenaiUsageStripper, withStreamUsage } from '../cost/usage.ts';
import {
  formatOf,
  planFallback,
  planPrimary,
  type ClientRequest,
  type CredentialResolver,
  type SkipReason,
  type UpstreamRequest,
} from '../providers/upstream-request.ts';

export type ChainStep =
  | { readonly kind: 'attempt'; readonly request: UpstreamRequest; readonly isFallback: boolean }
  | {
      readonly kind: 'skip';
      readonly upstream: string;
      readonly reason: SkipReason;
      readonly detail: string | undefined;
    };

export interface ChainInput {
  readonly client: ClientRequest;
  readonly requested: CompiledUpstream;
  readonly snapshot: PolicySnapshot;
  readonly upstream: (name: string) => CompiledUpstream | undefined;
  readonly credential: CredentialResolver;
  readonly nowWallMs: number;
  /** False when the target's circuit is open right now (least-cost tries those last). */
  readonly admits: (upstream: string, model: string | undefined) => boolean;
}

export function planChain(input: ChainInput): ChainStep[] {
  const { client, requested, snapshot } = input;
  const steps: ChainStep[] = [
    {
      kind: 'attempt',
      request: askForUsage(planPrimary(client, requested), client),
      isFallback: false,
    },
  ];
  const requestedPrice =
    client.model === undefined ? undefined : priceOf(snapshot.pricing, client.model);
  const candidates: { request: UpstreamRequest; blended: number | undefined; index: number }[] = [];
  (snapshot.fallbacks[requested.name] ?? []).forEach((target, index) => {
    const upstream = input.upstream(target.upstream);
    if (upstream === undefined) return;
    const plan = planFallback(
      client,
      requested,
      target,
      upstream,
      input.credential,
      input.nowWallMs,
    );
    if (!plan.ok) {
      steps.push({
        kind: 'skip',
        upstream: upstream.name,
        reason: plan.reason,
        detail: plan.detail,
      });
      return;
    }
    const price =
      plan.request.model === undefined ? undefined : priceOf(snapshot.pricing, plan.request.model);
    const blended = price === undefined ? undefined : blendedPricePerMillion(price);
    const limit = snapshot.routing.maxCostMultiplier;
    if (limit !== null && blended !== undefined && requestedPrice !== undefined) {
      const ratio = blended / Math.max(blendedPricePerMillion(requestedPrice), Number.MIN_VALUE);
      if (ratio > limit) {
        steps.push({
          kind: 'skip',
          upstream: upstream.name,
          reason: 'too_expensive',
          detail: `${plan.request.model ?? ''} costs ${ratio.toFixed(1)}x ${client.model ?? ''}; limit ${limit}x`,
        });
        return;
      }
    }
    candidates.push({ request: askForUsage(plan.request, client), blended, index });
  });
  if (snapshot.routing.strategy === 'least-cost') {
    // Admitting targets first, then cheapest (unknown prices last), then as listed.
    const rank = (c: (typeof candidates)[number]) => [
      input.admits(c.request.upstream.name, c.request.model) ? 0 : 1,
      c.blended ?? Number.POSITIVE_INFINITY,
      c.index,
    ];
    candidates.sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      for (let i = 0; i < ra.length; i++) {
        const d = (ra[i] ?? 0) - (rb[i] ?? 0);
        if (d !== 0) return d;
      }
      return 0;
    });
  }
  for (const c of candidates) steps.push({ kind: 'attempt', request: c.request, isFallback: true });
  return steps;
}

/**
 * An OpenAI stream only reports token usage when asked. For cost accounting the sidecar asks on
 * the app's behalf and strips the extra chunk again, so the app sees exactly what it asked for.
 */
function askForUsage(request: UpstreamRequest, client: ClientRequest): UpstreamRequest {
  if (
    !client.stream ||
    client.format !== 'openai' ||
    formatOf(request.upstream.provider) !== 'openai' ||
    request.adapter !== undefined ||
    request.body === null
  ) {
    return request;
  }
  const json = request.body === client.body ? client.json : parseObject(request.body);
  if (json === undefined) return request;
  const asked = withStreamUsage(json);
  if (!asked.added) return request;
  return {
    ...request,
    body: Buffer.from(JSON.stringify(asked.body)),
    adapter: {
      body: (_status, raw) => raw,
      stream: () => new OpenaiUsageStripper(),
    },
  };
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
