// The providers of `npm run bench:table`, in a process of their own so their CPU is not the
// proxies'. Leaner than test/support/fake-provider.ts on purpose: they never parse the request
// body (a 1 MB prompt would make the provider the bottleneck and squeeze every ratio towards 1)
// and answer from prebuilt bytes, in each API's real wire format.
//
//   openai     JSON chat completion (about 0.9 KB)
//   stream     OpenAI SSE: role chunk, STREAM_CHUNKS deltas, usage chunk, [DONE], no delay
//   anthropic  Anthropic SSE (message_start … message_stop), the same text, no delay, when the
//              request asked for a stream; else an Anthropic message (JSON)
//   slow       OpenAI SSE whose first chunk is sent at once, then one chunk every
//              --slow-chunk-ms for --slow-chunks chunks (long agent streams)
//
// Each server counts the responses open at once and the most ever open; GET /__stats on the
// control origin returns them and POST /__reset zeroes the maxima. Prints one JSON line with the
// origins once listening; SIGTERM / SIGINT close everything.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface LeanOrigins {
  readonly openai: string;
  readonly stream: string;
  readonly anthropic: string;
  readonly slow: string;
  readonly control: string;
}

export type LeanStats = Record<
  'openai' | 'stream' | 'anthropic' | 'slow',
  { open: number; maxOpen: number }
>;

const { values } = parseArgs({
  options: {
    'stream-chunks': { type: 'string', default: '64' },
    'slow-chunks': { type: 'string', default: '10' },
    'slow-chunk-ms': { type: 'string', default: '500' },
  },
});
const STREAM_CHUNKS = Number(values['stream-chunks']);
const SLOW_CHUNKS = Number(values['slow-chunks']);
const SLOW_CHUNK_MS = Number(values['slow-chunk-ms']);

const WORDS = Array.from({ length: 100 }, (_, i) => `word${i % 10}`);
const CREATED = 1_760_000_000;

const completion = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: 'gpt-4o-mini',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: WORDS.join(' ') },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 250, completion_tokens: 100, total_tokens: 350 },
  }),
);

const openaiChunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;

function openaiEvents(chunks: number): string[] {
  return [
    openaiChunk({ role: 'assistant', content: '' }),
    ...Array.from({ length: chunks }, (_, i) => openaiChunk({ content: `${WORDS[i % 100]} ` })),
    openaiChunk({}, 'stop'),
    `data: ${JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: 'gpt-4o-mini',
      choices: [],
      usage: { prompt_tokens: 250, completion_tokens: chunks, total_tokens: 250 + chunks },
    })}\n\n`,
    'data: [DONE]\n\n',
  ];
}

const ev = (type: string, o: object) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
const anthropicStream = Buffer.from(
  [
    ev('message_start', {
      message: {
        id: 'msg_bench',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-6',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 250, output_tokens: 1 },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ...Array.from({ length: STREAM_CHUNKS }, (_, i) =>
      ev('content_block_delta', {
        index: 0,
        delta: { type: 'text_delta', text: `${WORDS[i % 100]} ` },
      }),
    ),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: STREAM_CHUNKS },
    }),
    ev('message_stop', {}),
  ].join(''),
);
const anthropicMessage = Buffer.from(
  JSON.stringify({
    id: 'msg_bench',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-6',
    content: [{ type: 'text', text: WORDS.join(' ') }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 250, output_tokens: 100 },
  }),
);
const openaiStream = Buffer.from(openaiEvents(STREAM_CHUNKS).join(''));
const slowEvents = openaiEvents(SLOW_CHUNKS).map((e) => Buffer.from(e));

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/** `streamed`: the body asked for a stream (a byte search, so a 32 MB body costs little). */
type Handler = (req: IncomingMessage, res: ServerResponse, streamed: boolean) => void;

const STREAM_TRUE = Buffer.from('"stream":true');

function counted(handler: Handler): { server: Server; stats: { open: number; maxOpen: number } } {
  const stats = { open: 0, maxOpen: 0 };
  const server = createServer((req, res) => {
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    res.on('close', () => {
      stats.open--;
    });
    // The body is not parsed; only a `"stream":true` is looked for (the sidecar writes JSON
    // without spaces). The answer goes once the body is all in, as a provider does.
    let streamed = false;
    let tail: Buffer = Buffer.alloc(0);
    req.on('data', (chunk: Buffer) => {
      if (streamed) return;
      const window = Buffer.concat([tail, chunk.subarray(0, STREAM_TRUE.length * 2)]);
      streamed = window.includes(STREAM_TRUE) || chunk.includes(STREAM_TRUE);
      tail = chunk.subarray(Math.max(0, chunk.length - STREAM_TRUE.length));
    });
    req.on('end', () => {
      handler(req, res, streamed);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  return { server, stats };
}

const openai = counted((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': completion.length });
  res.end(completion);
});
const stream = counted((_req, res) => {
  res.writeHead(200, SSE_HEADERS);
  res.end(openaiStream);
});
const anthropic = counted((_req, res, streamed) => {
  if (streamed) {
    res.writeHead(200, SSE_HEADERS);
    res.end(anthropicStream);
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': anthropicMessage.length,
  });
  res.end(anthropicMessage);
});
const slow = counted((_req, res) => {
  res.writeHead(200, SSE_HEADERS);
  let i = 0;
  const next = () => {
    const event = slowEvents[i++];
    if (event === undefined || res.destroyed) {
      res.end();
      return;
    }
    res.write(event);
    // Role chunk and first delta at once (the first token), then the pacing.
    setTimeout(next, i < 2 ? 0 : SLOW_CHUNK_MS);
  };
  next();
});

const servers = { openai, stream, anthropic, slow };
const control = createServer((req, res) => {
  if (req.url === '/__stats') {
    const body: LeanStats = {
      openai: { ...openai.stats },
      stream: { ...stream.stats },
      anthropic: { ...anthropic.stats },
      slow: { ...slow.stats },
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return;
  }
  if (req.url === '/__reset' && req.method === 'POST') {
    for (const s of Object.values(servers)) s.stats.maxOpen = s.stats.open;
    res.writeHead(204);
    res.end();
    return;
  }
  res.writeHead(404);
  res.end();
});

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const origins: LeanOrigins = {
  openai: await listen(openai.server),
  stream: await listen(stream.server),
  anthropic: await listen(anthropic.server),
  slow: await listen(slow.server),
  control: await listen(control),
};
process.stdout.write(`${JSON.stringify(origins)}\n`);

const shutdown = () => {
  for (const s of [...Object.values(servers).map((s) => s.server), control]) {
    s.closeAllConnections();
    s.close();
  }
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
