// The e2e suite's application (runs in its own pod, Node 24 strips the types). It uses the
// official `openai` SDK exactly as an app would, with no code aware of the sidecar: the only
// link is the OPENAI_BASE_URL the injector sets. The tests call it over HTTP:
//   GET  /healthz                          -> { baseURL }
//   POST /chat                             -> one chat completion: what the SDK returned or threw
//   POST /load?requests=N&concurrency=C    -> N completions, C at a time: counts and duration
import { createServer, type ServerResponse } from 'node:http';
import OpenAI from 'openai';

const client = new OpenAI();

interface ChatOutcome {
  ok: boolean;
  content?: string | null;
  upstream?: string | null;
  fallback?: string | null;
  error?: string;
  status?: number;
}

async function chat(): Promise<ChatOutcome> {
  try {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] })
      .withResponse();
    return {
      ok: true,
      content: data.choices[0]?.message.content ?? null,
      upstream: response.headers.get('x-aicb-upstream'),
      fallback: response.headers.get('x-aicb-fallback'),
    };
  } catch (err) {
    const status: unknown = err instanceof OpenAI.APIError ? err.status : undefined;
    return { ok: false, error: String(err), ...(typeof status === 'number' ? { status } : {}) };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  req.resume();
  if (req.method === 'GET' && url.pathname === '/healthz') {
    send(res, 200, { baseURL: client.baseURL });
  } else if (req.method === 'POST' && url.pathname === '/chat') {
    void chat().then((outcome) => {
      send(res, 200, outcome);
    });
  } else if (req.method === 'POST' && url.pathname === '/load') {
    const total = Math.min(Number(url.searchParams.get('requests') ?? 100), 10_000);
    const concurrency = Math.min(Number(url.searchParams.get('concurrency') ?? 10), 100);
    const start = performance.now();
    let next = 0;
    let ok = 0;
    const errors: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < total) {
        next += 1;
        const outcome = await chat();
        if (outcome.ok) ok += 1;
        else errors.push(outcome.error ?? 'unknown');
      }
    };
    void Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
      send(res, 200, {
        ok,
        failed: errors.length,
        errors: errors.slice(0, 5),
        ms: performance.now() - start,
      });
    });
  } else {
    send(res, 404, { error: 'not found' });
  }
}).listen(8080, '0.0.0.0');
// PID 1 of its container: without a handler SIGTERM would be ignored until the grace period ends.
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
