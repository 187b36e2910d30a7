// A sidecar in the state where fast fail matters: OpenAI and Anthropic both down, each the
// other's fallback, both circuits open for another ~30 s (the breaker's ManualClock stands
// still), so every request is answered 503 AICB_CIRCUIT_OPEN with a Retry-After of tens of
// seconds: what the official SDKs would honour at their default max_retries=2.
import OpenAI from 'openai';
import { startFakeProvider, type FakeProvider } from './fake-provider.ts';
import { startSidecar, type RunningSidecar } from './sidecar-harness.ts';

export interface AllCircuitsOpen {
  readonly sc: RunningSidecar;
  readonly providers: readonly FakeProvider[];
  /** Requests the sidecar answered itself because every circuit was open (from its metrics). */
  shortCircuited(): Promise<number>;
  /** Requests that reached a provider. */
  providerRequests(): number;
  close(): Promise<void>;
}

export async function allCircuitsOpen(): Promise<AllCircuitsOpen> {
  const oa = await startFakeProvider({ api: 'openai' });
  const an = await startFakeProvider({ api: 'anthropic' });
  oa.setDefault({ type: 'status', status: 503 });
  an.setDefault({ type: 'status', status: 529 });
  const sc = await startSidecar(
    {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: oa.url, apiKey: { env: 'OPENAI_KEY' } },
        { name: 'anthropic', provider: 'anthropic', baseURL: an.url, apiKey: { env: 'ANT_KEY' } },
      ],
      breaker: { failureThreshold: 1, recoveryTimeout: '30s' },
      fallbacks: [
        { from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-haiku-4-5' }] },
        { from: 'anthropic', to: [{ upstream: 'openai', model: 'gpt-4o-mini' }] },
      ],
    },
    { env: { OPENAI_KEY: 'sk-policy-openai', ANT_KEY: 'sk-policy-anthropic' } },
  );
  // Trip both: one failing request each way (no SDK retries while setting the scene).
  await new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 }).chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    .catch(() => undefined);
  const health = await sc.health();
  if (health.overall_health !== 'critical') {
    throw new Error(`expected every circuit open, got ${JSON.stringify(health.providers)}`);
  }
  const providers = [oa, an];
  const requestsAtStart = oa.requests.length + an.requests.length;
  return {
    sc,
    providers,
    async shortCircuited() {
      const text = await sc.metricsText();
      return [
        ...text.matchAll(/^aicb_requests_total\{[^}]*result="short_circuited"[^}]*\} (\d+)/gm),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    },
    providerRequests: () => oa.requests.length + an.requests.length - requestsAtStart,
    async close() {
      await sc.close();
      await oa.close();
      await an.close();
    },
  };
}
