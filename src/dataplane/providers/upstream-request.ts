/**
 * Builds the request one target of the chain receives: URL shape, credentials and model for
 * its provider. The requested upstream gets the app's request as is (its own credentials pass
 * through); a fallback target gets the policy's credentials for that target and the mapped
 * model. Targets that cannot serve the request faithfully are skipped with a reason.
 */
import type { CompiledTarget, CompiledUpstream } from '../../policy/snapshot.ts';
import { azureDeploymentOf } from '../request-route.ts';
import { joinPath } from './base-url.ts';
import { planCrossFormat } from './cross-format.ts';
import type { ClientFormat } from '../client-errors.ts';
import type { ResponseAdapter } from '../forward/response-adapter.ts';
import type { SkipReason } from '../skip-reasons.ts';

/** The API format a provider speaks (Azure OpenAI differs from OpenAI in URL and auth only). */
export function formatOf(provider: CompiledUpstream['provider']): ClientFormat {
  return provider === 'anthropic' ? 'anthropic' : 'openai';
}

/** What the sidecar knows about the app's request after reading it. */
export interface ClientRequest {
  readonly method: string;
  /** Path after the `/{upstream}` prefix, query included. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer | null;
  /** The parsed JSON body when it is a JSON object. */
  readonly json: Record<string, unknown> | undefined;
  /** Requested model (body `model`, or the Azure deployment in the path). */
  readonly model: string | undefined;
  readonly stream: boolean;
  readonly format: ClientFormat;
}

/** A request ready to dispatch to one upstream. */
export interface UpstreamRequest {
  readonly upstream: CompiledUpstream;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | null;
  /** Model the target is asked for (reported in x-aicb-model). */
  readonly model: string | undefined;
  /** Converts the answer into the app's format when the target speaks another API. */
  readonly adapter: ResponseAdapter | undefined;
}

export type { SkipReason };

export type TargetPlan =
  | { readonly ok: true; readonly request: UpstreamRequest }
  | { readonly ok: false; readonly reason: SkipReason; readonly detail?: string };

/** Resolves a credential reference to its value (env, file or delivered value), or undefined. */
export type CredentialResolver = (upstream: CompiledUpstream) => string | undefined;

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

/** Credential headers of every provider; stripped before a fallback adds its own. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'api-key', 'x-api-key']);

/** Copies the app's headers minus hop-by-hop ones (and those named in Connection). */
export function forwardableHeaders(
  headers: ClientRequest['headers'],
  dropCredentials: boolean,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = headers.connection;
  const named =
    typeof connection === 'string' ? connection.toLowerCase().split(/\s*,\s*/) : undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name)) continue;
    if (dropCredentials && CREDENTIAL_HEADERS.has(name)) continue;
    if (named?.includes(name) === true) continue;
    out[name] = value;
  }
  // Bodies are inspected (stream errors, usage) and sometimes translated: ask for plain bytes.
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

/** The request for the upstream the app addressed: its own bytes and credentials. */
export function planPrimary(client: ClientRequest, upstream: CompiledUpstream): UpstreamRequest {
  return {
    upstream,
    path: joinPath(upstream.baseURL, client.path),
    method: client.method,
    headers: forwardableHeaders(client.headers, false),
    body: client.body,
    model: client.model,
    adapter: undefined,
  };
}

/** The request for a fallback target, or why it cannot serve this request. */
export function planFallback(
  client: ClientRequest,
  requested: CompiledUpstream,
  target: CompiledTarget,
  upstream: CompiledUpstream,
  credential: CredentialResolver,
  nowWallMs: number,
): TargetPlan {
  const model = mapModel(target, client.model);
  if (model === undefined && target.modelMap !== null)
    return { ok: false, reason: 'no_model_mapping' };
  const key = credential(upstream);

  if (formatOf(upstream.provider) !== client.format) {
    // Another API: the request is translated, the answer converted back. The target needs its
    // own key and an explicit model (the app's model name means nothing to another provider).
    if (key === undefined) return { ok: false, reason: 'no_credentials' };
    if (target.model === null && target.modelMap === null)
      return { ok: false, reason: 'no_model_mapping' };
    if (model === undefined) return { ok: false, reason: 'no_model_mapping' };
    const userAgent = client.headers['user-agent'];
    const plan = planCrossFormat({
      json: client.json,
      clientPath: client.path,
      clientFormat: client.format,
      target: upstream,
      model,
      key,
      userAgent: typeof userAgent === 'string' ? userAgent : undefined,
      nowSeconds: Math.floor(nowWallMs / 1000),
    });
    if (!plan.ok) return { ok: false, reason: 'untranslatable', detail: plan.reason };
    return {
      ok: true,
      request: {
        upstream,
        path: plan.path,
        method: 'POST',
        headers: plan.headers,
        body: plan.body,
        model,
        adapter: plan.adapter,
      },
    };
  }

  // Without its own key a target may reuse the app's credentials only for the same provider.
  if (key === undefined && upstream.provider !== requested.provider) {
    return { ok: false, reason: 'no_credentials' };
  }
  const headers = forwardableHeaders(client.headers, key !== undefined);
  if (key !== undefined) setCredential(headers, upstream, key);
  if (upstream.provider === 'anthropic' && headers['anthropic-version'] === undefined) {
    headers['anthropic-version'] = upstream.apiVersion ?? '2023-06-01';
  }

  const path = targetPath(client.path, upstream, model);
  const body = withModel(client, upstream, model);
  return {
    ok: true,
    request: { upstream, path, method: client.method, headers, body, model, adapter: undefined },
  };
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

/** The body with `model` replaced when the target needs another one; the original otherwise. */
function withModel(
  client: ClientRequest,
  upstream: CompiledUpstream,
  model: string | undefined,
): Buffer | null {
  if (client.json === undefined || model === undefined) return client.body;
  // Azure takes the model from the deployment path; other providers read the body.
  if (upstream.provider === 'azure-openai' || client.json.model === model) return client.body;
  return Buffer.from(JSON.stringify({ ...client.json, model }));
}
