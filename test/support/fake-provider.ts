// A scripted AI provider on a real loopback socket: answers OpenAI chat completions and
// embeddings, Azure OpenAI deployment URLs, and Anthropic messages (streaming and not) with
// realistic payload shapes, and fails on command (status codes, Retry-After, resets, hangs,
// slow or cut streams, error events inside a 200 stream). Used by integration tests, the demo
// and the benchmarks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeApi = 'openai' | 'anthropic';

export type Behavior =
  | { readonly type: 'ok'; readonly text?: string; readonly delayMs?: number }
  | {
      readonly type: 'status';
      readonly status: number;
      readonly body?: unknown;
      readonly headers?: Record<string, string>;
      /** Answer after this long (a slow failure). */
      readonly delayMs?: number;
    }
  /** Destroys the connection before any response byte. */
  | { readonly type: 'reset' }
  /** Accepts the request and never answers. */
  | { readonly type: 'hang' }
  /** A 200 stream whose first event is an error, before any content. */
  | { readonly type: 'stream-error-first' }
  /** A 200 stream that sends `afterChunks` content chunks and then dies (socket destroyed). */
  | { readonly type: 'stream-cut'; readonly afterChunks: number }
  /** A streamed answer with a pause between chunks. */
  | { readonly type: 'stream-slow'; readonly chunkDelayMs: number; readonly chunks?: number }
  /**
   * Exactly these bytes: a status, headers and body chunks written with `delayMs` between them,
   * then the response ends, hangs (never ends) or the connection is reset. For stream grammar
   * and framing tests (CRLF, `data:` without a space, terminators inside content, ...).
   */
  | {
      readonly type: 'raw';
      readonly status?: number;
      readonly headers?: Record<string, string>;
      readonly chunks: readonly (string | Buffer)[];
      readonly delayMs?: number;
      readonly then?: 'end' | 'hang' | 'reset';
    }
  /** The model calls a tool (streamed or not, as the request asks). */
  | { readonly type: 'tool'; readonly name: string; readonly input: Record<string, unknown> };

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly json: unknown;
}

export interface FakeProvider {
  readonly api: FakeApi;
  /** Origin, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Behaviour for every request once the queue is empty. */
  setDefault(behavior: Behavior): void;
  /** One-shot behaviours used in order before the default. */
  queue(...behaviors: Behavior[]): void;
  /** Requests whose response has not finished (hung or streaming). */
  readonly open: number;
  close(): Promise<void>;
}

export interface FakeProviderOptions {
  readonly api: FakeApi;
  /** Words in a default answer; streams send one chunk per word. */
  readonly words?: number;
  /** Skip recording requests (benchmarks). */
  readonly record?: boolean;
  /** Address to listen on (default 127.0.0.1; the e2e suite uses its cluster bridge's). */
  readonly host?: string;
  /**
   * Models the provider answers under another name, as Anthropic answers a request for
   * `claude-haiku-4-5` with `"model": "claude-haiku-4-5-20251001"`.
   */
  readonly modelAliases?: Readonly<Record<string, string>>;
}

