/**
 * The targets of one request, in order and one at a time: the upstream the app addressed, then
 * its fallbacks. A target's exchange (its request, translation and reading of the answer) is
 * created only when the chain reaches it, so an unused fallback costs nothing — a prompt is
 * never translated or re-serialized for a target that is never called.
 *
 * With `routing.strategy: least-cost` the fallbacks whose circuit admits the request are tried
 * cheapest first; `maxCostMultiplier` skips targets whose model costs more than that multiple
 * of the requested one. Both need only the target's model name, not its exchange.
 */
import type { CompiledTarget, CompiledUpstream, PolicySnapshot } from '../../snapshot/snapshot.ts';
import { blendedPricePerMillion, priceOf } from '../cost/pricing.ts';
import {
  createExchange,
  mapModel,
  type CredentialResolver,
  type Exchange,
} from '../exchange/exchange.ts';
import type { ClientRequest } from '../request/client-request.ts';
import type { SkipReason } from '../skip-reasons.ts';

export type ChainStep =
  | { readonly kind: 'target'; readonly exchange: Exchange }
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

interface Candidate {
  readonly upstream: CompiledUpstream;
  readonly target: CompiledTarget;
  readonly model: string | undefined;
  readonly blended: number | undefined;
  readonly index: number;
}

export function* chainTargets(input: ChainInput): Generator<ChainStep, void, undefined> {
  const { client, requested, snapshot } = input;
  yield step(input, requested, undefined);
  const targets = snapshot.fallbacks[requested.name];
  if (targets === undefined || targets.length === 0) return;
  const requestedPrice =
    client.model === undefined ? undefined : priceOf(snapshot.pricing, client.model);
  const limit = snapshot.routing.maxCostMultiplier;
  const candidates: Candidate[] = [];
  const leastCost = snapshot.routing.strategy === 'least-cost';
  for (const [index, target] of targets.entries()) {
    const upstream = input.upstream(target.upstream);
    if (upstream === undefined) continue;
    const model = mapModel(target, client.model);
    const price = model === undefined ? undefined : priceOf(snapshot.pricing, model);
    const blended = price === undefined ? undefined : blendedPricePerMillion(price);
    if (limit !== null && blended !== undefined && requestedPrice !== undefined) {
      const ratio = blended / Math.max(blendedPricePerMillion(requestedPrice), Number.MIN_VALUE);
      if (ratio > limit) {
        yield {
          kind: 'skip',
          upstream: upstream.name,
          reason: 'too_expensive',
          detail: `${model ?? ''} costs ${ratio.toFixed(1)}x ${client.model ?? ''}; limit ${limit}x`,
        };
        continue;
      }
    }
    // In listed order each target is planned just before it is tried.
    if (leastCost) candidates.push({ upstream, target, model, blended, index });
    else yield step(input, upstream, target);
  }
  if (!leastCost) return;
  // Admitting targets first, then cheapest (unknown prices last), then as listed.
  const admitting = new Map(candidates.map((c) => [c, input.admits(c.upstream.name, c.model)]));
  candidates.sort(
    (a, b) =>
      Number(admitting.get(a) !== true) - Number(admitting.get(b) !== true) ||
      (a.blended ?? Number.POSITIVE_INFINITY) - (b.blended ?? Number.POSITIVE_INFINITY) ||
      a.index - b.index,
  );
  for (const c of candidates) yield step(input, c.upstream, c.target);
}

function step(
  input: ChainInput,
  upstream: CompiledUpstream,
  target: CompiledTarget | undefined,
): ChainStep {
  const plan = createExchange({
    client: input.client,
    requested: input.requested,
    upstream,
    target,
    credential: input.credential,
    nowWallMs: input.nowWallMs,
  });
  if (plan.ok) return { kind: 'target', exchange: plan.exchange };
  return { kind: 'skip', upstream: upstream.name, reason: plan.reason, detail: plan.detail };
}
