/**
 * One exchange per target the chain reaches (never planned ahead): everything that depends on
 * the target is decided here, once — its URL, credentials and API version, the request body it
 * gets (the app's bytes, with `model` or `stream_options` spliced in when needed, or a
 * translation into its API), how its answer is read (its stream grammar, usage) and converted
 * back for the app, and the secret to mask in what it sends back. The attempt
 * (exchange/attempt.ts) then runs it. Envoy AI Gateway's per-backend translator is the model.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledTarget, CompiledUpstream } from '../../snapshot/snapshot.ts';
import { joinPath, originOf } from '../providers/base-url.ts';
import { planCrossFormat, type AnswerConversion } from '../providers/cross-format.ts';
import { familyOf, wireApiOf, type WireApi } from '../providers/wire-api.ts';
import type { ClientRequest } from '../request/client-request.ts';
import { azureDeploymentOf } from '../request/route.ts';
import type { SkipReason } from '../skip-reasons.ts';
import { SecretRedactor } from './secret-redactor.ts';

export interface Exchange {
  readonly upstream: CompiledUpstream;
  /** Model the target is asked for (reported in x-aicb-model). */
  readonly model: string | undefined;
  readonly isFallback: boolean;
  /** The app asked for an event stream (`"stream": true`). */
  readonly stream: boolean;
  readonly method: string;
  /** Path on the upstream's origin, query included. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | null;
  /** The API the target answers in (how its stream is read). */
  readonly upstreamApi: WireApi;
  /** The API the app speaks (how errors and converted answers are written). */
  readonly clientApi: WireApi;
  /** Converts the target's answer to the app's API; undefined when they speak the same one. */
  readonly conversion: AnswerConversion | undefined;
  /** The sidecar asked for OpenAI's usage chunk on the app's behalf: drop it from the stream. */
  readonly stripUsageChunk: boolean;
  /** Masks the key the sidecar injected (undefined when the app's own credentials went). */
  readonly redactor: SecretRedactor | undefined;
}

export type ExchangePlan =
  | { readonly ok: true; readonly exchange: Exchange }
  | { readonly ok: false; readonly reason: SkipReason; readonly detail?: string };

/** Resolves a credential reference to its value (env, file or delivered value), or undefined. */
export type CredentialResolver = (upstream: CompiledUpstream) => string | undefined;

export interface ExchangeInput {
  readonly client: ClientRequest;
  /** The upstream the app addressed. */
  readonly requested: CompiledUpstream;
  readonly upstream: CompiledUpstream;
  /** The fallback entry that names `upstream`; undefined for the requested upstream itself. */
  readonly target: CompiledTarget | undefined;
  readonly credential: CredentialResolver;
  readonly nowWallMs: number;
}

// Hop-by-hop headers (RFC 9110 section 7.6.1) and headers the sidecar sets itself.
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'accept-encoding',
  'expect',
]);

/** Credential headers of every provider; stripped before a target gets the policy's own. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'api-key', 'x-api-key']);

/**
 * The app's credentials and identity, meant for the origin it addressed: a fallback at another
 * origin gets none of them (docs/sidecar.md lists them). The named headers, and any whose name
 * has a part in IDENTITY_NAME (gateway keys such as `helicone-auth` or `x-portkey-api-key`).
 */
const IDENTITY_HEADERS = new Set([
  ...CREDENTIAL_HEADERS,
  'cookie',
  'proxy-authorization',
  'openai-organization',
  'openai-project',
  'chatgpt-account-id',
  'x-goog-api-key',
  'x-goog-user-project',
  'x-ms-authorization-auxiliary',
  'ocp-apim-subscription-key',
]);
const IDENTITY_NAME = /auth|api-?key|token|secret|cookie|session|credential|password/;

/** Which of the app's headers a target does not get. */
type Withheld = 'nothing' | 'credentials' | 'identity';

export function createExchange(input: ExchangeInput): ExchangePlan {
  const { client, requested, upstream, target } = input;
  const clientApi = client.api;
  if (target === undefined) {
    return {
      ok: true,
      exchange: sameApi(input, {
        model: client.model,
        headers: forwardableHeaders(client.headers, 'nothing'),
        body: client.body,
        path: joinPath(upstream.baseURL, client.path),
        redactor: undefined,
      }),
    };
  }
  const model = mapModel(target, client.model);
  if (model === undefined && target.modelMap !== null)
    return { ok: false, reason: 'no_model_mapping' };
  const key = input.credential(upstream);

  if (familyOf(upstream.provider) !== familyOf(requested.provider)) {
    // Another API: the request is translated, the answer converted back. The target needs its
    // own key and an explicit model (the app's model name means nothing to another provider).
    if (key === undefined) return { ok: false, reason: 'no_credentials' };
    if (model === undefined || (target.model === null && target.modelMap === null))
      return { ok: false, reason: 'no_model_mapping' };
    if (clientApi === 'openai-responses')
      return {
        ok: false,
        reason: 'untranslatable',
        detail: 'the Responses API is not translated to other APIs',
      };
    const userAgent = client.headers['user-agent'];
    const plan = planCrossFormat({
      client,
      target: upstream,
      model,
      key,
      userAgent: typeof userAgent === 'string' ? userAgent : undefined,
      nowSeconds: Math.floor(input.nowWallMs / 1000),
    });
    if (!plan.ok) return { ok: false, reason: 'untranslatable', detail: plan.reason };
    return {
      ok: true,
      exchange: {
        upstream,
        model,
        isFallback: true,
        stream: client.stream,
        method: 'POST',
        path: plan.path,
        headers: plan.headers,
        body: plan.body,
        upstreamApi: wireApiOf(upstream.provider, 'chat'),
        clientApi,
        conversion: plan.conversion,
        stripUsageChunk: false,
        redactor: new SecretRedactor(key),
      },
    };
  }

  // Without its own key a target may reuse the app's credentials only at the same origin: the
  // app meant them (and its cookies, organization, project) for the host it addressed, not for
  // any host of the same provider type.
  const sameOrigin = originOf(upstream.baseURL) === originOf(requested.baseURL);
  if (key === undefined && !sameOrigin) return { ok: false, reason: 'no_credentials' };
  const headers = forwardableHeaders(
    client.headers,
    key === undefined ? 'nothing' : sameOrigin ? 'credentials' : 'identity',
  );
  if (key !== undefined) setCredential(headers, upstream, key);
  if (upstream.provider === 'anthropic' && headers['anthropic-version'] === undefined) {
    headers['anthropic-version'] = upstream.apiVersion ?? '2023-06-01';
  }
  // Azure takes the model from the deployment path; other providers read the body.
  const body =
    model === undefined || upstream.provider === 'azure-openai'
      ? client.body
      : client.bodyWithModel(model);
  return {
    ok: true,
    exchange: sameApi(input, {
      model,
      headers,
      body,
      path: targetPath(client.path, upstream, model),
      redactor: key === undefined ? undefined : new SecretRedactor(key),
    }),
  };
}

