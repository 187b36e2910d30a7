/**
 * The mutating admission webhook (POST /mutate-pods, AdmissionReview v1) served by every
 * controller replica on its own port. It never fails a pod creation: anything unexpected is
 * answered "allowed, unchanged" and logged, and the webhook configuration's failurePolicy
 * (Ignore by default) covers a webhook that cannot be reached at all.
 */
import fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../../shared/create-logger.ts';
import {
  injectSidecar,
  type InjectorConfig,
  type PodJson,
  type PolicyUpstream,
} from './inject-sidecar.ts';

export const WEBHOOK_PATH = '/mutate-pods';

interface AdmissionRequest {
  readonly uid?: string;
  readonly namespace?: string;
  readonly operation?: string;
  readonly dryRun?: boolean;
  readonly object?: PodJson;
}

export interface WebhookOptions {
  readonly config: () => InjectorConfig | undefined;
  /** Upstreams of the policy that would govern a pod with these labels in this namespace. */
  readonly policyFor: (
    namespace: string,
    labels: Readonly<Record<string, string>>,
  ) =>
    { readonly upstreams: readonly PolicyUpstream[]; readonly defaultUpstream: string } | undefined;
  readonly logger: Logger;
  readonly https?: { readonly key: string; readonly cert: string };
  readonly onInjected?: (result: 'injected' | 'skipped' | 'error') => void;
}

export function buildWebhookServer(options: WebhookOptions): FastifyInstance {
  const app: FastifyInstance =
    options.https === undefined
      ? fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 })
      : fastify({
          logger: false,
          bodyLimit: 8 * 1024 * 1024,
          https: options.https,
        });
  app.post(WEBHOOK_PATH, (request, reply) => {
    const review = request.body as { apiVersion?: string; request?: AdmissionRequest } | undefined;
    const req = review?.request;
    const uid = req?.uid ?? '';
    const allow = (patch?: unknown) =>
      reply.send({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid,
          allowed: true,
          ...(patch === undefined
            ? {}
            : {
                patchType: 'JSONPatch',
                patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
              }),
        },
      });
    try {
      const config = options.config();
      const pod = req?.object;
      const namespace = req?.namespace ?? pod?.metadata?.namespace ?? '';
      if (config === undefined || pod === undefined || req?.operation !== 'CREATE') return allow();
      const governing = options.policyFor(namespace, pod.metadata?.labels ?? {});
      const result = injectSidecar(
        pod,
        namespace,
        config,
        governing?.upstreams ?? [],
        governing?.defaultUpstream,
      );
      const name = pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`;
      if (!result.injected) {
        options.onInjected?.('skipped');
        options.logger.debug(
          { namespace, pod: name, reason: result.reason },
          'sidecar not injected',
        );
        return allow();
      }
      options.onInjected?.('injected');
      // Dry runs get the same answer: the mutation has no side effects to hold back.
      options.logger.info(
        { namespace, pod: name, env: Object.keys(result.env), dryRun: req.dryRun === true },
        'sidecar injected',
      );
      return allow(result.patch);
    } catch (error) {
      options.onInjected?.('error');
      options.logger.error({ err: error }, 'injection failed; admitting the pod unchanged');
      return allow();
    }
  });
  return app;
}
