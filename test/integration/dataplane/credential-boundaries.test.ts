// No credential reaches a party it was not meant for: a path that names no upstream is not
// forwarded to the default one with the app's key, paths that could climb out of the API's
// prefix are refused before the policy's key is added, the app's own key is reused only at the
// origin it addressed, and a provider echoing the policy's key does not hand it to the app.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  startFakeProvider,
  type Behavior,
  type FakeProvider,
} from '../../support/fake-provider.ts';
import { rawRequest } from '../../support/raw-http.ts';
import { startSidecar, type RunningSidecar } from '../../support/sidecar-harness.ts';

const POLICY_KEY = 'sk-policy-backup-7f3a9c1e';
let primary: FakeProvider;
let backup: FakeProvider;
let sc: RunningSidecar;

beforeEach(async () => {
  primary = await startFakeProvider({ api: 'openai' });
  backup = await startFakeProvider({ api: 'openai' });
  sc = await startSidecar(
    {
      upstreams: [
        { name: 'primary', provider: 'openai', baseURL: primary.url },
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: backup.url,
          apiKey: { env: 'BACKUP_KEY' },
        },
        // Same provider type, another host, no key of its own.
        {
          name: 'mirror',
          provider: 'openai',
          baseURL: backup.url.replace('127.0.0.1', 'localhost'),
        },
      ],
      fallbacks: [{ from: 'primary', to: [{ upstream: 'mirror' }, { upstream: 'backup' }] }],
    },
    { env: { BACKUP_KEY: POLICY_KEY } },
  );
});

afterEach(async () => {
  await sc.close();
  await Promise.all([primary.close(), backup.close()]);
});

const chat = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });

