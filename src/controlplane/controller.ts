/**
 * `aicb controller`: watches AICircuitPolicies, the Secrets they reference and the pods that run
 * a sidecar; reconciles them (a pure function) into one snapshot per pod; streams each sidecar
 * its snapshot; and, while it holds the leader lease, writes status, Events and alerts once per
 * policy transition. Only the leader serves sidecar streams (ADR 0004): a standby refuses them,
 * so every report reaches the replica that writes status, and a takeover is one reconnect.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import fastify from 'fastify';
import { AlertDispatcher, alertTargetsOf, type AlertEventKind } from '../alerts/index.ts';
import type { CredentialRef } from '../policy/snapshot.ts';
import type { Report } from '../policy/sidecar-protocol.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { ControllerMetrics } from './controller-metrics.ts';
import { buildDeliveryServer } from './delivery/delivery-server.ts';
import { SidecarHub, type SidecarSession } from './delivery/sidecar-hub.ts';
import {
  INJECTED_LABEL,
  type InjectorConfig,
  type PolicyUpstream,
} from './injector/inject-sidecar.ts';
import { buildWebhookServer } from './injector/webhook-server.ts';
import { selectorMatches } from './reconcile/label-selector.ts';
import { EventRecorder, policySubject } from './kube/event-recorder.ts';
import type { KubeClients } from './kube/kube-client.ts';
import { LeaderElector } from './kube/leader-election.ts';
import {
  podCollectionPath,
  policyCollectionPath,
  secretCollectionPath,
  type PodObject,
  type PolicyObject as PolicyResource,
  type SecretObject,
} from './kube/resources.ts';
import { StatusWriter } from './kube/status-writer.ts';
import { TokenReviewer } from './kube/token-reviewer.ts';
import { WatchedCollection } from './kube/watched-collection.ts';
import {
  objectKey,
  reconcile,
  type LastGood,
  type ReconcileResult,
} from './reconcile/reconcile.ts';
import { aggregateCircuits, computePolicyStatus } from './status/policy-status.ts';

/** The leader's pod carries this label; the delivery Service selects it. */
export const LEADER_LABEL = 'aicircuit.io/leader';

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
  readonly delivery: {
    readonly host: string;
    readonly port: number;
    readonly https?: { key: string; cert: string };
  };
  readonly admin: { readonly host: string; readonly port: number };
  /** The sidecar injector (mutating webhook), served by every replica; off when absent. */
  readonly webhook?: {
    readonly host: string;
    readonly port: number;
    readonly https?: { key: string; cert: string };
    readonly config: InjectorConfig;
  };
  /**
   * This replica's own pod. The leader labels it `aicircuit.io/leader=true`, which the delivery
   * Service selects, so sidecars reach the replica that serves while every replica stays Ready
   * (and serves the webhook). Without it (tests, local runs) no label is written.
   */
  readonly self?: { readonly namespace: string; readonly podName: string };
  /** Environment of the controller, for alert URLs given as `env` references. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly reconcileDebounceMs?: number;
  readonly heartbeatMs?: number;
  readonly collectProcessMetrics?: boolean;
}

interface PolicyCircuitState {
  open: boolean;
  sinceWallMs: number;
}

export class Controller {
  readonly metrics: ControllerMetrics;
  readonly hub: SidecarHub;
  readonly #o: ControllerOptions;
  readonly #policies: WatchedCollection<PolicyResource>;
  readonly #pods: WatchedCollection<PodObject>;
  readonly #secrets = new Map<string, WatchedCollection<SecretObject>>();
  /** Pods with a connected sidecar that the label watch did not (yet) show. */
  readonly #extraPods = new Map<string, PodObject>();
  readonly #elector: LeaderElector;
  readonly #reviewer: TokenReviewer;
  readonly #status: StatusWriter;
  readonly #events: EventRecorder;
  readonly #alerts = new Map<string, AlertDispatcher>();
  readonly #circuitStates = new Map<string, Map<string, PolicyCircuitState>>();
  #result: ReconcileResult | undefined;
  #lastGood: ReadonlyMap<string, LastGood> = new Map();
  #timer: NodeJS.Timeout | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #changeSeenAtWallMs = 0;
  #delivery: FastifyInstance | undefined;
  #admin: FastifyInstance | undefined;
  #webhook: FastifyInstance | undefined;
  #stopped = false;

  constructor(options: ControllerOptions) {
    this.#o = options;
    const { clients, logger, clock } = options;
    this.metrics = new ControllerMetrics({
      collectProcessMetrics: options.collectProcessMetrics ?? true,
    });
    this.hub = new SidecarHub({
      clock,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    });
    this.#policies = new WatchedCollection<PolicyResource>({
      name: 'aicircuitpolicies',
      transport: clients.transport,
      path: policyCollectionPath(),
      logger,
    });
    this.#pods = new WatchedCollection<PodObject>({
      name: 'pods',
      transport: clients.transport,
      path: podCollectionPath(),
      labelSelector: `${INJECTED_LABEL}=true`,
      logger,
    });
    this.#elector = new LeaderElector({
      leases: clients.coordination,
      namespace: options.leaseNamespace,
      name: options.leaseName ?? 'aicb-controller',
      identity: options.identity,
      ...(options.leaseDurationMs === undefined
        ? {}
        : { leaseDurationMs: options.leaseDurationMs }),
      ...(options.renewDeadlineMs === undefined
        ? {}
        : { renewDeadlineMs: options.renewDeadlineMs }),
      ...(options.retryPeriodMs === undefined ? {} : { retryPeriodMs: options.retryPeriodMs }),
      logger,
    });
    const gate = () => this.#elector.isLeader;
    this.#reviewer = new TokenReviewer({ api: clients.authentication, logger });
    this.#status = new StatusWriter({ api: clients.customObjects, gate, logger });
    this.#events = new EventRecorder({
      api: clients.core,
      instance: options.identity,
      gate,
      logger,
    });
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  /** Starts watching, electing and serving; resolves once both servers listen. */
  async start(): Promise<{
    deliveryUrl: string;
    adminUrl: string;
    webhookUrl: string | undefined;
  }> {
    const { logger } = this.#o;
    this.#policies.onChange(() => {
      this.#syncSecretCollections();
      this.#schedule();
    });
    this.#pods.onChange(() => {
      this.#schedule();
    });
    this.hub.events.subscribe((e) => {
      this.metrics.streamClients.set(this.hub.size);
      switch (e.kind) {
        case 'connected':
          return;
        case 'disconnected':
          this.#extraPods.delete(e.session.pod);
          this.#scheduleStatus();
          return;
        case 'ack':
          this.metrics.acks.inc({ result: e.ack.accepted ? 'accepted' : 'rejected' });
          if (e.propagationMs !== undefined)
            this.metrics.propagation.observe(e.propagationMs / 1000);
          if (!e.ack.accepted)
            logger.warn(
              { pod: e.session.pod, problems: e.ack.problems },
              'sidecar rejected its policy',
            );
          this.#scheduleStatus();
          return;
        case 'report':
          this.#onReport(e.session, e.report);
          this.#scheduleStatus();
          return;
      }
    });
    this.#elector.onStartedLeading(() => {
      logger.info({ identity: this.#o.identity }, 'leading: serving sidecars and writing status');
      this.metrics.leader.set(1);
      void this.#labelSelf(true).then(() => this.#clearStaleLeaderLabels());
      // Take the circuit picture as it is, without alerting for what happened before us.
      this.#circuitStates.clear();
      this.#scheduleStatus();
    });
    this.#elector.onStoppedLeading((reason) => {
      logger.warn({ reason }, 'no longer leading: closing sidecar streams');
      this.metrics.leader.set(0);
      this.hub.closeAll();
      void this.#labelSelf(false);
    });
    this.#policies.start();
    this.#pods.start();
    // A restarted replica may still carry the label from an earlier leadership.
    await this.#labelSelf(false);
    this.#elector.start();

    this.#delivery = buildDeliveryServer({
      hub: this.hub,
      review: (token) => this.#reviewer.review(token),
      podUid: (namespace, name) => this.#podUid(namespace, name),
      serving: () => this.#elector.isLeader && !this.#stopped,
      onConnected: (pod) => {
        this.#onConnected(pod);
      },
      metrics: this.metrics,
      logger,
      ...(this.#o.delivery.https === undefined ? {} : { https: this.#o.delivery.https }),
    });
    this.#admin = this.#buildAdmin();
    const deliveryUrl = await this.#delivery.listen({
      host: this.#o.delivery.host,
      port: this.#o.delivery.port,
    });
    const adminUrl = await this.#admin.listen({
      host: this.#o.admin.host,
      port: this.#o.admin.port,
    });
    let webhookUrl: string | undefined;
    const webhook = this.#o.webhook;
    if (webhook !== undefined) {
      this.#webhook = buildWebhookServer({
        config: () => webhook.config,
        policyFor: (namespace, labels) => this.#policyFor(namespace, labels),
        logger,
        onInjected: (result) => {
          this.metrics.injections.inc({ result });
        },
        ...(webhook.https === undefined ? {} : { https: webhook.https }),
      });
      webhookUrl = await this.#webhook.listen({ host: webhook.host, port: webhook.port });
    }
    return { deliveryUrl, adminUrl, webhookUrl };
  }

  /**
   * Swaps the serving certificate of the delivery and webhook endpoints without a restart
   * (cert-manager renews the Secret in place; the mounted files change under us).
   */
  reloadTls(tls: { readonly cert: string; readonly key: string }): void {
    for (const app of [this.#delivery, this.#webhook]) {
      const server = app?.server as { setSecureContext?: (options: object) => void } | undefined;
      server?.setSecureContext?.({ cert: tls.cert, key: tls.key });
    }
    this.#o.logger.info('serving certificate reloaded');
  }

  /** Stops serving; with `release`, hands the lease over at once (graceful shutdown). */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#statusTimer !== undefined) clearTimeout(this.#statusTimer);
    this.hub.closeAll();
    if (options.release ?? true) await this.#elector.release();
    else await this.#elector.stop();
    await this.#status.flush().catch(() => undefined);
    await this.#status.stop();
    await Promise.all([
      this.#policies.stop(),
      this.#pods.stop(),
      ...[...this.#secrets.values()].map((c) => c.stop()),
    ]);
    await Promise.all([...this.#alerts.values()].map((d) => d.close({ deadlineMs: 2000 })));
    await this.#delivery?.close();
    await this.#admin?.close();
    await this.#webhook?.close();
  }

  #schedule(): void {
    if (this.#changeSeenAtWallMs === 0) this.#changeSeenAtWallMs = this.#o.clock.wallMs();
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reconcile();
    }, this.#o.reconcileDebounceMs ?? 50);
  }

  #scheduleStatus(): void {
    if (this.#statusTimer !== undefined || this.#stopped) return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      this.#writeStatus();
    }, 200);
  }

  #reconcile(): void {
    const started = performance.now();
    const changedAt = this.#changeSeenAtWallMs || this.#o.clock.wallMs();
    this.#changeSeenAtWallMs = 0;
    try {
      const pods = new Map<string, PodObject>();
      for (const pod of [...this.#pods.list(), ...this.#extraPods.values()]) {
        pods.set(objectKey(pod.metadata.namespace ?? '', pod.metadata.name), pod);
      }
      const result = reconcile({
        policies: this.#policies.list().map((p) => ({
          namespace: p.metadata.namespace ?? '',
          name: p.metadata.name,
          generation: p.metadata.generation ?? 0,
          creationTimestamp: p.metadata.creationTimestamp ?? '',
          raw: p,
        })),
        pods: [...pods.values()].map((p) => ({
          namespace: p.metadata.namespace ?? '',
          name: p.metadata.name,
          labels: p.metadata.labels ?? {},
        })),
        readSecret: (namespace, name, key) => this.#readSecret(namespace, name, key),
        lastGood: this.#lastGood,
      });
      this.#result = result;
      this.#lastGood = result.lastGood;
      for (const session of this.hub.sessions()) {
        const assignment = result.pods.get(session.pod);
        if (
          assignment !== undefined &&
          this.hub.pushSnapshot(session.pod, assignment.snapshot, changedAt)
        ) {
          this.metrics.pushes.inc();
        }
      }
      this.#configureAlerts(result);
      this.metrics.reconciles.inc({ result: 'ok' });
    } catch (error) {
      this.metrics.reconciles.inc({ result: 'error' });
      this.#o.logger.error({ err: error }, 'reconcile failed; will retry on the next change');
    }
    this.metrics.reconcileDuration.observe((performance.now() - started) / 1000);
    this.#scheduleStatus();
  }

  #onConnected(pod: string): void {
    const assignment = this.#result?.pods.get(pod);
    if (assignment !== undefined) {
      if (this.hub.pushSnapshot(pod, assignment.snapshot, this.#o.clock.wallMs()))
        this.metrics.pushes.inc();
      return;
    }
    // A pod the label watch has not shown yet (or without the label): reconcile with it.
    this.#schedule();
  }

  async #podUid(namespace: string, name: string): Promise<string | undefined> {
    const cached = this.#pods.get(namespace, name);
    if (cached !== undefined) return cached.metadata.uid ?? '';
    try {
      const pod = (await this.#o.clients.core.readNamespacedPod({
        namespace,
        name,
      })) as unknown as PodObject;
      this.#extraPods.set(objectKey(namespace, name), {
        metadata: {
          name,
          namespace,
          ...(pod.metadata.uid === undefined ? {} : { uid: pod.metadata.uid }),
          ...(pod.metadata.labels === undefined ? {} : { labels: pod.metadata.labels }),
        },
      });
      return pod.metadata.uid ?? '';
    } catch {
      return undefined;
    }
  }

  /**
   * For the injector: the upstreams of the accepted policy that would govern a new pod with
   * these labels (the oldest matching one, as reconcile decides), so its SDK variables point
   * at the right upstreams.
   */
  #policyFor(
    namespace: string,
    labels: Readonly<Record<string, string>>,
  ): { upstreams: PolicyUpstream[]; defaultUpstream: string } | undefined {
    const candidates = this.#policies
      .list()
      .filter((p) => p.metadata.namespace === namespace)
      .sort(
        (a, b) =>
          (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
          a.metadata.name.localeCompare(b.metadata.name),
      );
    for (const p of candidates) {
      const good = this.#lastGood.get(objectKey(namespace, p.metadata.name));
      if (good === undefined || !selectorMatches(good.policy.spec.podSelector, labels)) continue;
      return {
        upstreams: good.snapshot.upstreams.map((u) => ({ name: u.name, provider: u.provider })),
        defaultUpstream: good.snapshot.defaultUpstream,
      };
    }
    return undefined;
  }

  /** Sets or clears the leader label on this replica's pod; failures are logged, not fatal. */
  async #labelSelf(leader: boolean): Promise<void> {
    const self = this.#o.self;
    if (self === undefined) return;
    try {
      await this.#setLeaderLabel(self.namespace, self.podName, leader);
    } catch (error) {
      this.#o.logger.warn(
        { err: error, leader },
        'could not update the leader label on this pod; sidecars may reach a standby and retry',
      );
    }
  }

  /**
   * A replica that crashed while leading keeps its label until its pod is deleted or its process
   * restarts, and the delivery Service keeps sending sidecars there meanwhile. The new leader
   * clears the label from every other pod, so the Service selects only the leader.
   */
  async #clearStaleLeaderLabels(): Promise<void> {
    const self = this.#o.self;
    if (self === undefined || !this.#elector.isLeader) return;
    try {
      const pods = await this.#o.clients.core.listNamespacedPod({
        namespace: self.namespace,
        labelSelector: `${LEADER_LABEL}=true`,
      });
      for (const pod of pods.items) {
        const name = pod.metadata?.name;
        if (name === undefined || name === self.podName) continue;
        await this.#setLeaderLabel(self.namespace, name, false);
        this.#o.logger.info({ pod: name }, 'cleared a former leader label');
      }
    } catch (error) {
      this.#o.logger.warn(
        { err: error },
        'could not clear the leader label of a former leader; sidecars may reach it and retry',
      );
    }
  }

  async #setLeaderLabel(namespace: string, name: string, leader: boolean): Promise<void> {
    await this.#o.clients.core.patchNamespacedPod(
      {
        namespace,
        name,
        body: { metadata: { labels: { [LEADER_LABEL]: leader ? 'true' : null } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  #readSecret(namespace: string, name: string, key: string): string | undefined {
    const value = this.#secrets.get(namespace)?.get(namespace, name)?.data?.[key];
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  }

  /** One Secret watch per namespace that has policies: policies read only their own namespace. */
  #syncSecretCollections(): void {
    const namespaces = new Set(this.#policies.list().map((p) => p.metadata.namespace ?? ''));
    for (const namespace of namespaces) {
      if (this.#secrets.has(namespace)) continue;
      const collection = new WatchedCollection<SecretObject>({
        name: `secrets/${namespace}`,
        transport: this.#o.clients.transport,
        path: secretCollectionPath(namespace),
        logger: this.#o.logger,
      });
      collection.onChange(() => {
        this.#schedule();
      });
      collection.start();
      collection.synced.then(
        () => {
          this.#schedule();
        },
        () => undefined,
      );
      this.#secrets.set(namespace, collection);
    }
    for (const [namespace, collection] of this.#secrets) {
      if (namespaces.has(namespace)) continue;
      this.#secrets.delete(namespace);
      void collection.stop();
    }
  }

  /** Sessions of the pods a policy governs. */
  #sessionsOf(policyKey: string): SidecarSession[] {
    const result = this.#result;
    if (result === undefined) return [];
    return this.hub.sessions().filter((s) => result.pods.get(s.pod)?.policy === policyKey);
  }

  #writeStatus(): void {
    const result = this.#result;
    if (result === undefined || !this.#elector.isLeader) return;
    const now = this.#o.clock.wallMs();
    for (const [key, verdict] of result.policies) {
      const [namespace = '', name = ''] = key.split('/');
      const object = this.#policies.get(namespace, name);
      if (object === undefined) continue;
      // A namespace whose Secrets are not listed yet would read as "Secret not found".
      if (this.#secrets.get(namespace)?.health().synced === false) continue;
      const snapshot = verdict.accepted ? verdict.snapshot : verdict.lastGood;
      const sessions = this.#sessionsOf(key);
      const status = computePolicyStatus({
        verdict,
        upstreams: snapshot?.upstreams.map((u) => u.name) ?? [],
        sessions,
        expectedHash: snapshot?.hash,
        nowWallMs: now,
      });
      void this.#status.write({ namespace, name }, status, object.status);
      this.#policyTransitions(key, object, sessions);
    }
  }

  /** Events and alerts when a circuit opens in the first sidecar or closes in the last one. */
  #policyTransitions(
    key: string,
    object: PolicyResource,
    sessions: readonly SidecarSession[],
  ): void {
    const previous = this.#circuitStates.get(key);
    const next = new Map<string, PolicyCircuitState>();
    const now = this.#o.clock.wallMs();
    for (const c of aggregateCircuits(sessions)) {
      const id = `${c.upstream}/${c.endpoint}`;
      const open = c.openSidecars > 0;
      const before = previous?.get(id);
      next.set(id, {
        open,
        sinceWallMs: before?.open === open ? before.sinceWallMs : now,
      });
      if (previous === undefined || (before?.open ?? false) === open) continue;
      const subject = policySubject(object);
      if (open) {
        this.#events.record(subject, {
          type: 'Warning',
          reason: 'CircuitOpened',
          message: `Circuit ${id} opened in ${c.openSidecars} of ${sessions.length} sidecars`,
        });
        this.#alert(
          key,
          'opened',
          c.upstream,
          c.endpoint,
          'closed',
          'open',
          sessions.length,
          c.openSidecars,
          undefined,
        );
      } else {
        this.#events.record(subject, {
          type: 'Normal',
          reason: 'CircuitClosed',
          message: `Circuit ${id} closed in every sidecar`,
        });
        this.#alert(
          key,
          'closed',
          c.upstream,
          c.endpoint,
          'open',
          'closed',
          sessions.length,
          0,
          before === undefined ? undefined : now - before.sinceWallMs,
        );
      }
    }
    this.#circuitStates.set(key, next);
  }

  #alert(
    policyKey: string,
    event: AlertEventKind,
    upstream: string,
    endpoint: string,
    fromState: string,
    toState: string,
    sidecars: number,
    openSidecars: number,
    outageDurationMs: number | undefined,
  ): void {
    const [namespace = '', name = ''] = policyKey.split('/');
    this.#alerts.get(policyKey)?.enqueue({
      event,
      policy: { namespace, name },
      upstream,
      endpoint,
      fromState,
      toState,
      reason: event === 'opened' ? 'circuit_opened_in_fleet' : 'circuit_closed_in_fleet',
      counts: { sidecars, openSidecars },
      ...(outageDurationMs === undefined ? {} : { outageDurationMs }),
      at: new Date(this.#o.clock.wallMs()).toISOString(),
      source: { kind: 'controller', id: this.#o.identity },
    });
  }

  #configureAlerts(result: ReconcileResult): void {
    for (const [key, verdict] of result.policies) {
      const snapshot = verdict.accepted ? verdict.snapshot : verdict.lastGood;
      if (snapshot === undefined) continue;
      let dispatcher = this.#alerts.get(key);
      if (dispatcher === undefined) {
        dispatcher = new AlertDispatcher({ logger: this.#o.logger, clock: this.#o.clock });
        this.#alerts.set(key, dispatcher);
      }
      const { targets } = alertTargetsOf(snapshot.alerting, (ref) => this.#resolveAlertUrl(ref));
      dispatcher.configure({
        on: snapshot.alerting.on,
        dedupWindowMs: snapshot.alerting.dedupWindowMs,
        targets,
      });
    }
    for (const [key, dispatcher] of this.#alerts) {
      if (result.policies.has(key)) continue;
      this.#alerts.delete(key);
      void dispatcher.close({ deadlineMs: 1000 });
    }
  }

  /** Alert URLs: Secrets arrive resolved in the snapshot; `env` means the controller's own env. */
  #resolveAlertUrl(ref: CredentialRef): string | null {
    switch (ref.source) {
      case 'value':
        return ref.value;
      case 'env':
        return this.#o.env?.[ref.name] ?? null;
      case 'file':
      case 'secret':
        return null;
    }
  }

  /** Shared fleet mode: a circuit that opened in one sidecar opens in every sidecar of the policy. */
  #onReport(session: SidecarSession, report: Report): void {
    const assignment = this.#result?.pods.get(session.pod);
    if (assignment?.snapshot.fleet.mode !== 'shared') return;
    for (const t of report.transitions) {
      if (t.to !== 'open' || t.openForMs === null || t.reason === 'manual') continue;
      const pods = this.hub
        .sessions()
        .filter(
          (s) =>
            s.pod !== session.pod && this.#result?.pods.get(s.pod)?.policy === assignment.policy,
        )
        .map((s) => s.pod);
      const sent = this.hub.pushFleet(pods, {
        key: t.key,
        openForMs: Math.max(1, Math.round(t.openForMs - (this.#o.clock.wallMs() - t.atWallMs))),
        origin: session.pod,
        policyHash: assignment.snapshot.hash,
      });
      this.metrics.fleetPushes.inc(sent);
      if (sent > 0)
        this.#o.logger.info(
          { key: t.key, origin: session.pod, sidecars: sent },
          'shared fleet: circuit opened everywhere',
        );
    }
  }

  #buildAdmin(): FastifyInstance {
    const admin = fastify({ logger: false });
    admin.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
    admin.get('/readyz', (_request, reply) => {
      // Every replica that has listed the policies is ready: all serve the webhook, and the
      // delivery Service selects the leader by its label instead (ADR 0004).
      if (!this.#policies.health().synced) return reply.code(503).send({ status: 'syncing' });
      return reply.send({
        status: this.#elector.isLeader ? 'leader' : 'standby',
        sidecars: this.hub.size,
      });
    });
    admin.get('/metrics', async (_request, reply) => {
      const text = await this.metrics.registry.metrics();
      return reply.type(this.metrics.registry.contentType).send(text);
    });
    return admin;
  }
}