/** A target that speaks the app's API: bytes pass through; OpenAI streams get usage asked for. */
function sameApi(
  input: ExchangeInput,
  parts: {
    readonly model: string | undefined;
    readonly headers: Record<string, string | string[]>;
    readonly body: Buffer | null;
    readonly path: string;
    readonly redactor: SecretRedactor | undefined;
  },
): Exchange {
  const { client, upstream } = input;
  // An OpenAI chat stream reports usage only when asked: the sidecar asks on the app's behalf
  // (for cost accounting) and drops the extra chunk again.
  const usage =
    client.api === 'openai-chat' && client.endpoint === 'chat'
      ? client.withStreamUsage(parts.body)
      : { body: parts.body, added: false };
  return {
    upstream,
    model: parts.model,
    isFallback: input.target !== undefined,
    stream: client.stream,
    method: client.method,
    path: parts.path,
    headers: parts.headers,
    body: usage.body,
    upstreamApi: wireApiOf(upstream.provider, client.endpoint),
    clientApi: client.api,
    conversion: undefined,
    stripUsageChunk: usage.added,
    redactor: parts.redactor,
  };
}

/**
 * Copies the app's headers minus hop-by-hop ones (and those named in Connection), and minus its
 * credentials (the policy's key replaces them) or all of its identity (another origin).
 */
export function forwardableHeaders(
  headers: IncomingHttpHeaders,
  withheld: Withheld,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = headers.connection;
  const named =
    typeof connection === 'string' ? connection.toLowerCase().split(/\s*,\s*/) : undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name)) continue;
    if (withheld === 'credentials' && CREDENTIAL_HEADERS.has(name)) continue;
    if (withheld === 'identity' && (IDENTITY_HEADERS.has(name) || IDENTITY_NAME.test(name)))
      continue;
    if (named?.includes(name) === true) continue;
    out[name] = value;
  }
  // Streams are read event by event and some answers converted: ask for plain bytes (an
  // upstream that compresses anyway is decoded, see exchange/content-decoding.ts).
  out['accept-encoding'] = 'identity';
  return out;
}

/** Model to ask a fallback target for, or undefined when its modelMap has no match. */
export function mapModel(
  target: CompiledTarget,
  requested: string | undefined,
): string | undefined {
  if (target.model !== null) return target.model;
  if (target.modelMap !== null) {
    return (
      (requested === undefined ? undefined : target.modelMap[requested]) ?? target.modelMap['*']
    );
  }
  return requested;
}

function setCredential(
  headers: Record<string, string | string[]>,
  upstream: CompiledUpstream,
  key: string,
): void {
  switch (upstream.provider) {
    case 'anthropic':
      headers['x-api-key'] = key;
      return;
    case 'azure-openai':
      headers['api-key'] = key;
      return;
    case 'openai':
    case 'openai-compatible':
      headers.authorization = `Bearer ${key}`;
      return;
  }
}

/**
 * Path on a fallback target. OpenAI-style paths (`/v1/chat/completions`) and Azure deployment
 * paths (`/openai/deployments/{model}/chat/completions?api-version=`) are converted both ways.
 */
function targetPath(
  clientPath: string,
  upstream: CompiledUpstream,
  model: string | undefined,
): string {
  const queryAt = clientPath.indexOf('?');
  const pathOnly = queryAt === -1 ? clientPath : clientPath.slice(0, queryAt);
  const deployment = azureDeploymentOf(pathOnly);
  // The operation part, e.g. "chat/completions" or "embeddings".
  const operation =
    deployment !== undefined
      ? pathOnly.slice(`/openai/deployments/${encodeURIComponent(deployment)}/`.length)
      : pathOnly.replace(/^\/v1\//, '');
  if (upstream.provider === 'azure-openai') {
    const name = encodeURIComponent(model ?? deployment ?? '');
    const version = encodeURIComponent(upstream.apiVersion ?? '2024-10-21');
    return joinPath(
      upstream.baseURL,
      `/openai/deployments/${name}/${operation}?api-version=${version}`,
    );
  }
  if (deployment !== undefined) return joinPath(upstream.baseURL, `/v1/${operation}`);
  return joinPath(upstream.baseURL, clientPath);
}
