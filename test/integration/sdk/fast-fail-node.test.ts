// Fast fail as an app meets it: the official Node SDKs at their DEFAULT settings (max_retries=2,
// no options) against a sidecar whose circuits are all open. The SDK must raise the sidecar's
// 503 AICB_CIRCUIT_OPEN at once (x-should-retry: false), not sleep through a Retry-After of
// tens of seconds twice. docs/sdk-retries.md quotes the times measured here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allCircuitsOpen, type AllCircuitsOpen } from '../../support/all-circuits-open.ts';
import { buildSidecar } from '../../../src/dataplane/build-sidecar.ts';
import { compilePolicyText } from '../../../src/dataplane/config/policy-file.ts';
import { createLogger } from '../../../src/shared/create-logger.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';
import { policyYaml } from '../../support/sidecar-harness.ts';
import { startFakeProvider } from '../../support/fake-provider.ts';

const FAST_FAIL_BUDGET_MS = 100;
const MIN_SDK_BACKOFF_MS = 375;
const sdkVersion = (name: string) =>
  (
    JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
let outage: AllCircuitsOpen;

beforeEach(async () => {
  outage = await allCircuitsOpen();
});
afterEach(async () => {
  await outage.close();
});

/** Time to the error the app sees, and the error. */
async function timeToError(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await call();
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
  throw new Error('expected the call to fail');
}

describe('fast fail with the official Node SDKs at default settings', () => {
  it('openai: the app gets 503 AICB_CIRCUIT_OPEN in under 100 ms, with no SDK retry', async () => {
    const client = new OpenAI({ apiKey: 'sk-app', baseURL: `${outage.sc.url}/openai/v1` });
    expect(client.maxRetries).toBe(2); // the SDK's default, untouched
    const before = await outage.shortCircuited();
    const call = () =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
    // The first call of a client also pays its set-up; the second is what later requests see.
    const first = await timeToError(call);
    const { ms, error } = await timeToError(call);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const e = error as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(503);
    expect(e.code).toBe('AICB_CIRCUIT_OPEN');
    expect(e.headers?.get('x-should-retry')).toBe('false');
    // The open period is still long: this is what the SDK would otherwise have slept, twice.
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(20);
    expect(ms).toBeLessThan(FAST_FAIL_BUDGET_MS);
    // Below the shortest retry backoff (0.5 s less 25 % jitter): the SDK never slept.
    expect(first.ms).toBeLessThan(MIN_SDK_BACKOFF_MS);
    // Two calls, two requests: the SDK retried neither.
    expect((await outage.shortCircuited()) - before).toBe(2);
    expect(outage.providerRequests()).toBe(0);
    console.log(
      `fast fail, openai Node SDK ${sdkVersion('openai')} at defaults: ${ms.toFixed(1)} ms (first call of the client: ${first.ms.toFixed(1)} ms)`,
    );
  });

  it('@anthropic-ai/sdk: the app gets 503 AICB_CIRCUIT_OPEN in under 100 ms, with no SDK retry', async () => {
    const client = new Anthropic({ apiKey: 'sk-app', baseURL: `${outage.sc.url}/anthropic` });
    expect(client.maxRetries).toBe(2);
    const before = await outage.shortCircuited();
    const call = () =>
      client.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hi' }],
      });
    const first = await timeToError(call);
    const { ms, error } = await timeToError(call);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    const e = error as InstanceType<typeof Anthropic.APIError>;
    expect(e.status).toBe(503);
    expect(e.error).toMatchObject({
      error: { type: 'overloaded_error', code: 'AICB_CIRCUIT_OPEN' },
    });
    expect(e.headers?.get('x-should-retry')).toBe('false');
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(20);
    expect(ms).toBeLessThan(FAST_FAIL_BUDGET_MS);
    // Below the shortest retry backoff (0.5 s less 25 % jitter): the SDK never slept.
    expect(first.ms).toBeLessThan(MIN_SDK_BACKOFF_MS);
    // Two calls, two requests: the SDK retried neither.
    expect((await outage.shortCircuited()) - before).toBe(2);
    expect(outage.providerRequests()).toBe(0);
    console.log(
      `fast fail, Anthropic Node SDK ${sdkVersion('@anthropic-ai/sdk')} at defaults: ${ms.toFixed(1)} ms (first call of the client: ${first.ms.toFixed(1)} ms)`,
    );
  });

  it('streaming requests fail as fast', async () => {
    const client = new OpenAI({ apiKey: 'sk-app', baseURL: `${outage.sc.url}/openai/v1` });
    const { ms, error } = await timeToError(async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      for await (const chunk of stream) expect(chunk).toBeUndefined(); // never reached
    });
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(ms).toBeLessThan(FAST_FAIL_BUDGET_MS);
  });
});

describe('answers the SDK is told to retry', () => {
  it('a sidecar still waiting for its policy: the SDK retries a second later and gets the answer', async () => {
    const provider = await startFakeProvider({ api: 'openai' });
    const sidecar = buildSidecar({
      logger: createLogger({ level: 'silent' }),
      collectProcessMetrics: false,
    });
    const url = await sidecar.proxy.listen({ host: '127.0.0.1', port: 0 });
    try {
      const client = new OpenAI({ apiKey: 'sk-app', baseURL: `${url}/openai/v1` });
      const pending = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });
      // The policy arrives just after the app's first request was refused.
      await new Promise((r) => setTimeout(r, 200));
      const compiled = compilePolicyText(
        policyYaml({ upstreams: [{ name: 'openai', provider: 'openai', baseURL: provider.url }] }),
      );
      if (!compiled.ok) throw new Error('bad policy');
      sidecar.applySnapshot(compiled.snapshot);
      const reply = await pending;
      expect(reply.object).toBe('chat.completion');
      expect(provider.requests).toHaveLength(1);
    } finally {
      await sidecar.close();
      await provider.close();
    }
  });
});
