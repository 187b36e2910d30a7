// spec.cache: when every target is open or failed, the last good answer to the same request is
// served, marked stale with its age; a streaming request gets it re-emitted as a stream.
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let primary: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  primary = await startFakeProvider({ api: 'openai' });
  sc = await startSidecar({
    upstreams: [{ name: 'openai', provider: 'openai', baseURL: primary.url }],
    breaker: { failureThreshold: 2 },
    cache: { enabled: true, ttl: '5m' },
  });
});

afterEach(async () => {
  await sc.close();
  await primary.close();
});

const question = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'What is a circuit breaker?' }],
};
const client = () => new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });

describe('last-resort cache', () => {
  it('serves the stored answer, marked stale with its age, once the upstream fails and then is open', async () => {
    const fresh = await client().chat.completions.create(question).withResponse();
    expect(fresh.response.headers.get('x-aicb-cache')).toBeNull();
    primary.setDefault({ type: 'status', status: 503 });
    sc.clock.advance(42_000);
    const failed = await client().chat.completions.create(question).withResponse();
    expect(failed.response.headers.get('x-aicb-cache')).toBe('stale');
    expect(failed.response.headers.get('age')).toBe('42');
    expect(failed.response.headers.get('x-aicb-attempts')).toBe('openai:503');
    expect(failed.data.choices[0]?.message.content).toBe(fresh.data.choices[0]?.message.content);
    await client().chat.completions.create(question); // second failure opens the circuit
    const open = await client().chat.completions.create(question).withResponse();
    expect(open.response.headers.get('x-aicb-attempts')).toBe('openai:open');
    expect(open.response.headers.get('x-aicb-cache')).toBe('stale');
    expect(primary.requests).toHaveLength(3);
  });

  it('re-emits the cached answer as a stream for a streaming request', async () => {
    const fresh = await client().chat.completions.create(question);
    primary.setDefault({ type: 'status', status: 500 });
    const stream = await client().chat.completions.create({ ...question, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(fresh.choices[0]?.message.content);
  });

  it('does not serve another request’s answer, nor one older than the TTL', async () => {
    await client().chat.completions.create(question);
    primary.setDefault({ type: 'status', status: 500 });
    const other = await client()
      .chat.completions.create({
        ...question,
        messages: [{ role: 'user', content: 'Something else' }],
      })
      .catch((e: unknown) => e);
    expect((other as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
    sc.clock.advance(5 * 60_000 + 1);
    const expired = await client()
      .chat.completions.create(question)
      .catch((e: unknown) => e);
    expect((expired as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
  });
});
