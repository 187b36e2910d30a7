/**
 * The controller's admin endpoint (port 15403): liveness, readiness and Prometheus metrics.
 * Built, never listened here, so tests can `inject()`.
 */
import fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface AdminServerOptions {
  readonly registry: Registry;
  /** Policies listed: every replica is Ready then, leader or not (ADR 0004). */
  readonly synced: () => boolean;
  readonly isLeader: () => boolean;
  /** Sidecars connected to this replica. */
  readonly sidecars: () => number;
}

export function buildAdminServer(options: AdminServerOptions): FastifyInstance {
  const admin = fastify({ logger: false });
  admin.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  admin.get('/readyz', (_request, reply) => {
    // Every replica that has listed the policies is ready: all serve the webhook, and the
    // delivery Service selects the leader by its label instead (ADR 0004).
    if (!options.synced()) return reply.code(503).send({ status: 'syncing' });
    return reply.send({
      status: options.isLeader() ? 'leader' : 'standby',
      sidecars: options.sidecars(),
    });
  });
  admin.get('/metrics', async (_request, reply) => {
    const text = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(text);
  });
  return admin;
}
