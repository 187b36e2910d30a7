/**
 * `aicb controller`, assembled: watches on AICircuitPolicies, the Secrets they reference and the
 * pods that run a sidecar; the debounced reconcile loop; delivery of each pod's snapshot over
 * its sidecar's stream; and, while this replica holds the leader lease, status, Events and
 * alerts once per policy transition. Only the leader serves sidecar streams (ADR 0004).
 *
 * Like fastify's build and listen, building never opens a socket or a watch: `start()` begins
 * watching and electing, `listen()` opens the servers, so tests can `inject()` into a controller
 * that is not listening.
 */
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { systemTimers, type CancelTimer } from '../shared/timers.ts';
import { PolicyAlerts } from './alerting/policy-alerts.ts';
import { buildAdminServer } from './admin-server.ts';
import { ControllerMetrics } from './controller-metrics.ts';
import { buildDeliveryServer } from './delivery/delivery-server.ts';
import { FleetFanout } from './delivery/fleet-fanout.ts';
import { PodLookup } from './delivery/pod-lookup.ts';
import { SidecarHub } from './delivery/sidecar-hub.ts';
import { SnapshotFanout } from './delivery/snapshot-fanout.ts';
import { INJECTED_LABEL, type InjectorConfig } from './injector/inject-sidecar.ts';
import { buildWebhookServer } from './injector/webhook-server.ts';
import { EventRecorder } from './kube/event-recorder.ts';
import type { KubeClients } from './kube/kube-client.ts';
import { LeaderElector } from './kube/leader-election.ts';
import { LeaderLabel } from './kube/leader-label.ts';
import {
  podCollectionPath,
  podFacts,
  policyCollectionPath,
  type PodObject,
  type PolicyObject,
} from './kube/resources.ts';
import { SecretWatches } from './kube/secret-watches.ts';
import { StatusWriter } from './kube/status-writer.ts';
import { TokenReviewer } from './kube/token-reviewer.ts';
import { WatchedCollection } from './kube/watched-collection.ts';
import { ReconcileLoop } from './reconcile/reconcile-loop.ts';
import { governingPolicy } from './reconcile/reconcile.ts';
import { StatusPublisher } from './status/status-publisher.ts';
import { TransitionWriter } from './status/transition-writer.ts';

export { LEADER_LABEL } from './kube/leader-label.ts';

/** Where one server listens, and its TLS material (plain HTTP without). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly https?: { readonly key: string; readonly cert: string };
}

export interface ControllerOptions {
  readonly clients: KubeClients;
  readonly logger: Logger;
  readonly clock: Clock;
  /** This replica's name (pod name), for the lease and Events. */
  readonly identity: string;
  readonly leaseNamespace: string;
  readonly leaseName?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly delivery: ListenAddress;
  readonly admin: Omit<ListenAddress, 'https'>;
  /** The sidecar injector (mutating webhook), served by every replica; off when absent. */
  readonly webhook?: ListenAddress & { readonly config: InjectorConfig };
  /**
   * This replica's own pod. The leader labels it `aicircuit.io/leader=true`, which the delivery
   * Service selects, so sidecars reach the replica that serves while every replica stays Ready
   * (and serves the webhook). Without it (tests, local runs) no label is written.
   */
  readonly self?: { readonly namespace: string; readonly podName: string };
  /** Environment of the controller, for alert URLs given as `env` references. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Least privilege: the only namespaces whose Secrets the controller reads (the chart grants
   * it Roles there and nothing cluster-wide). Absent: every namespace.
   */
  readonly secretNamespaces?: readonly string[];
  readonly reconcileDebounceMs?: number;
  readonly heartbeatMs?: number;
  readonly collectProcessMetrics?: boolean;
}

/** Where the servers listen, once `listen()` resolved. */
export interface ControllerUrls {
  readonly deliveryUrl: string;
  readonly adminUrl: string;
  readonly webhookUrl: string | undefined;
}

export interface Controller {
  readonly metrics: ControllerMetrics;
  readonly hub: SidecarHub;
  /** The servers, built and not listening until `listen()`. */
  readonly delivery: FastifyInstance;
  readonly admin: FastifyInstance;
  readonly webhook: FastifyInstance | undefined;
  readonly isLeader: boolean;
  /** Starts watching and electing (no server listens yet). */
  start(): Promise<void>;
  /** Opens the servers on the configured addresses. */
  listen(): Promise<ControllerUrls>;
  /**
   * Swaps the serving certificate of the delivery and webhook endpoints without a restart
   * (cert-manager renews the Secret in place; the mounted files change under us).
   */
  reloadTls(tls: { readonly cert: string; readonly key: string }): void;
  /** Stops serving; with `release` (default), hands the lease over at once (graceful shutdown). */
  stop(options?: { readonly release?: boolean }): Promise<void>;
}

