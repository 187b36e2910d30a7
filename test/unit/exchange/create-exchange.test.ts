import { describe, expect, it } from 'vitest';
import {
  createExchange,
  forwardableHeaders,
  mapModel,
  type CredentialResolver,
  type ExchangePlan,
} from '../../../src/dataplane/exchange/exchange.ts';
import { originOf } from '../../../src/dataplane/providers/base-url.ts';
import { wireApiOf } from '../../../src/dataplane/providers/wire-api.ts';
import { ClientRequest } from '../../../src/dataplane/request/client-request.ts';
import { endpointOf } from '../../../src/dataplane/request/route.ts';
import type { CompiledTarget, CompiledUpstream } from '../../../src/snapshot/snapshot.ts';

function upstream(
  over: Partial<CompiledUpstream> & Pick<CompiledUpstream, 'name' | 'provider'>,
): CompiledUpstream {
  return {
    baseURL: 'https://api.example.com',
    apiVersion: null,
    apiKey: null,
    timeouts: { connectMs: 1, firstByteMs: 1, idleMs: 1, totalMs: 1 },
    maxConnections: 4096,
    ...over,
  };
}

const openai = upstream({ name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' });
const azure = upstream({
  name: 'azure',
  provider: 'azure-openai',
  baseURL: 'https://res.openai.azure.com',
  apiVersion: '2024-10-21',
  apiKey: { source: 'value', value: 'az-key' },
});
const compatible = upstream({
  name: 'vllm',
  provider: 'openai-compatible',
  baseURL: 'http://vllm:8000/prefix',
  apiKey: { source: 'value', value: 'vllm-key' },
});
const anthropic = upstream({
  name: 'anthropic',
  provider: 'anthropic',
  apiVersion: '2023-06-01',
  apiKey: { source: 'value', value: 'ant' },
});
const credential = (u: CompiledUpstream) =>
  u.apiKey?.source === 'value' ? u.apiKey.value : undefined;

interface RequestParts {
  readonly path?: string;
  readonly headers?: ClientRequest['headers'];
  readonly json?: Record<string, unknown>;
  readonly provider?: CompiledUpstream['provider'];
}

function openaiRequest(over: RequestParts = {}): ClientRequest {
  const json = over.json ?? { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
  const path = over.path ?? '/v1/chat/completions';
  const read = ClientRequest.read({
    method: 'POST',
    path,
    endpoint: endpointOf(path),
    headers: over.headers ?? {
      authorization: 'Bearer app-key',
      'content-type': 'application/json',
      connection: 'keep-alive, x-hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      host: '127.0.0.1:15400',
      'content-length': '10',
      'accept-encoding': 'gzip',
      'x-custom': 'kept',
    },
    body: Buffer.from(JSON.stringify(json)),
    api: wireApiOf(over.provider ?? 'openai', endpointOf(path)),
  });
  if (!read.ok) throw new Error(read.reason);
  return read.request;
}

/** The exchange for the upstream the app addressed. */
function planPrimary(client: ClientRequest, upstream: CompiledUpstream) {
  const plan = createExchange({
    client,
    requested: upstream,
    upstream,
    target: undefined,
    credential,
    nowWallMs: 0,
  });
  if (!plan.ok) throw new Error(plan.reason);
  return plan.exchange;
}

function planFallback(
  client: ClientRequest,
  requested: CompiledUpstream,
  target: CompiledTarget,
  upstream: CompiledUpstream,
  resolve: CredentialResolver,
  nowWallMs: number,
): ExchangePlan {
  return createExchange({ client, requested, upstream, target, credential: resolve, nowWallMs });
}

describe('planPrimary', () => {
  it('forwards the app request with its own credentials and without hop-by-hop headers', () => {
    const client = openaiRequest();
    const plan = planPrimary(client, openai);
    expect(plan.path).toBe('/v1/chat/completions');
    expect(plan.headers).toEqual({
      authorization: 'Bearer app-key',
      'content-type': 'application/json',
      'x-custom': 'kept',
      'accept-encoding': 'identity',
    });
    // The body goes out as the very bytes the app sent.
    expect(plan.body).toBe(client.body);
  });

  it('prefixes the base URL path of the upstream', () => {
    expect(planPrimary(openaiRequest(), compatible).path).toBe('/prefix/v1/chat/completions');
  });
});

describe('planFallback', () => {
  it('sends an OpenAI request to Azure at the deployment URL with the api-key header', () => {
    const plan = planFallback(
      openaiRequest(),
      openai,
      { upstream: 'azure', model: 'gpt4o-deploy', modelMap: null },
      azure,
      credential,
      0,
    );
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.exchange.path).toBe(
      '/openai/deployments/gpt4o-deploy/chat/completions?api-version=2024-10-21',
    );
    expect(plan.exchange.headers['api-key']).toBe('az-key');
    expect(plan.exchange.headers.authorization).toBeUndefined();
    expect(plan.exchange.model).toBe('gpt4o-deploy');
  });

  it('sends an Azure request to an OpenAI-compatible server with the mapped model in the body', () => {
    const client = openaiRequest({
      path: '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
      headers: { 'api-key': 'app-azure-key', 'content-type': 'application/json' },
      json: { messages: [] },
      provider: 'azure-openai',
    });
    const plan = planFallback(
      client,
      azure,
      { upstream: 'vllm', model: null, modelMap: { '*': 'llama' } },
      compatible,
      credential,
      0,
    );
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.exchange.path).toBe('/prefix/v1/chat/completions');
    expect(plan.exchange.headers).toMatchObject({ authorization: 'Bearer vllm-key' });
    expect(plan.exchange.headers['api-key']).toBeUndefined();
    expect(JSON.parse(plan.exchange.body?.toString() ?? '{}')).toEqual({
      messages: [],
      model: 'llama',
    });
  });

  it('translates a chat request for a target of another API format', () => {
    const plan = planFallback(
      openaiRequest(),
      openai,
      { upstream: 'anthropic', model: 'claude', modelMap: null },
      anthropic,
      credential,
      1_764_000_000_000,
    );
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.exchange.path).toBe('/v1/messages');
    expect(plan.exchange.headers).toMatchObject({
      'x-api-key': 'ant',
      'anthropic-version': '2023-06-01',
    });
    expect(plan.exchange.headers.authorization).toBeUndefined();
    expect(JSON.parse(plan.exchange.body?.toString() ?? '{}')).toMatchObject({
      model: 'claude',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(plan.exchange.conversion).toBeDefined();
  });

  it('skips a cross-format target with the translator reason when the request has no faithful mapping', () => {
    const json = { model: 'gpt-4o', n: 2, messages: [{ role: 'user', content: 'hi' }] };
    const plan = planFallback(
      openaiRequest({ json }),
      openai,
      { upstream: 'anthropic', model: 'claude', modelMap: null },
      anthropic,
      credential,
      0,
    );
    expect(plan).toMatchObject({ ok: false, reason: 'untranslatable' });
    expect(!plan.ok && plan.detail).toMatch(/n > 1|n=2|\bn\b/);
  });

  it('skips a cross-format target without an explicit model mapping or its own key', () => {
    expect(
      planFallback(
        openaiRequest(),
        openai,
        { upstream: 'anthropic', model: null, modelMap: null },
        anthropic,
        credential,
        0,
      ),
    ).toEqual({ ok: false, reason: 'no_model_mapping' });
    expect(
      planFallback(
        openaiRequest(),
        openai,
        { upstream: 'anthropic', model: 'claude', modelMap: null },
        { ...anthropic, apiKey: null },
        credential,
        0,
      ),
    ).toEqual({ ok: false, reason: 'no_credentials' });
  });

  it('skips a target whose modelMap has no entry for the requested model', () => {
    const plan = planFallback(
      openaiRequest(),
      openai,
      { upstream: 'vllm', model: null, modelMap: { 'gpt-3.5': 'x' } },
      compatible,
      credential,
      0,
    );
    expect(plan).toEqual({ ok: false, reason: 'no_model_mapping' });
  });

  it('never hands the app key to another host: without its own key such a target is skipped', () => {
    const keyless = { ...compatible, apiKey: null };
    expect(
      planFallback(
        openaiRequest(),
        openai,
        { upstream: 'vllm', model: null, modelMap: null },
        keyless,
        credential,
        0,
      ),
    ).toEqual({
      ok: false,
      reason: 'no_credentials',
    });
    // The same provider at another origin is another party too.
    expect(
      planFallback(
        openaiRequest(),
        openai,
        { upstream: 'openai-eu', model: null, modelMap: null },
        { ...openai, name: 'openai-eu', baseURL: 'https://eu.api.openai.com' },
        credential,
        0,
      ),
    ).toEqual({ ok: false, reason: 'no_credentials' });
    // The same origin may reuse the app credentials (another path or timeouts on one host).
    const plan = planFallback(
      openaiRequest(),
      openai,
      { upstream: 'openai2', model: null, modelMap: null },
      { ...openai, name: 'openai2' },
      credential,
      0,
    );
    expect(plan.ok && plan.exchange.headers.authorization).toBe('Bearer app-key');
    expect(plan.ok && plan.exchange.redactor).toBeUndefined();
  });
});

describe('helpers', () => {
  it('maps models with model, modelMap and "*"', () => {
    expect(mapModel({ upstream: 'x', model: 'fixed', modelMap: null }, 'gpt-4o')).toBe('fixed');
    expect(
      mapModel({ upstream: 'x', model: null, modelMap: { 'gpt-4o': 'a', '*': 'b' } }, 'gpt-4o'),
    ).toBe('a');
    expect(
      mapModel({ upstream: 'x', model: null, modelMap: { 'gpt-4o': 'a', '*': 'b' } }, 'other'),
    ).toBe('b');
    expect(mapModel({ upstream: 'x', model: null, modelMap: null }, 'gpt-4o')).toBe('gpt-4o');
  });

  it('finds the origin of a base URL', () => {
    expect(originOf('http://vllm:8000/prefix')).toBe('http://vllm:8000');
    expect(originOf('https://api.openai.com')).toBe('https://api.openai.com');
  });

  it('drops credentials on request', () => {
    expect(
      forwardableHeaders(
        { authorization: 'a', 'x-api-key': 'b', 'api-key': 'c', accept: 'd' },
        'credentials',
      ),
    ).toEqual({
      accept: 'd',
      'accept-encoding': 'identity',
    });
  });

  it("drops all of the app's identity for another origin, and only that", () => {
    const app = {
      authorization: 'Bearer a',
      'x-api-key': 'b',
      'api-key': 'c',
      cookie: 'session=d',
      'proxy-authorization': 'Basic e',
      'openai-organization': 'org-f',
      'openai-project': 'proj-g',
      'x-goog-api-key': 'h',
      'x-goog-user-project': 'i',
      'x-ms-authorization-auxiliary': 'j',
      'ocp-apim-subscription-key': 'k',
      'helicone-auth': 'l',
      'x-portkey-api-key': 'm',
      'x-session-token': 'n',
      'cf-aig-authorization': 'o',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'tools-2024-04-04',
      'openai-beta': 'assistants=v2',
      'idempotency-key': 'stainless-1',
      'x-stainless-retry-count': '0',
      'user-agent': 'OpenAI/JS 5.0.0',
      'content-type': 'application/json',
    };
    expect(forwardableHeaders(app, 'identity')).toEqual({
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'tools-2024-04-04',
      'openai-beta': 'assistants=v2',
      'idempotency-key': 'stainless-1',
      'x-stainless-retry-count': '0',
      'user-agent': 'OpenAI/JS 5.0.0',
      'content-type': 'application/json',
      'accept-encoding': 'identity',
    });
    // At the origin the app addressed only the key the policy replaces goes.
    const same = forwardableHeaders(app, 'credentials');
    expect(same.cookie).toBe('session=d');
    expect(same['openai-organization']).toBe('org-f');
    expect(same.authorization).toBeUndefined();
  });
});
