// The baseline of `npm run bench:table`: the pass-through a team would write in an afternoon
// with the same libraries the sidecar uses (fastify + undici), and nothing else. It buffers the
// request body (fastify's body parsing, kept as bytes, not parsed), forwards it with one undici
// Pool per origin (no connection cap, like a hand-written proxy that never thought about it),
// and streams the answer back. No breaker, no parsing, no metrics, no logging. Issue 11 states
// the sidecar's targets as ratios against this.
//
//   node bench/naive-proxy.ts --upstream /openai=http://127.0.0.1:1234 [--upstream ...]
//
// Prints {"url": "..."} once listening; SIGTERM / SIGINT stop it.
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string', multiple: true, default: [] },
    port: { type: 'string', default: '0' },
  },
});

/** Path prefix → pool; the prefix is stripped, as the sidecar strips /{upstream}. */
const routes = values.upstream.map((spec) => {
  const eq = spec.indexOf('=');
  return { prefix: spec.slice(0, eq), pool: new Pool(spec.slice(eq + 1)) };
});

/** Hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
];
/** Request headers undici sets itself from the target and the buffered body. */
const REQUEST_DROP = new Set([...HOP, 'host', 'content-length']);
const RESPONSE_DROP = new Set(HOP);

const app = Fastify({ bodyLimit: 64 * 2 ** 20 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
  done(null, body);
});

app.all('/*', async (req, reply) => {
  const route = routes.find((r) => req.url.startsWith(`${r.prefix}/`));
  if (route === undefined) return reply.code(404).send();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!REQUEST_DROP.has(name) && typeof value === 'string') headers[name] = value;
  }
  const body = req.body as Buffer | undefined;
  const upstream = await route.pool.request({
    method: req.method,
    path: req.url.slice(route.prefix.length),
    headers,
    body: body ?? null,
  });
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (!RESPONSE_DROP.has(name) && value !== undefined) out[name] = value;
  }
  return reply.code(upstream.statusCode).headers(out).send(upstream.body);
});

const address = await app.listen({ host: '127.0.0.1', port: Number(values.port) });
process.stdout.write(`${JSON.stringify({ url: address })}\n`);

const shutdown = () => {
  void app.close().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
