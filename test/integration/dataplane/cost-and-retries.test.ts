// Cost accounting, least-cost routing and bounded retries on real sockets: token and cost
// figures from both APIs (streaming and not), the cheapest healthy fallback first, the cost
// multiplier guard, retry counts, backoff, Retry-After and the retry budget.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let an: FakeProvider;
let cheap: FakeProvider;
let sc: RunningSidecar | undefined;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai', words: 6 });
  an = await startFakeProvider({ api: 'anthropic', words: 6 });
  cheap = await startFakeProvider({ api: 'openai', words: 6 });
});

afterEach(async () => {
  await sc?.close();
  sc = undefined;
  await Promise.all([oa.close(), an.close(), cheap.close()]);
});

const upstreams = () => [
  { name: 'openai', provider: 'openai', baseURL: oa.url },
  { name: 'anthropic', provider: 'anthropic', baseURL: an.url, apiKey: { env: 'ANTHROPIC_KEY' } },
  {
    name: 'local',
    provider: 'openai-compatible',
    baseURL: cheap.url,
    apiKey: { env: 'LOCAL_KEY' },
  },
];
const env = { ANTHROPIC_KEY: 'sk-ant-xxxxxxxx', LOCAL_KEY: 'sk-local-xxxxxxxx' };

function running(): RunningSidecar {
  if (sc === undefined) throw new Error('no sidecar started');
  return sc;
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

const openai = () =>
  new OpenAI({ apiKey: 'sk-app', baseURL: `${sc?.url ?? ''}/openai/v1`, maxRetries: 0 });

describe('token and cost accounting', () => {
  beforeEach(async () => {
    sc = await startSidecar(
      {
        upstreams: upstreams(),
        fallbacks: [
          { from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] },
        ],
      },
      { env },
    );
  });

  it('counts tokens and cost of non-streaming OpenAI answers', async () => {
    await openai().chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const m = await running().metricsText();
    expect(metric(m, 'aicb_tokens_total{provider="openai",model="gpt-4o",kind="input"}')).toBe(12);
    expect(metric(m, 'aicb_tokens_total{provider="openai",model="gpt-4o",kind="output"}')).toBe(6);
    // 12 × 2.50 / 1e6 + 6 × 10 / 1e6
    expect(metric(m, 'aicb_cost_usd_total{provider="openai",model="gpt-4o"}')).toBeCloseTo(
      0.00009,
      10,
    );
  });

  it('asks an OpenAI stream for usage without showing the app the extra chunk', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let sawUsage = false;
    for await (const chunk of stream) if (chunk.usage) sawUsage = true;
    expect(sawUsage).toBe(false);
    expect(oa.requests[0]?.json).toMatchObject({ stream_options: { include_usage: true } });
    const m = await running().metricsText();
    expect(
      metric(m, 'aicb_tokens_total{provider="openai",model="gpt-4o-mini",kind="output"}'),
    ).toBe(6);
  });

  it('counts Anthropic stream usage and the cost difference of a fallback', async () => {
    oa.setDefault({ type: 'status', status: 503 });
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    for await (const chunk of stream) expect(chunk.object).toBe('chat.completion.chunk');
    const m = await running().metricsText();
    expect(
      metric(m, 'aicb_tokens_total{provider="anthropic",model="claude-sonnet-4-6",kind="input"}'),
    ).toBe(12);
    expect(
      metric(m, 'aicb_tokens_total{provider="anthropic",model="claude-sonnet-4-6",kind="output"}'),
    ).toBe(6);
    // Served by claude-sonnet-4-6 (3 / 15 per million) instead of gpt-4o (2.5 / 10).
    expect(metric(m, 'aicb_fallback_cost_usd_total{from="openai",to="anthropic"}')).toBeCloseTo(
      0.000126,
      10,
    );
    expect(
      metric(m, 'aicb_fallback_requested_cost_usd_total{from="openai",to="anthropic"}'),
    ).toBeCloseTo(0.00009, 10);
  });

  it('counts non-streaming Anthropic usage for an Anthropic app', async () => {
    const client = new Anthropic({
      apiKey: 'k',
      baseURL: `${running().url}/anthropic`,
      maxRetries: 0,
    });
    await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const m = await running().metricsText();
    expect(
      metric(m, 'aicb_cost_usd_total{provider="anthropic",model="claude-haiku-4-5"}'),
    ).toBeCloseTo(0.000042, 10);
  });

  it('labels unknown client models as other, never with the raw string', async () => {
    await openai().chat.completions.create({ model: 'my-secret-finetune-123', messages: [] });
    const m = await running().metricsText();
    expect(m).not.toContain('my-secret-finetune-123');
    expect(metric(m, 'aicb_tokens_total{provider="openai",model="other",kind="input"}')).toBe(12);
  });

  it('adds the measured time-to-failure for every request the open circuit short-circuits', async () => {
    // Durations are measured on the real clock here; failures take about 40 ms each.
    await sc?.close();
    sc = await startSidecar(
      {
        upstreams: upstreams(),
        fallbacks: [
          { from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] },
        ],
      },
      { env, realClock: true },
    );
    oa.setDefault({ type: 'status', status: 503, delayMs: 40 });
    const ask = () =>
      openai().chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
      });
    for (let i = 0; i < 5; i++) await ask();
    let m = await sc.metricsText();
    expect(m).not.toContain('aicb_wait_avoided_seconds_total{provider="openai"}');
    await ask();
    await ask();
    m = await sc.metricsText();
    // Two short-circuited requests, each credited with the measured ~40 ms time-to-failure.
    const avoided = metric(m, 'aicb_wait_avoided_seconds_total{provider="openai"}');
    expect(avoided).toBeGreaterThanOrEqual(0.08);
    expect(avoided).toBeLessThan(0.5);
  });
});

