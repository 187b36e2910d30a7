// Alert delivery on real sockets: real HTTP receivers on 127.0.0.1, real undici connections,
// real (short) timers. What a receiver gets, how failures are retried or given up, and that a
// dead, slow or hostile receiver costs the sender nothing but counters and log lines.
import { afterEach, describe, expect, it } from 'vitest';
import {
  AlertDispatcher,
  slackMessageOf,
  type AlertDeliveryResult,
  type AlertDispatcherOptions,
  type AlertingConfig,
} from '../../../src/alerts/index.ts';
import { anAlert, captureLogger } from '../../unit/alerts/alert-test-kit.ts';
import { deadPort, startAlertReceiver, type AlertReceiver } from './alert-receiver.ts';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(...args: Parameters<typeof startAlertReceiver>): Promise<AlertReceiver> {
  const started = await startAlertReceiver(...args);
  cleanups.push(() => started.close());
  return started;
}

const ALL_EVENTS: AlertingConfig['on'] = ['opened', 'halfOpen', 'closed', 'allTargetsOpen'];

function dispatcherFor(
  targets: AlertingConfig['targets'],
  options: Partial<AlertDispatcherOptions> = {},
): {
  dispatcher: AlertDispatcher;
  results: AlertDeliveryResult[];
  log: ReturnType<typeof captureLogger>;
  next: (predicate: (r: AlertDeliveryResult) => boolean) => Promise<AlertDeliveryResult>;
} {
  const log = captureLogger();
  const dispatcher = new AlertDispatcher({
    logger: log.logger,
    baseDelayMs: 20,
    maxDelayMs: 100,
    ...options,
  });
  cleanups.push(() => dispatcher.close({ deadlineMs: 2000 }));
  dispatcher.configure({ on: ALL_EVENTS, dedupWindowMs: 0, targets });
  const results: AlertDeliveryResult[] = [];
  dispatcher.onResult((r) => results.push(r));
  const next = (predicate: (r: AlertDeliveryResult) => boolean): Promise<AlertDeliveryResult> => {
    const seen = results.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const stop = dispatcher.onResult((r) => {
        if (!predicate(r)) return;
        stop();
        resolve(r);
      });
    });
  };
  return { dispatcher, results, log, next };
}