describe('credential boundaries', () => {
  it('answers 404 for /openai/... when no upstream is named openai, forwarding nothing', async () => {
    const res = await request(`${sc.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer app-secret' },
      body: chat,
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-aicb-error']).toBe('AICB_UNKNOWN_UPSTREAM');
    await res.body.dump();
    expect(primary.requests).toHaveLength(0);
    expect(backup.requests).toHaveLength(0);
  });

  it.each([
    '/backup/v1/../../admin/keys',
    '/backup/v1/%2e%2e/%2E%2e/admin',
    '/backup/v1%2fchat/completions',
    '/primary/v1/./chat/completions',
  ])('refuses %s with 400 before any upstream sees it', async (path) => {
    const res = await rawRequest(
      sc.url,
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${chat.length}\r\nConnection: close\r\n\r\n`,
      chat,
    );
    expect(res.status).toBe(400);
    expect(res.headers['x-aicb-error']).toBe('AICB_INVALID_PATH');
    expect(primary.requests).toHaveLength(0);
    expect(backup.requests).toHaveLength(0);
  });

  it("reuses the app's key only at the origin it addressed; elsewhere only a target's own key goes", async () => {
    primary.setDefault({ type: 'status', status: 500 });
    const res = await request(`${sc.url}/primary/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer app-secret' },
      body: chat,
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(res.headers['x-aicb-attempts']).toBe(
      'primary:500,mirror:skipped-no_credentials,backup:200',
    );
    expect(backup.requests).toHaveLength(1);
    expect(backup.requests[0]?.headers.authorization).toBe(`Bearer ${POLICY_KEY}`);
  });

  it("sends none of the app's identity headers to a fallback at another origin", async () => {
    primary.setDefault({ type: 'status', status: 500 });
    const identity = {
      authorization: 'Bearer app-secret',
      'x-api-key': 'app-x-api-key',
      'api-key': 'app-api-key',
      cookie: 'session=app-cookie',
      'proxy-authorization': 'Basic app-proxy',
      'openai-organization': 'org-app',
      'openai-project': 'proj-app',
      'x-goog-api-key': 'app-goog',
      'helicone-auth': 'Bearer app-gateway',
    };
    const res = await request(`${sc.url}/primary/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-trace': 't1', ...identity },
      body: chat,
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    // The primary, the origin the app addressed, got all of them but the hop-by-hop one.
    const forPrimary: Record<string, string> = { ...identity };
    delete forPrimary['proxy-authorization'];
    expect(primary.requests[0]?.headers).toMatchObject(forPrimary);
    const sent = backup.requests[0]?.headers ?? {};
    expect(sent.authorization).toBe(`Bearer ${POLICY_KEY}`);
    expect(sent['x-trace']).toBe('t1');
    for (const name of Object.keys(identity).filter((n) => n !== 'authorization'))
      expect(sent[name], name).toBeUndefined();
    expect(JSON.stringify(sent)).not.toMatch(/app-/);
  });

  it("masks the policy's key when a fallback echoes it in its error body or headers", async () => {
    primary.setDefault({ type: 'status', status: 500 });
    backup.setDefault({
      type: 'status',
      status: 401,
      headers: { 'x-debug-key': `Bearer ${POLICY_KEY}` },
      body: {
        error: {
          message: `Incorrect API key provided: ${POLICY_KEY}`,
          type: 'invalid_request_error',
        },
      },
    });
    const res = await request(`${sc.url}/primary/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer app-secret' },
      body: chat,
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(401);
    expect(text).toContain('Incorrect API key provided: ');
    expect(text).not.toContain(POLICY_KEY);
    expect(JSON.stringify(res.headers)).not.toContain(POLICY_KEY);
    expect(text).toContain('*'.repeat(POLICY_KEY.length));
  });
});

describe("the policy's key in a compressed answer", () => {
  const echo = JSON.stringify({ error: { message: `Incorrect API key provided: ${POLICY_KEY}` } });
  const answer = JSON.stringify({
    id: 'c1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: `your key is ${POLICY_KEY}` },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });

  async function viaBackup(primaryFails: Behavior = { type: 'status', status: 500 }): Promise<{
    status: number;
    headers: Record<string, unknown>;
    text: string;
  }> {
    primary.setDefault(primaryFails);
    const res = await request(`${sc.url}/primary/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer app-secret' },
      body: chat,
    });
    // undici does not decode: the bytes are what the app's socket got.
    const bytes = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, text: bytes.toString('utf8') };
  }

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)(
    'decodes a %s answer before masking, for success and error statuses',
    async (encoding, compress) => {
      for (const [status, body] of [
        [200, answer],
        [401, echo],
      ] as const) {
        backup.queue({
          type: 'raw',
          status,
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
          // Split in two so the key may straddle chunks after decoding.
          chunks: (() => {
            const packed = compress(Buffer.from(body));
            const half = Math.floor(packed.length / 2);
            return [packed.subarray(0, half), packed.subarray(half)];
          })(),
          delayMs: 5,
        });
        const res = await viaBackup();
        expect(res.status).toBe(status);
        expect(res.headers['content-encoding']).toBeUndefined();
        expect(res.text).not.toContain(POLICY_KEY);
        expect(res.text).toContain('*'.repeat(POLICY_KEY.length));
        expect(JSON.parse(res.text)).toBeTypeOf('object');
      }
    },
  );

  it('drops an answer in an encoding it cannot decode: 502 AICB_UPSTREAM_UNDECODABLE, circuit untouched', async () => {
    backup.setDefault({
      type: 'raw',
      status: 200,
      headers: { 'content-type': 'application/json', 'content-encoding': 'x-weird' },
      chunks: [answer],
    });
    for (let i = 0; i < 6; i++) {
      // The primary resets, so no upstream answer is held to return instead.
      const res = await viaBackup({ type: 'reset' });
      expect(res.status).toBe(502);
      expect(res.headers['x-aicb-error']).toBe('AICB_UPSTREAM_UNDECODABLE');
      expect(res.headers['x-aicb-attempts']).toMatch(
        /^primary:[a-z_]+,mirror:skipped-no_credentials,backup:undecodable_encoding$/,
      );
      expect(res.text).not.toContain(POLICY_KEY);
    }
    // Six 200s in an unknown encoding are not failures of the backup.
    expect((await sc.health()).providers.backup).toBe('closed');
  });

  it('masks the key where a JSON body spells it with escapes', async () => {
    const escaped = POLICY_KEY.replaceAll('-', '\\u002D').replace('sk', '\\u0073k');
    backup.queue({
      type: 'status',
      status: 401,
      body: `{"error":{"message":"Incorrect API key provided: ${escaped}"}}`,
    });
    const res = await viaBackup();
    expect(res.status).toBe(401);
    expect(res.text).not.toContain(escaped);
    expect(JSON.parse(res.text)).toEqual({
      error: { message: `Incorrect API key provided: ${'*'.repeat(escaped.length)}` },
    });
  });
});
