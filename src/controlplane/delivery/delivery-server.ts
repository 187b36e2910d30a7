/**
 * The HTTPS endpoint sidecars talk to (sidecar-protocol.ts): a stream per pod, acks and
 * reports. Every request carries the pod's projected ServiceAccount token (audience
 * aicircuit.io), checked with TokenReview and bound to an existing pod, so a sidecar can only
 * ever receive the policy of its own pod's namespace.
 */
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  AckSchema,
  PROTOCOL_PATHS,
  ReportSchema,
  SCHEMA_VERSION_HEADER,
  SNAPSHOT_SCHEMA_VERSION,
} from '../../snapshot/sidecar-protocol.ts';
import type { Logger } from '../../shared/create-logger.ts';
import type { ControllerMetrics } from '../controller-metrics.ts';
import type { TokenReviewResult } from '../kube/token-reviewer.ts';
import type { FoundPod } from './pod-lookup.ts';
import type { SidecarHub } from './sidecar-hub.ts';

export interface DeliveryServerOptions {
  readonly hub: SidecarHub;
  readonly review: (token: string) => Promise<TokenReviewResult>;
  /** The pod if it exists (from the cache or the API server), else undefined. */
  readonly findPod: (namespace: string, name: string) => Promise<FoundPod | undefined>;
  /** False on a standby: streams are refused so sidecars move on to the leader. */
  readonly serving: () => boolean;
  /** Called right after a stream opened, to send the pod its snapshot. */
  readonly onConnected: (pod: string) => void;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly https?: { readonly key: string; readonly cert: string };
}

interface Caller {
  readonly pod: string;
  readonly namespace: string;
}

export function buildDeliveryServer(options: DeliveryServerOptions): FastifyInstance {
  // An https.Server hands handlers the same IncomingMessage/ServerResponse as http.Server;
  // only fastify's type for the raw server differs, so both are used as one type here.
  const app: FastifyInstance =
    options.https === undefined
      ? fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 })
      : fastify({
          logger: false,
          bodyLimit: 4 * 1024 * 1024,
          https: options.https,
        });

  async function authenticate(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<Caller | undefined> {
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const refuse = (status: number, reason: string, message: string) => {
      options.metrics.authFailures.inc({ reason });
      void reply.code(status).send({ error: message });
      return undefined;
    };
    if (token === '') {
      refuse(
        401,
        'no_token',
        'a bearer token (projected ServiceAccount token, audience aicircuit.io) is required',
      );
      return;
    }
    const result = await options.review(token);
    if (!result.authenticated) {
      refuse(result.retryable ? 503 : 401, 'rejected', `token rejected: ${result.reason}`);
      return;
    }
    if (result.podName === undefined) {
      refuse(403, 'not_pod_bound', 'the token is not bound to a pod');
      return;
    }
    const pod = await options.findPod(result.namespace, result.podName);
    if (pod === undefined || (result.podUid !== undefined && pod.uid !== result.podUid)) {
      refuse(403, 'unknown_pod', `pod ${result.namespace}/${result.podName} does not exist`);
      return;
    }
    // A policy carries resolved Secrets: it goes only to sidecars the injector put there, not to
    // any pod that can mint a token for our audience.
    if (!pod.injected) {
      refuse(
        403,
        'not_injected',
        `pod ${result.namespace}/${result.podName} is not labelled aicircuit.io/injected=true`,
      );
      return;
    }
    return { pod: `${result.namespace}/${result.podName}`, namespace: result.namespace };
  }

  app.get(PROTOCOL_PATHS.stream, async (request, reply) => {
    if (!options.serving())
      return reply.code(503).send({ error: 'this controller replica is a standby; try another' });
    const version = request.headers[SCHEMA_VERSION_HEADER];
    if (version !== String(SNAPSHOT_SCHEMA_VERSION)) {
      return reply.code(409).send({
        error: `snapshot schema ${String(version)} is not served here (this controller sends ${SNAPSHOT_SCHEMA_VERSION})`,
      });
    }
    const caller = await authenticate(request, reply);
    if (caller === undefined) return reply;
    reply.hijack();
    options.hub.attach(caller.pod, caller.namespace, reply.raw);
    options.logger.info({ pod: caller.pod }, 'sidecar connected');
    options.onConnected(caller.pod);
    return reply;
  });

  app.post(PROTOCOL_PATHS.ack, async (request, reply) => {
    const caller = await authenticate(request, reply);
    if (caller === undefined) return reply;
    const ack = AckSchema.safeParse(request.body);
    if (!ack.success) return reply.code(400).send({ error: 'malformed ack' });
    if (!options.hub.acknowledge(caller.pod, ack.data))
      return reply.code(409).send({ error: 'no stream open for this pod' });
    return reply.code(204).send();
  });

  app.post(PROTOCOL_PATHS.report, async (request, reply) => {
    const caller = await authenticate(request, reply);
    if (caller === undefined) return reply;
    const report = ReportSchema.safeParse(request.body);
    if (!report.success) return reply.code(400).send({ error: 'malformed report' });
    if (!options.hub.report(caller.pod, report.data))
      return reply.code(409).send({ error: 'no stream open for this pod' });
    return reply.code(204).send();
  });

  return app;
}