export async function startFakeProvider(options: FakeProviderOptions): Promise<FakeProvider> {
  const { api } = options;
  const words = options.words ?? 5;
  const record = options.record ?? true;
  const requests: RecordedRequest[] = [];
  const queued: Behavior[] = [];
  let fallback: Behavior = { type: 'ok' };
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  let open = 0;
  let counter = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body === '' ? undefined : JSON.parse(body);
      } catch {
        json = undefined;
      }
      if (record) {
        requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body,
          json,
        });
      }
      const behavior = queued.shift() ?? fallback;
      open++;
      res.on('close', () => {
        open--;
        hung.delete(res);
      });
      counter++;
      respond(req, res, behavior, json, counter);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    behavior: Behavior,
    json: unknown,
    n: number,
  ): void {
    const request = (json ?? {}) as { model?: string; stream?: boolean };
    const requested = request.model ?? (api === 'openai' ? 'gpt-4o-mini' : 'claude-sonnet-4-6');
    const model = options.modelAliases?.[requested] ?? requested;
    const path = req.url ?? '';
    switch (behavior.type) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        hung.add(res);
        return;
      case 'raw': {
        res.writeHead(behavior.status ?? 200, behavior.headers ?? sseHeaders);
        const chunks = [...behavior.chunks];
        const next = () => {
          if (res.destroyed) return;
          const chunk = chunks.shift();
          if (chunk !== undefined) {
            res.write(chunk, () => {
              if ((behavior.delayMs ?? 0) > 0) setTimeout(next, behavior.delayMs);
              else next();
            });
            return;
          }
          if (behavior.then === 'hang') hung.add(res);
          else if (behavior.then === 'reset') req.socket.destroy();
          else res.end();
        };
        next();
        return;
      }
      case 'status': {
        const body = behavior.body ?? errorBody(api, behavior.status);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(behavior.status, {
            'content-type': 'application/json',
            ...behavior.headers,
          });
          res.end(typeof body === 'string' ? body : JSON.stringify(body));
        };
        if (behavior.delayMs === undefined) send();
        else setTimeout(send, behavior.delayMs);
        return;
      }
      case 'stream-error-first': {
        res.writeHead(200, sseHeaders);
        res.end(
          api === 'openai'
            ? `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } })}\n\n`
            : `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
        );
        return;
      }
      case 'tool': {
        const isStream = request.stream === true;
        if (!isStream) {
          sendJson(
            res,
            api === 'openai'
              ? openaiToolCompletion(model, behavior, n)
              : anthropicToolMessage(model, behavior, n),
          );
          return;
        }
        res.writeHead(200, sseHeaders);
        const events =
          api === 'openai'
            ? openaiToolStream(model, behavior, n)
            : anthropicToolStream(model, behavior, n);
        writeEvents(res, req.socket, events, 0, undefined, api);
        return;
      }
      case 'stream-cut':
      case 'stream-slow':
      case 'ok': {
        const text =
          behavior.type === 'ok' && behavior.text !== undefined
            ? behavior.text
            : answer(behavior.type === 'stream-slow' ? (behavior.chunks ?? words) : words);
        const delayMs =
          behavior.type === 'ok'
            ? (behavior.delayMs ?? 0)
            : behavior.type === 'stream-slow'
              ? behavior.chunkDelayMs
              : 0;
        const cutAfter = behavior.type === 'stream-cut' ? behavior.afterChunks : undefined;
        if (path.includes('/embeddings')) {
          sendJson(res, embedding(model));
          return;
        }
        if (api === 'openai' && path.includes('/responses')) {
          if (request.stream !== true) {
            sendJson(res, responsesObject(model, text, n, 'completed'));
            return;
          }
          res.writeHead(200, sseHeaders);
          writeEvents(res, req.socket, responsesStream(model, text, n), delayMs, cutAfter, api);
          return;
        }
        const isStream =
          request.stream === true || cutAfter !== undefined || behavior.type === 'stream-slow';
        if (!isStream) {
          const send = () => {
            sendJson(
              res,
              api === 'openai'
                ? openaiCompletion(model, text, n)
                : anthropicMessage(model, text, n),
            );
          };
          if (delayMs > 0) setTimeout(send, delayMs);
          else send();
          return;
        }
        const events =
          api === 'openai'
            ? openaiStream(model, text, n, wantsUsage(json))
            : anthropicStream(model, text, n);
        res.writeHead(200, sseHeaders);
        writeEvents(res, req.socket, events, delayMs, cutAfter, api);
        return;
      }
    }
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen({ port: 0, host, backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;

  return {
    api,
    url: `http://${host}:${port}`,
    requests,
    setDefault(behavior) {
      fallback = behavior;
    },
    queue(...behaviors) {
      queued.push(...behaviors);
    },
    get open() {
      return open;
    },
    async close() {
      for (const res of hung) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function writeEvents(
  res: ServerResponse,
  socket: Socket,
  events: string[],
  delayMs: number,
  cutAfterContent: number | undefined,
  api: FakeApi,
): void {
  let i = 0;
  let content = 0;
  // Resolves once the last chunk was handed to the kernel, so a cut happens after the bytes left.
  let flushed: Promise<void> = Promise.resolve();
  const isContent = (e: string) =>
    api === 'openai'
      ? e.includes('"delta":{"content"') || e.includes('response.output_text.delta')
      : e.includes('content_block_delta');
  const step = () => {
    if (res.destroyed) return;
    while (i < events.length) {
      const event = events[i++] ?? '';
      if (cutAfterContent !== undefined && isContent(event) && content >= cutAfterContent) {
        // Die the way a crashed upstream does: no terminator, connection reset.
        void flushed.then(() => socket.destroy());
        return;
      }
      if (isContent(event)) content++;
      flushed = new Promise((resolve) =>
        res.write(event, () => {
          resolve();
        }),
      );
      if (delayMs > 0 && isContent(event)) {
        setTimeout(step, delayMs);
        return;
      }
    }
    res.end();
  };
  step();
}

function answer(words: number): string {
  const vocabulary = [
    'The',
    'circuit',
    'is',
    'closed',
    'and',
    'the',
    'answer',
    'arrives',
    'on',
    'time',
  ];
  return Array.from({ length: words }, (_, i) => vocabulary[i % vocabulary.length]).join(' ');
}

function tokensOf(text: string): string[] {
  return text.split(/(?<= )/);
}

export function errorBody(api: FakeApi, status: number): unknown {
  if (api === 'anthropic') {
    const type =
      status === 529
        ? 'overloaded_error'
        : status === 429
          ? 'rate_limit_error'
          : status >= 500
            ? 'api_error'
            : 'invalid_request_error';
    return { type: 'error', error: { type, message: `fake anthropic error ${status}` } };
  }
  const type =
    status === 429
      ? 'rate_limit_exceeded'
      : status >= 500
        ? 'server_error'
        : 'invalid_request_error';
  return { error: { message: `fake openai error ${status}`, type, param: null, code: null } };
}

function openaiCompletion(model: string, text: string, n: number): unknown {
  return {
    id: `chatcmpl-fake${n}`,
    object: 'chat.completion',
    created: 1_764_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 12,
      completion_tokens: tokensOf(text).length,
      total_tokens: 12 + tokensOf(text).length,
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

function wantsUsage(json: unknown): boolean {
  const options = (json as { stream_options?: { include_usage?: unknown } } | undefined)
    ?.stream_options;
  return options?.include_usage === true;
}

function openaiStream(model: string, text: string, n: number, includeUsage = false): string[] {
  const base = {
    id: `chatcmpl-fake${n}`,
    object: 'chat.completion.chunk',
    created: 1_764_000_000,
    model,
    system_fingerprint: 'fp_fake',
  };
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  return [
    data({
      ...base,
      choices: [
        {
          index: 0,
          delta: { role: 'assistant', content: '', refusal: null },
          logprobs: null,
          finish_reason: null,
        },
      ],
    }),
    ...tokensOf(text).map((t) =>
      data({
        ...base,
        choices: [{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }],
      }),
    ),
    data({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }),
    ...(includeUsage
      ? [
          data({
            ...base,
            choices: [],
            usage: {
              prompt_tokens: 12,
              completion_tokens: tokensOf(text).length,
              total_tokens: 12 + tokensOf(text).length,
            },
          }),
        ]
      : []),
    'data: [DONE]\n\n',
  ];
}

function anthropicMessage(model: string, text: string, n: number): unknown {
  return {
    id: `msg_fake${n}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: tokensOf(text).length },
  };
}

/** One server-sent event in Anthropic's framing (named event, JSON data). */
const ev = (type: string, o: unknown) => `event: ${type}\ndata: ${JSON.stringify(o)}\n\n`;

/** The `message_start` event every Anthropic stream opens with. */
function anthropicMessageStart(model: string, n: number, inputTokens: number): string {
  return ev('message_start', {
    type: 'message_start',
    message: {
      id: `msg_fake${n}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1 },
    },
  });
}

function anthropicStream(model: string, text: string, n: number): string[] {
  return [
    anthropicMessageStart(model, n, 12),
    ev('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    ev('ping', { type: 'ping' }),
    ...tokensOf(text).map((t) =>
      ev('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: t },
      }),
    ),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: tokensOf(text).length },
    }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

function embedding(model: string): unknown {
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.0023, -0.0093, 0.0158, 0.0071] }],
    model,
    usage: { prompt_tokens: 4, total_tokens: 4 },
  };
}

