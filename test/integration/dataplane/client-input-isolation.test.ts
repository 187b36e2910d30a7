// Nothing the client sends may be charged to an upstream's circuit: odd bytes in the model name,
// long unknown field names, and bodies built to break a parser are answered (served, or refused
// with 400) while the provider's circuit stays closed. The sidecar's own faults are its own.
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

let oa: FakeProvider;
let claude: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  oa = await startFakeProvider({ api: 'openai' });
  claude = await startFakeProvider({ api: 'anthropic' });
  sc = await startSidecar(
    {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: oa.url },
        {
          name: 'anthropic',
          provider: 'anthropic',
          baseURL: claude.url,
          apiKey: { env: 'ANTHROPIC_KEY' },
        },
      ],
      breaker: { failureThreshold: 2 },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] }],
    },
    { env: { ANTHROPIC_KEY: 'sk-ant-test' } },
  );
});

afterEach(async () => {
  await sc.close();
  await Promise.all([oa.close(), claude.close()]);
});

async function post(
  body: string,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(`${sc.url}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function openaiState(): Promise<string | undefined> {
  return (await sc.health()).providers.openai;
}

describe('client input never trips a circuit', () => {
  it.each([
    ['non-Latin-1', 'gpt-4o-模型'],
    ['control characters', 'gpt-4o\u0001\r\n'],
    ['an emoji', 'gpt-🚀'],
  ])('serves a model name with %s and writes a safe x-aicb-model', async (_name, model) => {
    for (let i = 0; i < 4; i++) {
      const res = await post(
        JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      );
      expect(res.status).toBe(200);
      expect(String(res.headers['x-aicb-model'])).toMatch(/^[\x20-\x7e]+$/);
      expect(decodeURIComponent(String(res.headers['x-aicb-model']))).toBe(model);
    }
    expect(await openaiState()).toBe('closed');
    expect(await sc.metricsText()).not.toMatch(/circuit_breaker_failures_total\{provider="openai"/);
  });

  it('keeps x-aicb-attempts valid when a skip reason names a long unknown field', async () => {
    oa.setDefault({ type: 'status', status: 500 });
    const field = 'an_unknown_field_whose_name_is_longer_than_forty_characters_é';
    const res = await post(JSON.stringify({ model: 'gpt-4o', messages: [], [field]: 1 }));
    // The primary's own 500 is the answer; the Anthropic fallback could not take the field.
    expect(res.status).toBe(500);
    expect(res.text).toContain('fake openai error 500');
    expect(String(res.headers['x-aicb-attempts'])).toMatch(
      /^openai:500,anthropic:skipped-untranslatable\(/,
    );
    expect(String(res.headers['x-aicb-attempts'])).toMatch(/^[\x20-\x7e]+$/);
  });

  it('refuses a 200k-deep JSON body with 400 and never calls the provider', async () => {
    const depth = 200_000;
    const body = `{"model":"gpt-4o","stream":true,"messages":[],"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    for (let i = 0; i < 3; i++) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.headers['x-aicb-error']).toBe('AICB_INVALID_JSON');
      expect(res.text).toContain('nesting deeper than 512');
    }
    expect(oa.requests).toHaveLength(0);
    expect(await openaiState()).toBe('closed');
  });

  it.each([
    ['a raw tab in a message', '{"model":"gpt-4o","messages":[{"role":"user","content":"a\tb"}]}'],
    [
      'a bad escape in a message',
      '{"model":"gpt-4o","messages":[{"role":"user","content":"\\x41"}]}',
    ],
    ['a short \\u in the model', '{"model":"gpt-\\u12","messages":[]}'],
    [
      'a control character in stream_options',
      '{"model":"gpt-4o","stream":true,"stream_options":{"x":"\u0001"},"messages":[]}',
    ],
  ])(
    'refuses a body with %s with 400 before any call, also when the fallback would translate it',
    async (_name, body) => {
      expect(() => JSON.parse(body) as unknown).toThrow(SyntaxError);
      // The primary fails, so the chain would go on to the Anthropic fallback (a translation).
      oa.setDefault({ type: 'status', status: 503 });
      for (let i = 0; i < 3; i++) {
        const res = await post(body);
        expect(res.status).toBe(400);
        expect(res.headers['x-aicb-error']).toBe('AICB_INVALID_JSON');
        expect(res.text).toMatch(/in a string at byte \d+/);
      }
      expect(oa.requests).toHaveLength(0);
      expect(claude.requests).toHaveLength(0);
      expect(await openaiState()).toBe('closed');
    },
  );

  it('treats a chat body as JSON whatever its content type says', async () => {
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"model": "gpt-4o", "messages": [',
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-aicb-error']).toBe('AICB_INVALID_JSON');
    await res.body.dump();
    expect(oa.requests).toHaveLength(0);
  });

  it('does not charge a fallback whose answer cannot be converted to the app API', async () => {
    // A cross-format answer the sidecar cannot convert is not the provider's fault either.
    oa.setDefault({ type: 'status', status: 500 });
    claude.setDefault({
      type: 'raw',
      status: 200,
      headers: { 'content-type': 'application/json' },
      chunks: ['{"not":"a message"}'],
    });
    for (let i = 0; i < 3; i++)
      await post(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    expect((await sc.health()).providers.anthropic).toBe('closed');
  });
});
