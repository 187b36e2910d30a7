// Metrics, health, status and alerts tell the same story from the first second: every configured
// circuit has a state series before any traffic, an open circuit whose period is over reads
// half-open in /metrics as in /health, and outages (operator overrides included) are counted,
// measured and alerted by one model.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let provider: FakeProvider;
let backup: FakeProvider;
let sc: RunningSidecar | undefined;

beforeEach(async () => {
  provider = await startFakeProvider({ api: 'openai' });
  backup = await startFakeProvider({ api: 'openai' });
});
afterEach(async () => {
  await sc?.close();
  sc = undefined;
  await provider.close();
  await backup.close();
});

const upstreams = () => [
  { name: 'openai', provider: 'openai', baseURL: provider.url },
  { name: 'backup', provider: 'openai', baseURL: backup.url },
];

/** `{labels}` -> value of one metric in Prometheus text. */
function series(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [, labels, value] of text.matchAll(
    new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'),
  )) {
    out[labels ?? ''] = Number(value);
  }
  return out;
}

const chat = (url: string) =>
  new OpenAI({ apiKey: 'k', baseURL: `${url}/openai/v1`, maxRetries: 0 }).chat.completions
    .create({ model: 'gpt-4o', messages: [] })
    .catch(() => undefined);

describe('circuit_breaker_state', () => {
  it('has a series for every configured upstream and endpoint class before any traffic', async () => {
    sc = await startSidecar({ upstreams: upstreams() });
    const states = series(await sc.metricsText(), 'circuit_breaker_state');
    const classes = ['chat', 'embeddings', 'images', 'audio', 'responses', 'other'];
    expect(Object.keys(states).sort()).toEqual(
      ['backup', 'openai']
        .flatMap((u) => classes.map((c) => `provider="${u}",endpoint="${c}"`))
        .sort(),
    );
    expect(Object.values(states).every((v) => v === 0)).toBe(true);
    // An alert rule on "state == 1" has something to evaluate; keyBy upstream gives endpoint="all".
    sc.apply({ upstreams: upstreams(), breaker: { keyBy: 'upstream' } });
    expect(series(await sc.metricsText(), 'circuit_breaker_state')).toEqual({
      'provider="openai",endpoint="all"': 0,
      'provider="backup",endpoint="all"': 0,
    });
  });

  it('reads half-open in /metrics as in /health once the open period is over, without traffic', async () => {
    sc = await startSidecar({
      upstreams: upstreams(),
      breaker: { failureThreshold: 1, recoveryTimeout: '10s', recoveryBackoff: { jitter: 0 } },
    });
    provider.setDefault({ type: 'status', status: 503 });
    await chat(sc.url);
    const key = 'provider="openai",endpoint="chat"';
    expect(series(await sc.metricsText(), 'circuit_breaker_state')[key]).toBe(1);
    expect((await sc.health()).providers.openai).toBe('open');
    sc.clock.advance(10_000); // no request arrives
    expect((await sc.health()).providers.openai).toBe('half_open');
    expect(series(await sc.metricsText(), 'circuit_breaker_state')[key]).toBe(0.5);
  });
});

describe('outages from operator overrides', () => {
  let receiver: Server;
  let alerts: { event: string; toState: string; outageDurationMs?: number }[];

  beforeEach(async () => {
    alerts = [];
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as (typeof alerts)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) =>
      receiver.close(() => {
        resolve();
      }),
    );
  });

  async function until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out; alerts ${JSON.stringify(alerts)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('tripped, forced closed, released, forced open, released 1 s later: two outages, 60 s and 1 s, in alerts, metrics and health', async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const spec = (overrides: unknown[]) => ({
      upstreams: upstreams(),
      breaker: { failureThreshold: 1, recoveryTimeout: '5m' },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
      alerting: {
        events: ['opened', 'halfOpen', 'closed'],
        dedupWindow: '1ms',
        webhooks: [{ url: { env: 'ALERT_URL' } }],
      },
      overrides,
    });
    sc = await startSidecar(spec([]), { env: { ALERT_URL: url } });
    const s = sc;
    provider.setDefault({ type: 'status', status: 503 });
    await chat(s.url); // trips openai/chat
    s.clock.advance(60_000);
    // The operator lets traffic through while investigating: the outage is over for the app.
    s.apply(spec([{ upstream: 'openai', endpoint: 'chat', state: 'forcedClosed' }]));
    s.clock.advance(600_000);
    s.apply(spec([]));
    s.clock.advance(60_000);
    s.apply(spec([{ upstream: 'openai', endpoint: 'chat', state: 'forcedOpen' }]));
    s.clock.advance(1_000);
    s.apply(spec([]));
    await until(() => alerts.length === 4);
    expect(alerts.map((a) => [a.event, a.toState, a.outageDurationMs])).toEqual([
      ['opened', 'open', undefined],
      ['closed', 'metrics_only', 60_000],
      ['opened', 'forced_open', undefined],
      ['closed', 'closed', 1_000],
    ]);
    const text = await s.metricsText();
    expect(series(text, 'aicb_circuit_openings_total')).toEqual({
      'provider="openai",endpoint="chat"': 2,
    });
    expect(series(text, 'aicb_circuit_open_duration_seconds_sum')).toEqual({
      'provider="openai",endpoint="chat"': 61,
    });
    expect(series(text, 'aicb_circuit_open_duration_seconds_count')).toEqual({
      'provider="openai",endpoint="chat"': 2,
    });
    const [detail] = (await s.health()).endpoints.openai?.chat ?? [];
    const start = Date.UTC(2026, 0, 1);
    expect(detail).toMatchObject({
      state: 'closed',
      lastOpenedAt: new Date(start + 720_000).toISOString(),
      lastRecoveredAt: new Date(start + 721_000).toISOString(),
    });
  });
});
