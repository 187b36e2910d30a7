// Throughput of the data plane's SSE reader against eventsource-parser (the issue asked to
// measure both before choosing), on an OpenAI chat stream and an Anthropic stream cut into
// 1 KiB and 64 KiB chunks. Run: node bench/sse-parsers.ts [path/to/eventsource-parser/dist/index.js]
// (eventsource-parser is not a dependency; install it anywhere and pass its path).
import { SseFramer } from '../src/dataplane/sse/sse-framer.ts';
import { SseParser } from '../src/dataplane/sse/sse-reader.ts';

const chatEvent = (i: number) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: { content: `token ${i} ` }, finish_reason: null }] })}\n\n`;
const anthropicEvent = (i: number) =>
  `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `token ${i} ` } })}\n\n`;

function streamOf(event: (i: number) => string, bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const e = event(i);
    parts.push(e);
    size += e.length;
  }
  return Buffer.from(parts.join(''));
}

function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; at += size) out.push(buf.subarray(at, at + size));
  return out;
}

type Run = (parts: readonly Buffer[]) => number;

const runs: Record<string, Run> = {
  'aicb SseFramer (bytes + fields)': (parts) => {
    let n = 0;
    const framer = new SseFramer(
      () => {
        n++;
        return 'forwarded';
      },
      () => undefined,
    );
    for (const p of parts) framer.push(p);
    framer.finish();
    return n;
  },
  'aicb SseParser (events as values)': (parts) => {
    let n = 0;
    const parser = new SseParser();
    for (const p of parts) n += parser.push(p).length;
    return n + parser.finish().length;
  },
};

const path = process.argv[2];
if (path !== undefined) {
  const { createParser } = (await import(path)) as {
    createParser: (c: { onEvent: () => void }) => { feed(text: string): void };
  };
  runs['eventsource-parser (text in)'] = (parts) => {
    let n = 0;
    const parser = createParser({
      onEvent: () => {
        n++;
      },
    });
    const decoder = new TextDecoder();
    for (const p of parts) parser.feed(decoder.decode(p, { stream: true }));
    return n;
  };
}

const MB = 1024 * 1024;
for (const [api, event] of [
  ['openai-chat', chatEvent],
  ['anthropic-messages', anthropicEvent],
] as const) {
  const stream = streamOf(event, 8 * MB);
  for (const size of [1024, 64 * 1024]) {
    const parts = chunks(stream, size);
    for (const [name, run] of Object.entries(runs)) {
      for (let i = 0; i < 3; i++) run(parts); // warm up
      const rounds = 5;
      const started = process.hrtime.bigint();
      let events = 0;
      for (let i = 0; i < rounds; i++) events = run(parts);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9 / rounds;
      console.log(
        `${api.padEnd(19)} ${String(size / 1024).padStart(3)} KiB chunks  ${name.padEnd(36)} ${(stream.length / MB / seconds).toFixed(0).padStart(5)} MB/s  ${((seconds * 1e9) / events).toFixed(0).padStart(5)} ns/event`,
      );
    }
  }
}
