// `npm run demo`: two local fake providers, the real sidecar between them and an OpenAI SDK
// client, and a narration of what a user sees while the primary fails and recovers. Every
// number printed is measured in this run.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { buildSidecar } from '../src/dataplane/build-sidecar.ts';
import { startStandalonePolicy } from '../src/dataplane/config/standalone-policy.ts';
import { createLogger } from '../src/shared/create-logger.ts';
import { startFakeProvider } from '../test/support/fake-provider.ts';
import { policyYaml } from '../test/support/sidecar-harness.ts';

const say = (text = '') => {
  console.log(text);
};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const primary = await startFakeProvider({ api: 'openai' });
const backup = await startFakeProvider({ api: 'anthropic' });
const dir = mkdtempSync(join(tmpdir(), 'aicb-demo-'));
const file = join(dir, 'policy.yaml');
writeFileSync(
  file,
  policyYaml(
    {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: primary.url },
        {
          name: 'anthropic',
          provider: 'anthropic',
          baseURL: backup.url,
          apiKey: { env: 'ANTHROPIC_API_KEY' },
        },
      ],
      breaker: {
        failureThreshold: 3,
        recoveryTimeout: '2s',
        successThreshold: 1,
        recoveryBackoff: { jitter: 0 },
      },
      fallbacks: [
        {
          from: 'openai',
          to: [{ upstream: 'anthropic', modelMap: { 'gpt-4o-mini': 'claude-haiku-4-5' } }],
        },
      ],
    },
    'demo',
  ),
);

const logger = createLogger({ level: 'silent' });
const sidecar = buildSidecar({
  logger,
  env: { ANTHROPIC_API_KEY: 'sk-demo-anthropic-key' },
  collectProcessMetrics: false,
});
const watch = await startStandalonePolicy(file, sidecar, logger);
const proxyUrl = await sidecar.proxy.listen({ host: '127.0.0.1', port: 0 });
const adminUrl = await sidecar.admin.listen({ host: '127.0.0.1', port: 0 });
const client = new OpenAI({
  apiKey: 'sk-app-key',
  baseURL: `${proxyUrl}/openai/v1`,
  maxRetries: 0,
});

say('ai-circuit-breaker demo');
say(`  fake OpenAI (primary) ${primary.url}`);
say(`  fake Anthropic        ${backup.url}`);
say(`  sidecar               ${proxyUrl}  (admin ${adminUrl})`);
say('  policy: open after 3 consecutive failures, probe after 2s; fall back to Anthropic');
say('          (gpt-4o-mini -> claude-haiku-4-5, answers translated back to the OpenAI format)');
say();

async function ask(label: string): Promise<void> {
  const started = performance.now();
  try {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say something.' }] })
      .withResponse();
    const ms = (performance.now() - started).toFixed(1);
    say(
      `  ${label}: 200 from ${response.headers.get('x-aicb-upstream') ?? '?'} (model ${data.model}) in ${ms} ms` +
        `  attempts=${response.headers.get('x-aicb-attempts') ?? ''}`,
    );
  } catch (error) {
    const e = error as InstanceType<typeof OpenAI.APIError>;
    const ms = (performance.now() - started).toFixed(1);
    say(`  ${label}: ${e.status ?? 'error'} ${e.code ?? ''} in ${ms} ms  ${e.message}`);
  }
}

async function health(): Promise<string> {
  const res = await fetch(`${adminUrl}/health/circuit-breakers`);
  const report = (await res.json()) as {
    providers: Record<string, string>;
    overall_health: string;
  };
  return `${JSON.stringify(report.providers)} overall=${report.overall_health}`;
}

say('1. Everything healthy: the app talks to OpenAI through the sidecar.');
await ask('request 1');
say(`   health: ${await health()}`);
say();

say('2. OpenAI starts failing with 503. Each failed call falls back to Claude at once (the');
say('   OpenAI SDK still gets an ordinary chat.completion); after the 3rd consecutive failure');
say('   the circuit opens and OpenAI is not called any more.');
primary.setDefault({ type: 'status', status: 503 });
const before = primary.requests.length;
for (let i = 2; i <= 7; i++) await ask(`request ${i}`);
say(
  `   OpenAI received ${primary.requests.length - before} calls for 6 requests: the open circuit skipped the rest.`,
);
say(`   health: ${await health()}`);
say();

say('3. Anthropic fails too. Its real errors (in the OpenAI format) come back until its circuit');
say(
  '   opens as well; then the sidecar answers at once with 503 AICB_CIRCUIT_OPEN, calling nobody.',
);
backup.setDefault({ type: 'status', status: 500 });
const calls = primary.requests.length + backup.requests.length;
for (let i = 8; i <= 12; i++) await ask(`request ${i}`);
say(
  `   providers received ${primary.requests.length + backup.requests.length - calls} calls for 5 requests.`,
);
say(`   health: ${await health()}`);
say();

say('4. Both recover. After the 2s open period the next request is a probe; it succeeds and');
say('   the circuit closes.');
primary.setDefault({ type: 'ok' });
backup.setDefault({ type: 'ok' });
await pause(2100);
await ask('request 13');
await ask('request 14');
say(`   health: ${await health()}`);
say('   (anthropic reads half_open: its open period is over; its next call would be its probe.)');
say();

const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
say('5. What Prometheus scrapes from the admin port (excerpt):');
for (const line of metrics.split('\n')) {
  if (
    /^(circuit_breaker_state_changes_total|aicb_short_circuited_total|aicb_fallbacks_total)\{/.test(
      line,
    )
  ) {
    say(`   ${line}`);
  }
}

watch.close();
await sidecar.close();
await primary.close();
await backup.close();
rmSync(dir, { recursive: true, force: true });
