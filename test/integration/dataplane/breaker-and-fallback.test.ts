// The sidecar's core promise, driven by the official OpenAI SDK on real loopback sockets:
// circuits open after the threshold, open circuits are skipped without a call, half-open probes
// decide recovery, and when nothing can answer the app gets a fast error in its own format.
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let primary: FakeProvider;
let backup: FakeProvider;
let sc: RunningSidecar;

function spec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    upstreams: [
      { name: 'openai', provider: 'openai', baseURL: primary.url },
      {
        name: 'backup',
        provider: 'openai-compatible',
        baseURL: backup.url,
        apiKey: { env: 'BACKUP_KEY' },
      },
    ],
    breaker: {
      failureThreshold: 3,
      recoveryTimeout: '10s',
      recoveryBackoff: { multiplier: 2, max: '5m', jitter: 0 },
    },
    fallbacks: [{ from: 'openai', to: [{ upstream: 'backup', model: 'backup-model' }] }],
    ...overrides,
  };
}

function client(upstream = 'openai'): OpenAI {
  return new OpenAI({
    apiKey: 'sk-app-own-key',
    baseURL: `${sc.url}/${upstream}/v1`,
    maxRetries: 0,
  });
}

async function chat(c = client()) {
  return c.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
}

beforeEach(async () => {
  primary = await startFakeProvider({ api: 'openai' });
  backup = await startFakeProvider({ api: 'openai' });
  sc = await startSidecar(spec(), { env: { BACKUP_KEY: 'sk-backup-key-1234' } });
});

afterEach(async () => {
  await sc.close();
  await primary.close();
  await backup.close();
});

