// Cost of the request-body scan (src/dataplane/json/json-object-scan.ts), which runs on every
// JSON request: ns per byte on a typical 1 KiB chat request and on 1 MiB prompts (one long
// message with escapes and non-ASCII text; many short messages; pretty-printed).
// Run: node bench/json-object-scan.ts
import { scanJsonObject } from '../src/dataplane/json/json-object-scan.ts';

const WANTED = new Set(['model', 'stream', 'stream_options']);

function chat(messages: { role: string; content: string }[], indent?: number): Buffer {
  return Buffer.from(JSON.stringify({ model: 'gpt-4o', stream: true, messages }, null, indent));
}

const sentence = 'The quick brown fox said "hello" — über façade\n\tand then\\left. ';
function textOf(bytes: number): string {
  return sentence.repeat(Math.ceil(bytes / Buffer.byteLength(sentence))).slice(0, bytes);
}

const bodies: Record<string, Buffer> = {
  '1 KiB chat': chat([
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: textOf(880) },
  ]),
  '1 MiB, one message': chat([{ role: 'user', content: textOf(1 << 20) }]),
  '1 MiB, 8k messages': chat(
    Array.from({ length: 8192 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: textOf(100),
    })),
  ),
  '1 MiB, pretty-printed': chat(
    Array.from({ length: 8192 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: textOf(80),
    })),
    2,
  ),
};

for (const [name, body] of Object.entries(bodies)) {
  const scan = scanJsonObject(body, WANTED);
  if (!scan.ok) throw new Error(`${name}: ${scan.reason}`);
  const rounds = Math.max(20, Math.floor(200_000_000 / body.length / 10));
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < rounds; k++) scanJsonObject(body, WANTED);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / rounds);
  }
  console.log(
    `${name.padEnd(24)} ${String(body.length).padStart(8)} B  ${(best / body.length).toFixed(3)} ns/byte  ${(best / 1000).toFixed(1)} µs/scan`,
  );
}
