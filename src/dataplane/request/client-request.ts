/**
 * The app's request as the sidecar reads it, once: the route, the headers, the body bytes, and
 * from a JSON body only the top-level `model`, `stream` and `stream_options` (by byte spans,
 * see json/json-object-scan.ts). The whole body is parsed only when a chain reaches a target that
 * needs it (a translated fallback, the last-resort cache), and at most once.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { EndpointClass } from '../../policy/policy-schema.ts';
import { scanJsonObject, spanValue, type JsonSpan } from '../json/json-object-scan.ts';
import { isJsonObject, type JsonObject } from '../../shared/json-object.ts';

import type { WireApi } from '../providers/wire-api.ts';
import { azureDeploymentOf } from './route.ts';

const WANTED = new Set(['model', 'stream', 'stream_options']);

/** Endpoints whose bodies are JSON whatever the content type says. */
const JSON_ENDPOINTS: ReadonlySet<EndpointClass> = new Set(['chat', 'embeddings', 'responses']);

export type ReadResult =
  | { readonly ok: true; readonly request: ClientRequest }
  | { readonly ok: false; readonly reason: string };

export class ClientRequest {
  readonly method: string;
  /** Path after the `/{upstream}` prefix, query included. */
  readonly path: string;
  readonly endpoint: EndpointClass;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer | null;
  /** The API the app speaks on this route. */
  readonly api: WireApi;
  /** Requested model (body `model`, or the Azure deployment in the path). */
  readonly model: string | undefined;
  readonly stream: boolean;
  /** Spans of the top-level values read; undefined for a body that is not JSON. */
  readonly #values: ReadonlyMap<string, JsonSpan> | undefined;
  readonly #bodyStart: number;
  readonly #empty: boolean;
  #parsed: JsonObject | undefined | null = null;

  private constructor(
    fields: {
      method: string;
      path: string;
      endpoint: EndpointClass;
      headers: IncomingHttpHeaders;
      body: Buffer | null;
      api: WireApi;
      model: string | undefined;
      stream: boolean;
    },
    values: ReadonlyMap<string, JsonSpan> | undefined,
    bodyStart: number,
    empty = true,
  ) {
    this.method = fields.method;
    this.path = fields.path;
    this.endpoint = fields.endpoint;
    this.headers = fields.headers;
    this.body = fields.body;
    this.api = fields.api;
    this.model = fields.model;
    this.stream = fields.stream;
    this.#values = values;
    this.#bodyStart = bodyStart;
    this.#empty = empty;
  }

  /** Reads a request whose body has been received; refuses a JSON body that is not valid. */
  static read(input: {
    readonly method: string;
    readonly path: string;
    readonly endpoint: EndpointClass;
    readonly headers: IncomingHttpHeaders;
    readonly body: Buffer | null;
    readonly api: WireApi;
  }): ReadResult {
    const { body } = input;
    const pathModel = azureDeploymentOf(input.path);
    const contentType = input.headers['content-type'] ?? '';
    const isJson =
      body !== null &&
      body.length > 0 &&
      (JSON_ENDPOINTS.has(input.endpoint) || contentType.includes('json'));
    if (!isJson) {
      return {
        ok: true,
        request: new ClientRequest({ ...input, model: pathModel, stream: false }, undefined, 0),
      };
    }
    const scan = scanJsonObject(body, WANTED);
    if (!scan.ok) return { ok: false, reason: scan.reason };
    const modelSpan = scan.values.get('model');
    const model = modelSpan === undefined ? undefined : spanValue(body, modelSpan);
    const streamSpan = scan.values.get('stream');
    const stream = streamSpan !== undefined && spanValue(body, streamSpan) === true;
    return {
      ok: true,
      request: new ClientRequest(
        { ...input, model: typeof model === 'string' ? model : pathModel, stream },
        scan.values,
        scan.bodyStart,
        scan.empty,
      ),
    };
  }

  /** Whether the body is a JSON object. */
  get isJson(): boolean {
    return this.#values !== undefined;
  }

  /** The whole body as an object (parsed on first use, for translation and the cache key). */
  parsed(): JsonObject | undefined {
    if (this.#parsed !== null) return this.#parsed;
    let value: unknown;
    if (this.#values !== undefined && this.body !== null) {
      // Validated and depth-bounded by the scan: JSON.parse cannot fail or exhaust the stack.
      value = JSON.parse(this.body.toString('utf8')) as unknown;
    }
    this.#parsed = isJsonObject(value) ? value : undefined;
    return this.#parsed;
  }

  /** The body with `model` set to `model`: the original bytes with one value replaced. */
  bodyWithModel(model: string): Buffer | null {
    const body = this.body;
    if (body === null || this.#values === undefined || this.model === model) return body;
    return this.#spliceIn(body, 'model', JSON.stringify(model));
  }

  /**
   * An OpenAI streaming body that asks for the final usage chunk (for cost accounting), and
   * whether the sidecar added the ask (then the usage chunk is not the app's to see).
   */
  withStreamUsage(body: Buffer | null): { readonly body: Buffer | null; readonly added: boolean } {
    if (!this.stream || body === null || this.#values === undefined) return { body, added: false };
    const span = this.#values.get('stream_options');
    const options = span === undefined ? undefined : spanValue(this.body ?? body, span);
    if (isJsonObject(options) && options.include_usage === true) return { body, added: false };
    const asked = JSON.stringify({
      ...(isJsonObject(options) ? options : {}),
      include_usage: true,
    });
    return {
      body:
        span === undefined
          ? this.#insert(body, 'stream_options', asked)
          : this.#spliceIn(body, 'stream_options', asked),
      added: true,
    };
  }

  /**
   * Replaces the top-level `key` value in `body` (the app's body, or one already spliced after
   * this key's span, where the span still holds), or inserts the key when absent.
   */
  #spliceIn(body: Buffer, key: string, json: string): Buffer {
    const span = this.#values?.get(key);
    if (span === undefined) return this.#insert(body, key, json);
    // A body spliced earlier changed only bytes after its own span; `model` comes before
    // `stream_options` splices only when it is earlier in the body, so re-find when unsure.
    if (body !== this.body) {
      const rescan = scanJsonObject(body, new Set([key]));
      const moved = rescan.ok ? rescan.values.get(key) : undefined;
      if (moved === undefined) return body;
      return Buffer.concat([
        body.subarray(0, moved.start),
        Buffer.from(json),
        body.subarray(moved.end),
      ]);
    }
    return Buffer.concat([
      body.subarray(0, span.start),
      Buffer.from(json),
      body.subarray(span.end),
    ]);
  }

  #insert(body: Buffer, key: string, json: string): Buffer {
    const at = this.#bodyStart;
    return Buffer.concat([
      body.subarray(0, at),
      Buffer.from(`${JSON.stringify(key)}:${json}${this.#empty ? '' : ','}`),
      body.subarray(at),
    ]);
  }
}