describe('breaker on the request path', () => {
  it('passes a healthy call through with the app credentials and says who answered', async () => {
    const { data, response } = await chat();
    expect(data.choices[0]?.message.content).toBe('The circuit is closed and');
    expect(response.headers.get('x-aicb-upstream')).toBe('openai');
    expect(response.headers.get('x-aicb-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-aicb-attempts')).toBe('openai:200');
    expect(response.headers.get('x-aicb-fallback')).toBeNull();
    expect(primary.requests).toHaveLength(1);
    expect(primary.requests[0]?.url).toBe('/v1/chat/completions');
    expect(primary.requests[0]?.headers.authorization).toBe('Bearer sk-app-own-key');
  });

  it('falls back on each failure, opens after the threshold, then skips the primary without calling it', async () => {
    primary.setDefault({ type: 'status', status: 503 });
    for (let i = 0; i < 3; i++) {
      const { response } = await chat();
      expect(response.headers.get('x-aicb-fallback')).toBe('openai->backup');
      expect(response.headers.get('x-aicb-attempts')).toBe('openai:503,backup:200');
    }
    expect(primary.requests).toHaveLength(3);
    expect((await sc.health()).providers.openai).toBe('open');

    const { data, response } = await chat();
    expect(primary.requests).toHaveLength(3); // the open circuit saved the call
    expect(response.headers.get('x-aicb-attempts')).toBe('openai:open,backup:200');
    expect(response.headers.get('x-aicb-upstream')).toBe('backup');
    expect(response.headers.get('x-aicb-model')).toBe('backup-model');
    expect(data.model).toBe('backup-model');
    // The fallback got the policy's key and the mapped model, never the app's key.
    const last = backup.requests.at(-1);
    expect(last?.headers.authorization).toBe('Bearer sk-backup-key-1234');
    expect((last?.json as { model: string }).model).toBe('backup-model');
  });

  it('closes after successful half-open probes', async () => {
    primary.setDefault({ type: 'status', status: 500 });
    for (let i = 0; i < 3; i++) await chat();
    expect((await sc.health()).providers.openai).toBe('open');
    primary.setDefault({ type: 'ok' });
    sc.clock.advance(10_000);
    const probe1 = await chat();
    expect(probe1.response.headers.get('x-aicb-upstream')).toBe('openai');
    expect((await sc.health()).providers.openai).toBe('half_open');
    await chat(); // successThreshold defaults to 2
    expect((await sc.health()).providers.openai).toBe('closed');
    expect(await sc.metricsText()).toContain(
      'circuit_breaker_state_changes_total{provider="openai",from_state="half_open",to_state="closed"} 1',
    );
  });

  it('accounts for the outage: openings, duration, and when it opened and recovered', async () => {
    primary.setDefault({ type: 'status', status: 500 });
    for (let i = 0; i < 3; i++) await chat();
    const opened = (await sc.health()).endpoints.openai?.chat?.[0] as unknown as {
      lastOpenedAt: string | null;
      lastRecoveredAt: string | null;
    };
    expect(opened.lastOpenedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(opened.lastRecoveredAt).toBeNull();
    sc.clock.advance(10_000);
    await chat(); // probe fails: still the same outage
    primary.setDefault({ type: 'ok' });
    sc.clock.advance(20_000);
    await chat();
    await chat();
    const recovered = (await sc.health()).endpoints.openai?.chat?.[0] as unknown as {
      lastOpenedAt: string;
      lastRecoveredAt: string | null;
    };
    expect(recovered.lastOpenedAt).toBe(opened.lastOpenedAt);
    expect(Date.parse(recovered.lastRecoveredAt ?? '') - Date.parse(recovered.lastOpenedAt)).toBe(
      30_000,
    );
    const metrics = await sc.metricsText();
    expect(metrics).toContain('aicb_circuit_openings_total{provider="openai",endpoint="chat"} 1');
    expect(metrics).toContain(
      'aicb_circuit_open_duration_seconds_sum{provider="openai",endpoint="chat"} 30',
    );
  });

  it('reopens on a failed probe for a longer period', async () => {
    primary.setDefault({ type: 'status', status: 500 });
    for (let i = 0; i < 3; i++) await chat();
    sc.clock.advance(10_000);
    await chat(); // probe fails -> open again, now for 20 s
    const health = await sc.health();
    expect(health.providers.openai).toBe('open');
    const detail = health.endpoints.openai?.chat?.[0];
    expect(detail?.attempt).toBe(2);
    expect(detail?.openRemainingMs).toBe(20_000);
    sc.clock.advance(19_999);
    const before = primary.requests.length;
    await chat();
    expect(primary.requests.length).toBe(before);
  });

  it('fails fast with 503, Retry-After and AICB_CIRCUIT_OPEN when every target is open', async () => {
    primary.setDefault({ type: 'status', status: 500 });
    backup.setDefault({ type: 'status', status: 500 });
    for (let i = 0; i < 3; i++) await chat().catch(() => undefined);
    const calls = primary.requests.length + backup.requests.length;
    const started = performance.now();
    const error = await chat().then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(503);
    expect(apiError.code).toBe('AICB_CIRCUIT_OPEN');
    expect(apiError.headers?.get('retry-after')).toBe('10');
    expect(apiError.headers?.get('x-aicb-attempts')).toBe('openai:open,backup:open');
    expect(primary.requests.length + backup.requests.length).toBe(calls);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('returns the real upstream error when the last target fails, not a made-up one', async () => {
    primary.setDefault({ type: 'status', status: 502 });
    backup.setDefault({ type: 'status', status: 500 });
    const error = (await chat().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(500);
    expect(error.message).toContain('fake openai error 500');
    expect(error.headers?.get('x-aicb-attempts')).toBe('openai:502,backup:500');
  });

  it('does not count the caller’s own 4xx mistakes', async () => {
    primary.setDefault({ type: 'status', status: 400 });
    for (let i = 0; i < 5; i++) {
      const error = (await chat().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(error.status).toBe(400);
    }
    expect(primary.requests).toHaveLength(5);
    expect(backup.requests).toHaveLength(0);
    expect((await sc.health()).providers.openai).toBe('closed');
  });

  it('honours Retry-After: a 429 storm with failureRate opens the circuit for the asked time', async () => {
    sc.apply(
      spec({
        breaker: {
          failureThreshold: 3,
          failureRate: { percent: 50, minimumRequests: 2 },
          recoveryTimeout: '10s',
          recoveryBackoff: { max: '5m', jitter: 0 },
        },
      }),
    );
    primary.setDefault({ type: 'status', status: 429, headers: { 'retry-after': '120' } });
    await chat();
    await chat();
    const health = await sc.health();
    expect(health.providers.openai).toBe('open');
    expect(health.endpoints.openai?.chat?.[0]?.openRemainingMs).toBe(120_000);
  });

  it('treats 429s as soft: without failureRate they never open the circuit', async () => {
    primary.setDefault({ type: 'status', status: 429 });
    for (let i = 0; i < 6; i++) await chat();
    expect((await sc.health()).providers.openai).toBe('closed');
    expect(backup.requests).toHaveLength(6); // each one still fell back
  });

  it('keeps the open circuit of an unchanged upstream on reload, and starts a repointed one fresh', async () => {
    primary.setDefault({ type: 'status', status: 503 });
    for (let i = 0; i < 3; i++) await chat();
    expect((await sc.health()).providers.openai).toBe('open');
    // A reload that changes something else keeps the outage.
    sc.apply(spec({ breaker: { failureThreshold: 4, recoveryTimeout: '10s' } }));
    expect((await sc.health()).providers.openai).toBe('open');
    // The same name pointed at another service: its old circuit says nothing of the new one.
    const moved = await startFakeProvider({ api: 'openai' });
    try {
      const repointed = spec({ breaker: { failureThreshold: 4, recoveryTimeout: '10s' } });
      repointed.upstreams = [
        { name: 'openai', provider: 'openai', baseURL: moved.url },
        ...(repointed.upstreams as object[]).slice(1),
      ];
      sc.apply(repointed);
      expect((await sc.health()).providers.openai).not.toBe('open');
      const { response } = await chat();
      expect(response.headers.get('x-aicb-attempts')).toBe('openai:200');
      expect(moved.requests).toHaveLength(1);
    } finally {
      await moved.close();
    }
  });
});
