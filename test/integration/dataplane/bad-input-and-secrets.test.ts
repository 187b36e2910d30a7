// Bad input gets a clear error in the caller's format and nothing breaks; credentials never
// reach logs, metrics or health output.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let an: FakeProvider;
let sc: RunningSidecar;
const BACKUP_KEY = 'sk-backup-SECRET-0123456789';
const APP_KEY = 'sk-app-SECRET-abcdefghijkl';

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai' });
  an = await startFakeProvider({ api: 'anthropic' });
  sc = await startSidecar(
    {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: oa.url },
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: oa.url,
          apiKey: { env: 'BACKUP_KEY' },
        },
        { name: 'anthropic', provider: 'anthropic', baseURL: an.url },
      ],
      breaker: { failureThreshold: 1 },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
    },
    { env: { BACKUP_KEY }, maxBodyBytes: 4096, logLevel: 'trace' },
  );
});

afterEach(async () => {
  await sc.close();
  await oa.close();
  await an.close();
});

describe('bad input', () => {
  it('answers an oversized body with 413 in the caller format and keeps serving', async () => {
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x'.repeat(10_000) }],
      }),
    });
    expect(res.statusCode).toBe(413);
    const body = (await res.body.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('AICB_BODY_TOO_LARGE');
    expect(body.error.message).toContain('4096 bytes');
    expect(oa.requests).toHaveLength(0);
    const ok = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  it('answers malformed JSON with 400 in the OpenAI format', async () => {
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": "gpt-4o", "messages": [',
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-aicb-error']).toBe('AICB_INVALID_JSON');
    expect(await res.body.json()).toEqual({
      error: {
        message: 'The request body is not valid JSON: the JSON ends early at byte 33.',
        type: 'invalid_request_error',
        param: null,
        code: 'AICB_INVALID_JSON',
      },
    });
    expect(oa.requests).toHaveLength(0);
  });

  it('answers malformed JSON with 400 in the Anthropic format for an Anthropic upstream', async () => {
    const res = await request(`${sc.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'not json',
    });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: 'The request body is not valid JSON: the body is not a JSON object at byte 0.',
        code: 'AICB_INVALID_JSON',
      },
    });
  });

  it('answers an unknown upstream prefix with 404 that lists the configured ones', async () => {
    const c = new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/gemini/v1`, maxRetries: 0 });
    const error = (await c.chat.completions
      .create({ model: 'x', messages: [] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(404);
    expect(error.code).toBe('AICB_UNKNOWN_UPSTREAM');
    expect(error.message).toContain('Configured upstreams: openai, backup, anthropic');
  });

  it('routes unprefixed /v1 paths to the default upstream', async () => {
    const c = new OpenAI({ apiKey: 'k', baseURL: `${sc.url}/v1`, maxRetries: 0 });
    const { response } = await c.chat.completions
      .create({ model: 'gpt-4o', messages: [] })
      .withResponse();
    expect(response.headers.get('x-aicb-upstream')).toBe('openai');
  });

  it('gives the Anthropic SDK a typed overloaded error when its circuit is open', async () => {
    an.setDefault({ type: 'status', status: 529 });
    const c = new Anthropic({ apiKey: 'k', baseURL: `${sc.url}/anthropic`, maxRetries: 0 });
    const send = () =>
      c.messages
        .create({
          model: 'claude-sonnet-4-6',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        })
        .catch((e: unknown) => e);
    const first = (await send()) as InstanceType<typeof Anthropic.APIError>;
    expect(first.status).toBe(529); // the real answer of the call that tripped the circuit
    const second = (await send()) as InstanceType<typeof Anthropic.APIError>;
    expect(second).toBeInstanceOf(Anthropic.APIError);
    expect(second.status).toBe(503);
    expect(second.error).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', code: 'AICB_CIRCUIT_OPEN' },
    });
    expect(an.requests).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('never writes an API key to logs, metrics or health output', async () => {
    oa.setDefault({ type: 'status', status: 500 });
    const c = new OpenAI({ apiKey: APP_KEY, baseURL: `${sc.url}/openai/v1`, maxRetries: 0 });
    for (let i = 0; i < 3; i++)
      await c.chat.completions.create({ model: 'gpt-4o', messages: [] }).catch(() => undefined);
    // The fallback did get the policy's key, so it was in use.
    expect(oa.requests.some((r) => r.headers.authorization === `Bearer ${BACKUP_KEY}`)).toBe(true);
    const everything = [
      sc.logs.join(''),
      await sc.metricsText(),
      JSON.stringify(await sc.health()),
      await (await fetch(`${sc.adminUrl}/readyz`)).text(),
    ].join('\n');
    expect(sc.logs.length).toBeGreaterThan(0);
    expect(everything).not.toContain(BACKUP_KEY);
    expect(everything).not.toContain(APP_KEY);
  });
});