describe('least-cost routing', () => {
  it('tries the cheapest healthy fallback first and never one above the multiplier', async () => {
    sc = await startSidecar(
      {
        upstreams: upstreams(),
        fallbacks: [
          {
            from: 'openai',
            to: [
              { upstream: 'anthropic', model: 'claude-sonnet-4-6' },
              { upstream: 'local', model: 'llama-3.1-70b' },
            ],
          },
        ],
        pricing: { 'llama-3.1-70b': { inputPerMillion: 0.2, outputPerMillion: 0.2 } },
        routing: { strategy: 'least-cost', maxCostMultiplier: 3 },
      },
      { env },
    );
    oa.setDefault({ type: 'status', status: 503 });
    const { response } = await openai()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    expect(response.headers.get('x-aicb-upstream')).toBe('local');
    // Blended (3 × input + output) / 4: claude-sonnet-4-6 6 vs gpt-4o-mini 0.2625 per million,
    // 22.9x; llama-3.1-70b 0.2 is within the limit.
    expect(response.headers.get('x-aicb-attempts')).toBe(
      'openai:503,anthropic:skipped-too_expensive(claude-sonnet-4-6 costs 22.9x gpt-4o-mini; limit 3x),local:200',
    );
    expect(an.requests).toHaveLength(0);
  });

  it('orders by price when all are allowed, cheapest first, and keeps the listed order with ordered', async () => {
    const spec = (strategy: string) => ({
      upstreams: upstreams(),
      fallbacks: [
        {
          from: 'openai',
          to: [
            { upstream: 'anthropic', model: 'claude-haiku-4-5' },
            { upstream: 'local', model: 'llama-3.1-70b' },
          ],
        },
      ],
      pricing: { 'llama-3.1-70b': { inputPerMillion: 0.2, outputPerMillion: 0.2 } },
      routing: { strategy },
    });
    sc = await startSidecar(spec('least-cost'), { env });
    oa.setDefault({ type: 'status', status: 500 });
    const cheapest = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(cheapest.response.headers.get('x-aicb-upstream')).toBe('local');
    sc.apply(spec('ordered'));
    const ordered = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(ordered.response.headers.get('x-aicb-upstream')).toBe('anthropic');
  });
});