describe('webhook delivery', () => {
  it('POSTs exactly the alert JSON, with its id and attempt in headers', async () => {
    const hook = await receiver();
    const { dispatcher, next } = dispatcherFor([
      { kind: 'webhook', url: `${hook.origin}/hooks/T1/abc?token=xyz` },
    ]);
    const alert = anAlert();
    expect(dispatcher.enqueue(alert)).toBe('queued');
    await next((r) => r.outcome === 'sent');

    expect(hook.requests).toHaveLength(1);
    const [request] = hook.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/hooks/T1/abc?token=xyz');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['user-agent']).toBe('ai-circuit-breaker-alerts');
    expect(request?.headers['x-aicb-alert-attempt']).toBe('1');
    expect(request?.headers['x-aicb-alert-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(request?.body).toBe(JSON.stringify(alert));
    expect(JSON.parse(request?.body ?? '')).toEqual(alert);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ sent: 1, failed: 0, retried: 0 });
  });

  it('retries a receiver that answers 503 twice: three attempts, one delivery', async () => {
    const hook = await receiver((_req, index) =>
      index < 2 ? { status: 503, body: 'busy' } : { status: 200 },
    );
    const { dispatcher, results, next } = dispatcherFor([
      { kind: 'webhook', url: `${hook.origin}/hook` },
    ]);
    dispatcher.enqueue(anAlert());
    await next((r) => r.outcome === 'sent');

    expect(hook.requests.map((r) => r.headers['x-aicb-alert-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(hook.requests.map((r) => r.headers['x-aicb-alert-id'])).size).toBe(1);
    expect(new Set(hook.requests.map((r) => r.body)).size).toBe(1);
    expect(results.map((r) => `${r.outcome}:${r.status ?? ''}`)).toEqual([
      'retrying:503',
      'retrying:503',
      'sent:200',
    ]);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ sent: 1, retried: 2, failed: 0 });
  });

  it('gives up at once on a permanent 4xx', async () => {
    const hook = await receiver(() => ({ status: 410, body: 'channel_is_archived' }));
    const { dispatcher, next } = dispatcherFor([{ kind: 'slack', url: `${hook.origin}/s` }]);
    dispatcher.enqueue(anAlert());
    const result = await next((r) => r.outcome === 'failed');
    expect(result).toMatchObject({ status: 410, detail: 'channel_is_archived', attempt: 1 });
    expect(hook.requests).toHaveLength(1);
  });
});

describe('Slack delivery', () => {
  it('POSTs a readable text fallback plus Block Kit blocks', async () => {
    const slack = await receiver();
    const { dispatcher, next } = dispatcherFor([
      { kind: 'slack', url: `${slack.origin}/services/T0/B0/xyz` },
    ]);
    const alert = anAlert({
      event: 'closed',
      fromState: 'half_open',
      toState: 'closed',
      reason: 'probe_success',
      outageDurationMs: 133_000,
    });
    dispatcher.enqueue(alert);
    await next((r) => r.outcome === 'sent');

    const body = JSON.parse(slack.requests[0]?.body ?? '') as {
      text: string;
      blocks: unknown[];
    };
    expect(body.text).toBe(
      ':large_green_circle: Circuit CLOSED openai/chat (policy shop/chat-egress): recovered after 2m13s.',
    );
    expect(body.blocks.length).toBeGreaterThan(0);
    expect(body).toEqual(JSON.parse(JSON.stringify(slackMessageOf(alert))));
  });
});

describe('receivers that fail', () => {
  it('times out a hanging receiver, closing its connection, without delaying the other targets', async () => {
    const hanging = await receiver(() => 'hang');
    const healthy = await receiver();
    const { dispatcher, results, next } = dispatcherFor(
      [
        { kind: 'webhook', url: `${hanging.origin}/slow` },
        { kind: 'slack', url: `${healthy.origin}/fast` },
      ],
      { requestTimeoutMs: 1000, maxAttempts: 1 },
    );
    dispatcher.enqueue(anAlert());
    await next((r) => r.target.kind === 'slack' && r.outcome === 'sent');
    // The healthy receiver was served while the hanging one still held its request.
    expect(results.filter((r) => r.target.kind === 'webhook')).toEqual([]);
    expect(hanging.requests).toHaveLength(1);

    const failed = await next((r) => r.target.kind === 'webhook');
    expect(failed).toMatchObject({ outcome: 'failed', error: 'timeout', attempt: 1 });
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      timedOut: 1,
      failed: 1,
      inFlight: 0,
    });
    await expect.poll(() => hanging.requests[0]?.abortedBySender).toBe(true);
  });

  it('turns a dead port into counters and one log line', async () => {
    const port = await deadPort();
    const { dispatcher, next, log } = dispatcherFor(
      [{ kind: 'webhook', url: `http://127.0.0.1:${port}/hook` }],
      { maxAttempts: 3 },
    );
    expect(dispatcher.enqueue(anAlert())).toBe('queued');
    const failed = await next((r) => r.outcome === 'failed');
    expect(failed).toMatchObject({ error: 'connection_refused', attempt: 3 });
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      sent: 0,
      failed: 1,
      retried: 2,
      queued: 0,
      inFlight: 0,
    });
    const warnings = log.records().filter((r) => r.level === 'warn' || r.level === 'error');
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: 'alert delivery failed after retries',
        error: 'connection_refused',
      }),
    ]);
  });
});

