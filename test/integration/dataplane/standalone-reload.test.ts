// Standalone mode: the policy file is watched; valid edits apply without a restart and keep the
// breaker state of unchanged upstreams; invalid edits are logged with their field path and the
// last good policy stays in force.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSidecar, type Sidecar } from '../../../src/dataplane/build-sidecar.ts';
import {
  PolicyFileError,
  startStandalonePolicy,
} from '../../../src/dataplane/config/standalone-policy.ts';
import type { FileWatch } from '../../../src/dataplane/config/watch-file.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { createLogger, type Logger } from '../../../src/shared/create-logger.ts';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { policyYaml } from '../../support/sidecar-harness.ts';

let dir: string;
let file: string;
let primary: FakeProvider;
let backup: FakeProvider;
let sidecar: Sidecar;
let watch: FileWatch | undefined;
let logs: string[];
let logger: Logger;
let url: string;

function spec(threshold: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    upstreams: [
      { name: 'openai', provider: 'openai', baseURL: primary.url },
      // Another origin: the app's key is not reused there, so the backup has its own.
      { name: 'backup', provider: 'openai', baseURL: backup.url, apiKey: { env: 'BACKUP_KEY' } },
    ],
    breaker: { failureThreshold: threshold },
    fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
    ...extra,
  };
}

/** Replaces the file atomically, as editors and ConfigMap updates do. */
function writePolicy(text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function chat(): Promise<string | null> {
  const c = new OpenAI({ apiKey: 'k', baseURL: `${url}/openai/v1`, maxRetries: 0 });
  const { response } = await c.chat.completions
    .create({ model: 'gpt-4o', messages: [] })
    .withResponse();
  return response.headers.get('x-aicb-attempts');
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aicb-reload-'));
  file = join(dir, 'policy.yaml');
  primary = await startFakeProvider({ api: 'openai' });
  backup = await startFakeProvider({ api: 'openai' });
  logs = [];
  logger = createLogger({
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    }),
  });
  sidecar = buildSidecar({
    logger,
    clock: new ManualClock(),
    collectProcessMetrics: false,
    env: { BACKUP_KEY: 'sk-backup' },
  });
  writePolicy(policyYaml(spec(5)));
  watch = await startStandalonePolicy(file, sidecar, logger, { pollMs: 100 });
  url = await sidecar.proxy.listen({ host: '127.0.0.1', port: 0 });
});

afterEach(async () => {
  watch?.close();
  await sidecar.close();
  await primary.close();
  await backup.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('standalone policy file', () => {
  it('applies a new threshold without a restart', async () => {
    primary.setDefault({ type: 'status', status: 500 });
    await chat();
    await chat();
    expect(await chat()).toBe('openai:500,backup:200'); // 3 failures, threshold 5: still closed
    const hashBefore = sidecar.runtime.snapshot?.hash;
    writePolicy(policyYaml(spec(4)));
    await until(() => sidecar.runtime.snapshot?.hash !== hashBefore, 'the reload');
    // The streak of 3 survived the reload; the 4th failure now trips the circuit.
    expect(await chat()).toBe('openai:500,backup:200');
    expect(await chat()).toBe('openai:open,backup:200');
    expect(logs.join('')).toContain('policy reloaded');
  });

  it('keeps the last good policy and logs the field path when an edit is invalid', async () => {
    const before = sidecar.runtime.snapshot?.hash;
    writePolicy(
      policyYaml(spec(3, { fallbacks: [{ from: 'openai', to: [{ upstream: 'bakup' }] }] })),
    );
    await until(() => logs.join('').includes('policy file rejected'), 'the rejection log line');
    expect(sidecar.runtime.snapshot?.hash).toBe(before);
    expect(logs.join('')).toContain(
      'spec.fallbacks[0].to[0].upstream: fallback targets must name one of spec.upstreams',
    );
    expect(await chat()).toBe('openai:200');
    // A later valid edit still applies.
    writePolicy(policyYaml(spec(2)));
    await until(() => sidecar.runtime.snapshot?.hash !== before, 'the next valid reload');
  });

  it('logs and counts a rejected in-place edit once, however often the file is noticed', async () => {
    const rejected = async () =>
      (await sidecar.metrics.configReloads.get()).values.find((v) => v.labels.result === 'rejected')
        ?.value ?? 0;
    // The default stat poll (2 s), as users run it: it notices the edit about a second after the
    // directory watch did.
    watch?.close();
    watch = await startStandalonePolicy(file, sidecar, logger);
    // Written in place (no rename), as `echo ... > policy.yaml` or an editor without backup does.
    writeFileSync(
      file,
      policyYaml(spec(3, { fallbacks: [{ from: 'openai', to: [{ upstream: 'bakup' }] }] })),
    );
    await until(() => logs.join('').includes('policy file rejected'), 'the rejection log line');
    // The directory watch and the stat poll both see the edit; give both time to fire.
    await sleep(2500);
    expect(logs.filter((l) => l.includes('policy file rejected'))).toHaveLength(1);
    expect(await rejected()).toBe(1);
    // A different bad edit is a new rejection.
    writeFileSync(file, policyYaml(spec(-1)));
    await until(
      () => logs.filter((l) => l.includes('policy file rejected')).length === 2,
      'the second rejection',
    );
    await sleep(2500);
    expect(logs.filter((l) => l.includes('policy file rejected'))).toHaveLength(2);
    expect(await rejected()).toBe(2);
  });

  it('warns on every load about what will not work: an expired override, an unreadable alert URL', async () => {
    const warnings = () =>
      logs
        .filter((l) => l.includes('policy warning'))
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
    writePolicy(
      policyYaml(
        spec(5, {
          overrides: [{ upstream: 'openai', state: 'forcedOpen', until: '2025-12-01T12:00:00Z' }],
          alerting: { webhooks: [{ url: { env: 'AICB_TEST_UNSET_ALERT_URL' } }] },
        }),
      ),
    );
    await until(() => warnings().length === 2, 'the load warnings');
    expect(warnings()).toEqual([
      'policy warning: spec.overrides[0].until: 2025-12-01T12:00:00.000Z has passed, so this ' +
        'forcedOpen override of openai does nothing; remove it or set a time in the future ' +
        '(docs/runbook.md computes one)',
      'policy warning: spec.alerting.webhooks[0].url.env: environment variable ' +
        'AICB_TEST_UNSET_ALERT_URL is not set (or empty): this webhook receives no alerts',
    ]);
    // The expired override is not in force: the upstream is called.
    expect(await chat()).toBe('openai:200');
    // The next reload warns again.
    writePolicy(
      policyYaml(
        spec(4, {
          overrides: [{ upstream: 'openai', state: 'forcedOpen', until: '2025-12-01T12:00:00Z' }],
        }),
      ),
    );
    await until(() => warnings().length === 3, 'the warning of the reload');
    expect(warnings()[2]).toContain('spec.overrides[0].until: 2025-12-01T12:00:00.000Z has passed');
  });

  it('refuses to start on an invalid file with every problem listed', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      policyYaml({ upstreams: [{ name: 'x', provider: 'gemini', baseURL: 'ftp://nope' }] }),
    );
    const error = await startStandalonePolicy(
      bad,
      sidecar,
      createLogger({ level: 'silent' }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyFileError);
    expect((error as Error).message).toContain('spec.upstreams[0].provider: must be one of');
    expect((error as Error).message).toContain(
      'spec.upstreams[0].baseURL: must be an http:// or https:// URL',
    );
  });
});
