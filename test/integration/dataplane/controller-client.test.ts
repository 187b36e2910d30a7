/**
 * The cluster path of a snapshot, against a fake controller on loopback: the controller's
 * message is validated once (by the message schema) and then applied as it is, a refused one is
 * acknowledged with field paths, and the copy persisted on disk, which anything may have
 * changed, is validated in full when it is read back.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildSidecar } from '../../../src/dataplane/build-sidecar.ts';
import { compilePolicyText } from '../../../src/dataplane/config/policy-file.ts';
import { ControllerClient } from '../../../src/dataplane/controller-client.ts';
import {
  encodeStreamEvent,
  PROTOCOL_PATHS,
  STREAM_EVENTS,
  type Ack,
  type SnapshotMessage,
} from '../../../src/snapshot/sidecar-protocol.ts';
import { PolicySnapshotSchema, type PolicySnapshot } from '../../../src/snapshot/snapshot.ts';
import { systemClock } from '../../../src/shared/clock.ts';
import { createLogger } from '../../../src/shared/create-logger.ts';
import type { Timers } from '../../../src/shared/timers.ts';
import { policyYaml } from '../../support/sidecar-harness.ts';

const logger = createLogger({ level: 'silent' });

function compiled(): PolicySnapshot {
  const result = compilePolicyText(
    policyYaml({
      upstreams: [{ name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' }],
    }),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.snapshot;
}

/** A controller that streams what the test sends and hands over each ack as it arrives. */
async function fakeController() {
  const acks: Ack[] = [];
  const waiting: ((ack: Ack) => void)[] = [];
  let stream: ServerResponse | undefined;
  let streamOpened: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    streamOpened = resolve;
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === PROTOCOL_PATHS.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      stream = res;
      streamOpened();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204).end();
      if (req.url !== PROTOCOL_PATHS.ack) return;
      const ack = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Ack;
      const next = waiting.shift();
      if (next === undefined) acks.push(ack);
      else next(ack);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    opened,
    /** A snapshot message as the controller encodes it. */
    send(message: SnapshotMessage): void {
      stream?.write(encodeStreamEvent(STREAM_EVENTS.snapshot, message));
    },
    /** Any text as the data of a snapshot event. */
    sendRaw(data: string): void {
      stream?.write(`event: ${STREAM_EVENTS.snapshot}\ndata: ${data}\n\n`);
    },
    nextAck(): Promise<Ack> {
      const ready = acks.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

describe('controller client: the snapshot on the cluster path', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function connected(stateDir: string) {
    const controller = await fakeController();
    const tokenFile = join(stateDir, 'token');
    writeFileSync(tokenFile, 'token');
    const sidecar = buildSidecar({ logger, collectProcessMetrics: false, alerting: false });
    const client = new ControllerClient({
      urls: [controller.url],
      tokenFile,
      stateDir,
      sidecar,
      logger,
      clock: systemClock,
    });
    // Undone in reverse: the client stops first.
    cleanups.push(
      () => sidecar.close(),
      () => controller.close(),
      () => client.stop(),
    );
    await client.start();
    return { controller, sidecar, client };
  }

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'aicb-client-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    return dir;
  }

  it('validates the controller’s message once and applies the snapshot without a second check', async () => {
    const stateDir = tempDir();
    const { controller, sidecar } = await connected(stateDir);
    await controller.opened;
    // Every validation of a snapshot, whether on its own or nested in the message schema.
    const runs = vi.spyOn(PolicySnapshotSchema._zod, 'run');
    const snapshot = compiled();
    controller.send({ snapshot, changedAtWallMs: 0 });
    expect(await controller.nextAck()).toEqual({
      hash: snapshot.hash,
      accepted: true,
      problems: [],
    });
    expect(sidecar.runtime.snapshot?.hash).toBe(snapshot.hash);
    expect(runs).toHaveBeenCalledTimes(1);
    // Persisted for a restart while the controller is away.
    const persisted = JSON.parse(
      readFileSync(join(stateDir, 'last-good-snapshot.json'), 'utf8'),
    ) as PolicySnapshot;
    expect(persisted.hash).toBe(snapshot.hash);
  });

  it('acknowledges a refused snapshot with the paths of its bad fields, keeping the one in force', async () => {
    const { controller, sidecar } = await connected(tempDir());
    await controller.opened;
    const good = compiled();
    controller.send({ snapshot: good, changedAtWallMs: 0 });
    await controller.nextAck();
    const runs = vi.spyOn(PolicySnapshotSchema._zod, 'run');
    const bad = {
      ...good,
      hash: 'f'.repeat(64),
      upstreams: [{ ...good.upstreams[0], maxConnections: -1 }],
    };
    controller.sendRaw(JSON.stringify({ snapshot: bad, changedAtWallMs: 0 }));
    const ack = await controller.nextAck();
    expect(ack.hash).toBe(bad.hash);
    expect(ack.accepted).toBe(false);
    expect(ack.problems).toHaveLength(1);
    expect(ack.problems[0]).toMatch(/^snapshot\.upstreams\.0\.maxConnections: /);
    expect(runs).toHaveBeenCalledTimes(1);
    expect(sidecar.runtime.snapshot?.hash).toBe(good.hash);
    // Not JSON at all: refused with no hash to name.
    controller.sendRaw('{not json');
    expect(await controller.nextAck()).toMatchObject({ hash: '', accepted: false });
  });

  it('validates the snapshot persisted on disk in full when it is read back', async () => {
    const good = compiled();
    const dir = tempDir();
    writeFileSync(join(dir, 'last-good-snapshot.json'), JSON.stringify(good));
    const runs = vi.spyOn(PolicySnapshotSchema._zod, 'run');
    const restored = await connected(dir);
    expect(restored.sidecar.runtime.snapshot?.hash).toBe(good.hash);
    expect(runs).toHaveBeenCalledTimes(1);

    const other = tempDir();
    writeFileSync(
      join(other, 'last-good-snapshot.json'),
      JSON.stringify({ ...good, upstreams: [{ ...good.upstreams[0], maxConnections: -1 }] }),
    );
    const refused = await connected(other);
    expect(refused.sidecar.runtime.snapshot).toBeUndefined();
    expect(
      await refused.sidecar.metrics.registry.getSingleMetricAsString('aicb_config_reloads_total'),
    ).toContain('aicb_config_reloads_total{result="rejected"} 1');
  });

  it('waits between reconnects on the injected timers, and stop() ends a wait at once', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'token');
    // A port nothing listens on: every attempt fails at once.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const delays: number[] = [];
    let waiting: () => void = () => undefined;
    const firstWait = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    const timers: Timers = {
      setTimeout(_callback, delayMs) {
        // Never fires: the client must not move on by itself.
        delays.push(delayMs);
        waiting();
        return () => undefined;
      },
    };
    const sidecar = buildSidecar({ logger, collectProcessMetrics: false, alerting: false });
    cleanups.push(() => sidecar.close());
    const client = new ControllerClient({
      urls: [`http://127.0.0.1:${port}`],
      tokenFile: join(dir, 'token'),
      sidecar,
      logger,
      clock: systemClock,
      timers,
      random: () => 0.5,
    });
    await client.start();
    await firstWait;
    // The first failure waits half (random 0.5) of the first ceiling, 2 x 500 ms.
    expect(delays).toEqual([500]);
    await client.stop();
    expect(delays).toEqual([500]);
  });
});