interface ToolCall {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

function openaiToolCompletion(model: string, call: ToolCall, n: number): unknown {
  return {
    id: `chatcmpl-fake${n}`,
    object: 'chat.completion',
    created: 1_764_000_000,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: [
            {
              id: `call_fake${n}`,
              type: 'function',
              function: { name: call.name, arguments: JSON.stringify(call.input) },
            },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
  };
}

function openaiToolStream(model: string, call: ToolCall, n: number): string[] {
  const base = {
    id: `chatcmpl-fake${n}`,
    object: 'chat.completion.chunk',
    created: 1_764_000_000,
    model,
  };
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const args = JSON.stringify(call.input);
  const half = Math.floor(args.length / 2);
  return [
    data({
      ...base,
      choices: [
        {
          index: 0,
          delta: { role: 'assistant', content: null },
          logprobs: null,
          finish_reason: null,
        },
      ],
    }),
    data({
      ...base,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              {
                index: 0,
                id: `call_fake${n}`,
                type: 'function',
                function: { name: call.name, arguments: '' },
              },
            ],
          },
          logprobs: null,
          finish_reason: null,
        },
      ],
    }),
    data({
      ...base,
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] },
          logprobs: null,
          finish_reason: null,
        },
      ],
    }),
    data({
      ...base,
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] },
          logprobs: null,
          finish_reason: null,
        },
      ],
    }),
    data({
      ...base,
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }],
    }),
    data({
      ...base,
      choices: [],
      usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
    }),
    'data: [DONE]\n\n',
  ];
}