describe('secrets', () => {
  it('never puts a target URL in logs, stats, results, configure statuses or errors', async () => {
    const SECRET = 'SECRET-0123456789abcdef';
    const PASSWORD = 'pw-SECRET-basic-auth';
    // A hostile receiver that echoes the request path in its error body.
    const echo = await receiver((req) => ({ status: 404, body: `no hook at ${req.path}` }));
    const failing = await receiver(() => ({ status: 500, body: 'boom' }));
    const hanging = await receiver(() => 'hang');
    const authed = await receiver();
    const port = await deadPort();
    const targets: AlertingConfig['targets'] = [
      { kind: 'webhook', url: `http://127.0.0.1:${port}/hooks/${SECRET}?token=${SECRET}` },
      { kind: 'webhook', url: `${echo.origin}/hooks/${SECRET}` },
      { kind: 'webhook', url: `${failing.origin}/hooks/${SECRET}` },
      { kind: 'webhook', url: `${hanging.origin}/hooks/${SECRET}` },
      { kind: 'webhook', url: `http://user:${PASSWORD}@${authed.origin.slice(7)}/hooks/${SECRET}` },
      { kind: 'webhook', url: `not a url ${SECRET}` },
      { kind: 'slack', url: `https://127.0.0.1:${port}/services/${SECRET}` },
    ];
    const log = captureLogger();
    const dispatcher = new AlertDispatcher({
      logger: log.logger,
      baseDelayMs: 10,
      maxDelayMs: 20,
      maxAttempts: 2,
      requestTimeoutMs: 500,
      warnIntervalMs: 0,
    });
    const results: AlertDeliveryResult[] = [];
    dispatcher.onResult((r) => results.push(r));
    const statuses = dispatcher.configure({ on: ALL_EVENTS, dedupWindowMs: 0, targets });
    dispatcher.enqueue(anAlert());
    await expect
      .poll(() => results.filter((r) => r.outcome !== 'retrying').length, { timeout: 10_000 })
      .toBe(6);
    let thrown: unknown;
    try {
      dispatcher.configure({ on: ['bogus' as 'opened'], dedupWindowMs: 0, targets });
    } catch (error) {
      thrown = error;
    }
    await dispatcher.close({ deadlineMs: 2000 });

    // Basic credentials in the URL reach the receiver as a header, not in the request line.
    expect(authed.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`user:${PASSWORD}`).toString('base64')}`,
    );
    const outcomes = results.filter((r) => r.outcome !== 'retrying').map((r) => r.error ?? 'sent');
    expect(outcomes.sort()).toEqual(
      [
        'connection_refused',
        'connection_refused',
        'http_status',
        'http_status',
        'sent',
        'timeout',
      ].sort(),
    );
    const everything = [
      ...log.lines,
      JSON.stringify(dispatcher.stats()),
      JSON.stringify(results),
      JSON.stringify(statuses),
      String(thrown),
      JSON.stringify(thrown),
    ].join('\n');
    expect(everything).toContain('fingerprint');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain('/hooks/');
  });
});

describe('enqueue under load', () => {
  it('takes 10,000 alerts from a hot loop synchronously, without throwing, within the queue bound', async () => {
    const hook = await receiver();
    const { dispatcher } = dispatcherFor([{ kind: 'webhook', url: `${hook.origin}/hook` }], {
      maxQueue: 100,
    });
    const alerts = Array.from({ length: 10_000 }, (_, i) => anAlert({ upstream: `u${i}` }));
    const started = performance.now();
    let maxQueued = 0;
    for (const alert of alerts) {
      const result = dispatcher.enqueue(alert);
      // A plain string, not a promise: nothing here awaits.
      if (result !== 'queued') throw new Error(`enqueue returned ${result}`);
      maxQueued = Math.max(maxQueued, dispatcher.stats().targets.webhook.queued);
    }
    const elapsedMs = performance.now() - started;
    console.log(`enqueue: 10,000 alerts in ${elapsedMs.toFixed(1)} ms (stats() read each time)`);

    expect(maxQueued).toBe(100);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ queued: 100, dropped: 9900 });
    await dispatcher.close({ deadlineMs: 15_000 });
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      sent: 100,
      queued: 0,
      dropped: 9900,
    });
    // The newest alerts survived: the oldest were dropped.
    const delivered = hook.requests.map(
      (r) => (JSON.parse(r.body) as { upstream: string }).upstream,
    );
    expect(new Set(delivered)).toEqual(new Set(alerts.slice(9900).map((a) => a.upstream)));
  });
});