describe('bounded retries', () => {
  function retrySpec(retry: Record<string, unknown>) {
    return {
      upstreams: upstreams(),
      // High enough that the circuit stays closed: these tests are about retries.
      breaker: { failureThreshold: 1000 },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'local', model: 'llama-3.1-70b' }] }],
      retry,
    };
  }

  it('retries the same target before moving down the chain, and lists every attempt', async () => {
    sc = await startSidecar(
      retrySpec({ attempts: 2, retryOn: ['overloaded'], backoff: { base: '10ms', max: '20ms' } }),
      { env },
    );
    oa.queue({ type: 'status', status: 529 }, { type: 'status', status: 529 });
    const { response } = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    expect(response.headers.get('x-aicb-attempts')).toBe('openai:529,openai:529,openai:200');
    expect(oa.requests).toHaveLength(3);
    expect(cheap.requests).toHaveLength(0);
    const m = await sc.metricsText();
    expect(metric(m, 'aicb_retries_total{provider="openai",result="retried"}')).toBe(2);
    // Every retry is an outcome for the breaker.
    expect(
      metric(
        m,
        'circuit_breaker_failures_total{provider="openai",endpoint="chat",reason="overloaded"}',
      ),
    ).toBe(2);
  });

  it('moves on once attempts are exhausted, and never retries kinds not listed', async () => {
    sc = await startSidecar(
      retrySpec({ attempts: 1, retryOn: ['overloaded'], backoff: { base: '10ms', max: '10ms' } }),
      { env },
    );
    oa.setDefault({ type: 'status', status: 529 });
    const exhausted = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    expect(exhausted.response.headers.get('x-aicb-attempts')).toBe(
      'openai:529,openai:529,local:200',
    );
    oa.setDefault({ type: 'status', status: 500 });
    const notListed = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    expect(notListed.response.headers.get('x-aicb-attempts')).toBe('openai:500,local:200');
    const m = await sc.metricsText();
    expect(metric(m, 'aicb_retries_total{provider="openai",result="attempts_exhausted"}')).toBe(1);
    expect(metric(m, 'aicb_retries_total{provider="openai",result="not_retryable"}')).toBe(1);
  });

  it('waits out a short Retry-After but falls over instead of sleeping through a long one', async () => {
    sc = await startSidecar(
      retrySpec({
        attempts: 1,
        retryOn: ['rate_limited'],
        backoff: { base: '1ms', max: '1ms' },
        maxRetryAfter: '2s',
      }),
      { env },
    );
    oa.queue({ type: 'status', status: 429, headers: { 'retry-after': '1' } });
    const started = performance.now();
    const short = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(short.response.headers.get('x-aicb-attempts')).toBe('openai:429,openai:200');
    oa.queue({ type: 'status', status: 429, headers: { 'retry-after': '30' } });
    const startedLong = performance.now();
    const long = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    expect(performance.now() - startedLong).toBeLessThan(1000);
    expect(long.response.headers.get('x-aicb-attempts')).toBe('openai:429,local:200');
  });

  it('stops retrying a target whose circuit the last failure opened', async () => {
    sc = await startSidecar(
      {
        ...retrySpec({
          attempts: 3,
          retryOn: ['overloaded'],
          backoff: { base: '1ms', max: '1ms' },
        }),
        breaker: { failureThreshold: 2 },
      },
      { env },
    );
    oa.setDefault({ type: 'status', status: 529 });
    const { response } = await openai()
      .chat.completions.create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    // The second 529 opens the circuit: no third attempt waits for a rejection.
    expect(response.headers.get('x-aicb-attempts')).toBe('openai:529,openai:529,local:200');
    expect(oa.requests).toHaveLength(2);
    const m = await sc.metricsText();
    expect(metric(m, 'aicb_retries_total{provider="openai",result="retried"}')).toBe(1);
    expect(metric(m, 'aicb_retries_total{provider="openai",result="circuit_open"}')).toBe(1);
  });

  it('keeps retries within the budget under a failing target', async () => {
    sc = await startSidecar(
      retrySpec({
        attempts: 3,
        retryOn: ['overloaded'],
        backoff: { base: '1ms', max: '1ms' },
        budget: { percent: 20, window: '10s', minRetries: 2 },
      }),
      { env },
    );
    oa.setDefault({ type: 'status', status: 529 });
    for (let i = 0; i < 20; i++)
      await openai().chat.completions.create({ model: 'gpt-4o', messages: [] });
    const m = await sc.metricsText();
    const retried = metric(m, 'aicb_retries_total{provider="openai",result="retried"}');
    // At most max(minRetries, 20% of 20 requests) = 4 retries, though 3 per request were allowed.
    expect(retried).toBeLessThanOrEqual(4);
    expect(retried).toBeGreaterThanOrEqual(2);
    expect(
      metric(m, 'aicb_retries_total{provider="openai",result="budget_exhausted"}'),
    ).toBeGreaterThan(0);
    expect(oa.requests.length).toBe(20 + retried);
  });
});
