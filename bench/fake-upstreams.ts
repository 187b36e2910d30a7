// The fake providers of `npm run bench`, in one process of their own so their CPU is not the
// sidecar's: the scripted provider from test/support, started several times on loopback with
// different behaviours, plus a control port that reports how many calls the counted ones got.
//
//   main    healthy OpenAI-style provider, nothing recorded (throughput and latency runs)
//   stream  healthy, every answer a paced SSE stream (time-to-first-byte runs)
//   dead    answers every call 503 and counts them (the dead primary)
//   backup  healthy and counted (the fallback of the dead primary)
//
// Prints one JSON line with the origins on stdout once everything listens; GET /__stats on the
// control origin returns {"dead": n, "backup": m}; SIGTERM / SIGINT close everything.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startFakeProvider } from '../test/support/fake-provider.ts';

export interface FakeUpstreamOrigins {
  readonly main: string;
  readonly stream: string;
  readonly dead: string;
  readonly backup: string;
  readonly control: string;
}

export interface FakeUpstreamStats {
  readonly dead: number;
  readonly backup: number;
}

const { values } = parseArgs({
  options: {
    words: { type: 'string', default: '100' },
    'stream-chunks': { type: 'string', default: '64' },
    'stream-chunk-delay-ms': { type: 'string', default: '20' },
  },
});
const words = Number(values.words);
const streamChunks = Number(values['stream-chunks']);
const streamChunkDelayMs = Number(values['stream-chunk-delay-ms']);

const main = await startFakeProvider({ api: 'openai', record: false, words });
const stream = await startFakeProvider({ api: 'openai', record: false });
stream.setDefault({ type: 'stream-slow', chunkDelayMs: streamChunkDelayMs, chunks: streamChunks });
const dead = await startFakeProvider({ api: 'openai', record: true });
dead.setDefault({ type: 'status', status: 503 });
const backup = await startFakeProvider({ api: 'openai', record: true, words });

const control = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__stats') {
    const stats: FakeUpstreamStats = { dead: dead.requests.length, backup: backup.requests.length };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  res.writeHead(404);
  res.end();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
const { port } = control.address() as AddressInfo;

const origins: FakeUpstreamOrigins = {
  main: main.url,
  stream: stream.url,
  dead: dead.url,
  backup: backup.url,
  control: `http://127.0.0.1:${port}`,
};
process.stdout.write(`${JSON.stringify(origins)}\n`);

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  control.close();
  await Promise.all([main.close(), stream.close(), dead.close(), backup.close()]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
