// Standalone alerting: a sidecar's circuit transitions reach a real local webhook receiver as
// JSON (opened with its counts and probe time, closed with the outage duration), every-target-
// open moments raise allTargetsOpen, and the webhook URL (a secret) never reaches the logs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

interface Received {
  event: string;
  upstream: string;
  endpoint: string;
  fromState: string;
  toState: string;
  reason: string;
  counts: Record<string, number>;
  openForMs?: number;
  retryAt?: string;
  outageDurationMs?: number;
  source: { kind: string };
}

let provider: FakeProvider;
let receiver: Server;
let received: Received[];
let webhookUrl: string;
let sc: RunningSidecar;

beforeEach(async () => {
  provider = await startFakeProvider({ api: 'openai' });
  received = [];
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as Received);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/SECRET-TOKEN-123456`;
  sc = await startSidecar(
    {
      upstreams: [{ name: 'openai', provider: 'openai', baseURL: provider.url }],
      breaker: {
        failureThreshold: 2,
        recoveryTimeout: '10s',
        successThreshold: 1,
        recoveryBackoff: { jitter: 0 },
      },
      alerting: {
        events: ['opened', 'halfOpen', 'closed', 'allTargetsOpen'],
        webhooks: [{ url: { env: 'ALERT_URL' } }],
      },
    },
    { env: { ALERT_URL: webhookUrl } },
  );
});

afterEach(async () => {
  await sc.close();
  await provider.close();
  await new Promise<void>((resolve) =>
    receiver.close(() => {
      resolve();
    }),
  );
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out; received ${JSON.stringify(received)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const chat = () =>
  new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/openai/v1`, maxRetries: 0 }).chat.completions
    .create({ model: 'gpt-4o', messages: [] })
    .catch(() => undefined);

describe('standalone alerts', () => {
  it('sends opened, allTargetsOpen, halfOpen and closed to the webhook', async () => {
    provider.setDefault({ type: 'status', status: 503 });
    await chat();
    await chat();
    await until(() => received.some((r) => r.event === 'opened'));
    const opened = received.find((r) => r.event === 'opened');
    expect(opened).toMatchObject({
      upstream: 'openai',
      endpoint: 'chat',
      fromState: 'closed',
      toState: 'open',
      reason: 'consecutive_failures',
      counts: { consecutiveFailures: 2 },
      openForMs: 10_000,
      source: { kind: 'sidecar' },
    });
    expect(opened?.retryAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    await chat(); // every target open: fast fail
    await until(() => received.some((r) => r.event === 'allTargetsOpen'));

    provider.setDefault({ type: 'ok' });
    sc.clock.advance(10_000);
    await chat();
    await until(() => received.some((r) => r.event === 'closed'));
    expect(received.map((r) => r.event)).toEqual([
      'opened',
      'allTargetsOpen',
      'halfOpen',
      'closed',
    ]);
    expect(received.at(-1)?.outageDurationMs).toBe(10_000);

    const logs = sc.logs.join('');
    expect(logs).not.toContain('SECRET-TOKEN-123456');
    expect(await sc.metricsText()).toContain('aicb_alerts_total{target="webhook",result="sent"} 4');
  });

  it('costs a dead alert endpoint only a counter and a log line', async () => {
    await new Promise<void>((resolve) =>
      receiver.close(() => {
        resolve();
      }),
    );
    receiver = createServer();
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    provider.setDefault({ type: 'status', status: 503 });
    const started = performance.now();
    await chat();
    await chat();
    await chat();
    // The request path never waits for alert delivery.
    expect(performance.now() - started).toBeLessThan(2000);
    const deadline = Date.now() + 10_000;
    let metrics = '';
    while (Date.now() < deadline) {
      metrics = await sc.metricsText();
      if (/aicb_alert_retries_total\{target="webhook",cause="any"\} [1-9]/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(metrics).toMatch(/aicb_alert_retries_total\{target="webhook",cause="any"\} [1-9]/);
    expect(sc.logs.join('')).toContain('alert');
    expect(sc.logs.join('')).not.toContain('SECRET-TOKEN-123456');
  }, 15_000);
});