export function buildController(options: ControllerOptions): Controller {
  const { clients, logger, clock } = options;
  let stopped = false;
  const metrics = new ControllerMetrics({
    collectProcessMetrics: options.collectProcessMetrics ?? true,
  });
  const hub = new SidecarHub({
    clock,
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  });
  const policies = new WatchedCollection<PolicyObject>({
    name: 'aicircuitpolicies',
    transport: clients.transport,
    path: policyCollectionPath(),
    logger,
  });
  const watchedPods = new WatchedCollection<PodObject>({
    name: 'pods',
    transport: clients.transport,
    path: podCollectionPath(),
    labelSelector: `${INJECTED_LABEL}=true`,
    // Identity and labels only: a fleet's full pod objects would be most of the cache's heap.
    decode: podFacts,
    logger,
  });
  const elector = new LeaderElector({
    leases: clients.coordination,
    namespace: options.leaseNamespace,
    name: options.leaseName ?? 'aicb-controller',
    identity: options.identity,
    ...(options.leaseDurationMs === undefined ? {} : { leaseDurationMs: options.leaseDurationMs }),
    ...(options.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: options.renewDeadlineMs }),
    ...(options.retryPeriodMs === undefined ? {} : { retryPeriodMs: options.retryPeriodMs }),
    logger,
  });
  const isLeader = () => elector.isLeader;
  const pods = new PodLookup({ watched: watchedPods, api: clients.core, logger });
  const loop: ReconcileLoop = new ReconcileLoop({
    policies: () => policies.list(),
    pods: () => pods.pods(),
    secrets: {
      read: (namespace, name, key) => secrets.read(namespace, name, key),
      readable: (namespace) => secrets.readable(namespace),
    },
    clock,
    logger,
    metrics,
    ...(options.reconcileDebounceMs === undefined
      ? {}
      : { debounceMs: options.reconcileDebounceMs }),
  });
  const secrets = new SecretWatches({
    transport: clients.transport,
    logger,
    ...(options.secretNamespaces === undefined
      ? {}
      : { allowedNamespaces: new Set(options.secretNamespaces) }),
    onChange: () => {
      loop.schedule();
    },
  });
  const reviewer = new TokenReviewer({ api: clients.authentication, logger });
  const statusWriter = new StatusWriter({ api: clients.customObjects, gate: isLeader, logger });
  const events = new EventRecorder({
    api: clients.core,
    instance: options.identity,
    gate: isLeader,
    logger,
  });
  const alerts = new PolicyAlerts({
    logger,
    clock,
    identity: options.identity,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  metrics.alertStats = () => alerts.stats();
  const status = new StatusPublisher({
    clock,
    hub,
    result: () => loop.result,
    policy: (namespace, name) => policies.get(namespace, name),
    secretsSynced: (namespace) => secrets.synced(namespace),
    statusWriter,
    transitions: new TransitionWriter({ events, alerts }),
    events,
    isLeader,
  });
  const snapshots = new SnapshotFanout({
    hub,
    clock,
    metrics,
    logger,
    result: () => loop.result,
    reconcile: () => {
      loop.schedule();
    },
    canRelease: () => policies.health().synced,
  });
  const fleet = new FleetFanout({ hub, clock, logger, metrics, result: () => loop.result });
  const leaderLabel = new LeaderLabel({ api: clients.core, self: options.self, logger });
  let stopLabelSweep: CancelTimer = () => undefined;

  const delivery = buildDeliveryServer({
    hub,
    review: (token) => reviewer.review(token),
    findPod: (namespace, name) => pods.find(namespace, name),
    serving: () => elector.isLeader && !stopped,
    onConnected: (pod) => {
      snapshots.connected(pod);
    },
    metrics,
    logger,
    ...(options.delivery.https === undefined ? {} : { https: options.delivery.https }),
  });
  const admin = buildAdminServer({
    registry: metrics.registry,
    // Listed and reconciled once: before that the webhook cannot tell which policy governs a pod.
    synced: () => policies.health().synced && loop.result !== undefined,
    isLeader,
    sidecars: () => hub.size,
  });
  const webhookOptions = options.webhook;
  const webhook =
    webhookOptions === undefined
      ? undefined
      : buildWebhookServer({
          config: () => webhookOptions.config,
          policyFor: (namespace, labels) => {
            const result = loop.result;
            const snapshot =
              result === undefined
                ? undefined
                : governingPolicy(result, namespace, labels)?.snapshot;
            return snapshot === undefined
              ? undefined
              : {
                  upstreams: snapshot.upstreams.map((u) => ({
                    name: u.name,
                    provider: u.provider,
                  })),
                  defaultUpstream: snapshot.defaultUpstream,
                };
          },
          logger,
          onInjected: (result) => {
            metrics.injections.inc({ result });
          },
          ...(webhookOptions.https === undefined ? {} : { https: webhookOptions.https }),
        });

  loop.passes.subscribe((pass) => {
    snapshots.deliver(pass);
    alerts.configure(pass.result);
    status.schedule();
  });

  async function start(): Promise<void> {
    policies.onChange(() => {
      secrets.sync(new Set(policies.list().map((p) => p.metadata.namespace ?? '')));
      loop.schedule();
    });
    watchedPods.onChange(() => {
      loop.schedule();
    });
    hub.events.subscribe((e) => {
      metrics.streamClients.set(hub.size);
      switch (e.kind) {
        case 'connected':
          return;
        case 'disconnected':
          pods.forget(e.session.pod);
          snapshots.countReleased();
          status.schedule();
          return;
        case 'ack':
          metrics.acks.inc({ result: e.ack.accepted ? 'accepted' : 'rejected' });
          if (e.propagationMs !== undefined) metrics.propagation.observe(e.propagationMs / 1000);
          if (!e.ack.accepted)
            logger.warn(
              { pod: e.session.pod, problems: e.ack.problems },
              'sidecar rejected its policy',
            );
          status.schedule();
          return;
        case 'report':
          fleet.report(e.session, e.report);
          status.noteReport(e.session, e.report);
          status.schedule();
          return;
      }
    });
    elector.onStartedLeading(() => {
      logger.info({ identity: options.identity }, 'leading: serving sidecars and writing status');
      metrics.leader.set(1);
      void leaderLabel.setSelf(true).then(() => {
        stopLabelSweep();
        stopLabelSweep = leaderLabel.sweepOthers(() => elector.isLeader && !stopped, systemTimers);
      });
      // Take the circuit picture as it is, without alerting for what happened before us.
      status.resetPictures();
      status.schedule();
    });
    elector.onStoppedLeading((reason) => {
      logger.warn({ reason }, 'no longer leading: closing sidecar streams');
      metrics.leader.set(0);
      hub.closeAll();
      stopLabelSweep();
      void leaderLabel.setSelf(false);
    });
    policies.start();
    watchedPods.start();
    // With no policy at all the list emits no change; a pass is still due to release sidecars.
    policies.synced.then(
      () => {
        loop.schedule();
      },
      () => undefined,
    );
    // A restarted replica may still carry the label from an earlier leadership.
    await leaderLabel.setSelf(false);
    elector.start();
  }

  async function listen(): Promise<ControllerUrls> {
    const deliveryUrl = await delivery.listen({
      host: options.delivery.host,
      port: options.delivery.port,
    });
    const adminUrl = await admin.listen({ host: options.admin.host, port: options.admin.port });
    const webhookUrl =
      webhook === undefined || webhookOptions === undefined
        ? undefined
        : await webhook.listen({ host: webhookOptions.host, port: webhookOptions.port });
    return { deliveryUrl, adminUrl, webhookUrl };
  }

  return {
    metrics,
    hub,
    delivery,
    admin,
    webhook,
    get isLeader() {
      return elector.isLeader;
    },
    start,
    listen,
    reloadTls(tls) {
      for (const app of [delivery, webhook]) {
        const server = app?.server as { setSecureContext?: (options: object) => void } | undefined;
        server?.setSecureContext?.({ cert: tls.cert, key: tls.key });
      }
      logger.info('serving certificate reloaded');
    },
    async stop(stopOptions = {}) {
      stopped = true;
      stopLabelSweep();
      loop.stop();
      status.stop();
      hub.closeAll();
      if (stopOptions.release ?? true) await elector.release();
      else await elector.stop();
      await statusWriter.flush().catch(() => undefined);
      await statusWriter.stop();
      await Promise.all([policies.stop(), watchedPods.stop(), secrets.stop()]);
      await alerts.close();
      await delivery.close();
      await admin.close();
      await webhook?.close();
    },
  };
}