function anthropicToolMessage(model: string, call: ToolCall, n: number): unknown {
  return {
    id: `msg_fake${n}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'tool_use', id: `toolu_fake${n}`, name: call.name, input: call.input }],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 20, output_tokens: 9 },
  };
}

function anthropicToolStream(model: string, call: ToolCall, n: number): string[] {
  const args = JSON.stringify(call.input);
  const half = Math.floor(args.length / 2);
  return [
    anthropicMessageStart(model, n, 20),
    ev('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: `toolu_fake${n}`, name: call.name, input: {} },
    }),
    ev('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'input_json_delta', partial_json: args.slice(0, half) },
    }),
    ev('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'input_json_delta', partial_json: args.slice(half) },
    }),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 9 },
    }),
    ev('message_stop', { type: 'message_stop' }),
  ];
}

/** An OpenAI Responses API response object (the `response` of its stream events too). */
function responsesObject(
  model: string,
  text: string,
  n: number,
  status: 'in_progress' | 'completed',
): Record<string, unknown> {
  const done = status === 'completed';
  return {
    id: `resp_fake${n}`,
    object: 'response',
    created_at: 1_764_000_000,
    status,
    error: null,
    incomplete_details: null,
    model,
    output: done
      ? [
          {
            id: `msg_fake${n}`,
            type: 'message',
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text, annotations: [] }],
          },
        ]
      : [],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: done
      ? {
          input_tokens: 12,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: tokensOf(text).length,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 12 + tokensOf(text).length,
        }
      : null,
  };
}

/** The Responses API event stream of a text answer, named events with a `type` and sequence. */
function responsesStream(model: string, text: string, n: number): string[] {
  let sequence = 0;
  const event = (type: string, body: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...body })}\n\n`;
  const item = `msg_fake${n}`;
  return [
    event('response.created', { response: responsesObject(model, '', n, 'in_progress') }),
    event('response.in_progress', { response: responsesObject(model, '', n, 'in_progress') }),
    event('response.output_item.added', {
      output_index: 0,
      item: { id: item, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    }),
    event('response.content_part.added', {
      item_id: item,
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    }),
    ...tokensOf(text).map((delta) =>
      event('response.output_text.delta', {
        item_id: item,
        output_index: 0,
        content_index: 0,
        delta,
        logprobs: [],
      }),
    ),
    event('response.output_text.done', {
      item_id: item,
      output_index: 0,
      content_index: 0,
      text,
      logprobs: [],
    }),
    event('response.content_part.done', {
      item_id: item,
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text, annotations: [] },
    }),
    event('response.output_item.done', {
      output_index: 0,
      item: {
        id: item,
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text, annotations: [] }],
      },
    }),
    event('response.completed', { response: responsesObject(model, text, n, 'completed') }),
  ];
}
