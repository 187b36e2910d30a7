/**
 * The wire API of a request: which provider API the app speaks on a route, and therefore how
 * its answers and streams are read, how errors are written back, and whether another API can
 * stand in for it.
 */
import type { EndpointClass } from '../../policy/policy-schema.ts';
import type { CompiledUpstream } from '../../snapshot/snapshot.ts';

export type WireApi = 'openai-chat' | 'openai-responses' | 'anthropic-messages';

/** The API family a provider speaks (Azure OpenAI differs from OpenAI in URL and auth only). */
export type ProviderFamily = 'openai' | 'anthropic';

export function familyOf(provider: CompiledUpstream['provider']): ProviderFamily {
  return provider === 'anthropic' ? 'anthropic' : 'openai';
}

/** The wire API of a request on an upstream of `provider` to an endpoint of class `endpoint`. */
export function wireApiOf(
  provider: CompiledUpstream['provider'],
  endpoint: EndpointClass,
): WireApi {
  if (provider === 'anthropic') return 'anthropic-messages';
  return endpoint === 'responses' ? 'openai-responses' : 'openai-chat';
}
