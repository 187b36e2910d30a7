/**
 * `aicb controller`: the control plane. Reads the environment and flags once, builds the
 * Kubernetes clients and runs the Controller until SIGTERM.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import {
  buildController,
  type Controller,
  type ControllerOptions,
} from '../controlplane/build-controller.ts';
import { parseInjectorConfig } from '../controlplane/injector/injector-config.ts';
import type { InjectorConfig } from '../controlplane/injector/inject-sidecar.ts';
import { createKubeClients, loadKubeConfig } from '../controlplane/kube/kube-client.ts';
import { systemClock } from '../shared/clock.ts';
import { createLogger } from '../shared/create-logger.ts';
import type { CommandIo } from './command-io.ts';

export const CONTROLLER_USAGE = `Usage: aicb controller [options]

  --kubeconfig PATH        kubeconfig to use (default: in-cluster, else $KUBECONFIG or ~/.kube/config)
  --listen HOST:PORT       sidecar delivery endpoint (default 0.0.0.0:15402)
  --admin-listen HOST:PORT health and metrics (default 0.0.0.0:15403)
  --tls-cert-file PATH     certificate for the delivery endpoint (HTTPS); without it, plain HTTP
  --tls-key-file PATH      its private key
  --webhook-listen HOST:PORT  serve the sidecar injector (mutating webhook, HTTPS with the TLS flags)
  --injector-config PATH   injector settings (JSON: image, controllerUrl, caBundle, resources, ...)
  --tls-ca-file PATH       CA of the certificate, handed to injected sidecars when the injector
                           config has no caBundle (cert-manager mode)
  --identity NAME          this replica's name for the lease and Events (default $POD_NAME or the host name)
  --lease-namespace NS     namespace of the leader Lease (default $POD_NAMESPACE or aicb-system)
  --lease-name NAME        name of the leader Lease (default aicb-controller)
  --secret-namespaces LIST read Secrets only in these namespaces (comma-separated; default: all)
  --log-level LEVEL        trace, debug, info, warn, error (default info, env AICB_LOG_LEVEL)
`;

export interface RunningController {
  readonly controller: Controller;
  readonly deliveryUrl: string;
  readonly adminUrl: string;
  stop(): Promise<void>;
}

export async function runController(
  args: readonly string[],
  io: CommandIo,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RunningController | number> {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        kubeconfig: { type: 'string' },
        listen: { type: 'string' },
        'admin-listen': { type: 'string' },
        'tls-cert-file': { type: 'string' },
        'tls-key-file': { type: 'string' },
        'tls-ca-file': { type: 'string' },
        'webhook-listen': { type: 'string' },
        'injector-config': { type: 'string' },
        identity: { type: 'string' },
        'lease-namespace': { type: 'string' },
        'lease-name': { type: 'string' },
        'lease-duration-ms': { type: 'string' },
        'secret-namespaces': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    io.err(`aicb controller: ${(error as Error).message}\n\n${CONTROLLER_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(CONTROLLER_USAGE);
    return 0;
  }
  const delivery = hostPort(values.listen ?? '0.0.0.0:15402');
  const admin = hostPort(values['admin-listen'] ?? '0.0.0.0:15403');
  if (delivery === undefined || admin === undefined) {
    io.err('aicb controller: --listen and --admin-listen take HOST:PORT\n');
    return 2;
  }
  const certFile = values['tls-cert-file'];
  const keyFile = values['tls-key-file'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    io.err('aicb controller: --tls-cert-file and --tls-key-file go together\n');
    return 2;
  }
  const logger = createLogger({
    level: values['log-level'] ?? env.AICB_LOG_LEVEL ?? 'info',
    name: 'aicb-controller',
  });
  let clients;
  try {
    const { kubeConfig, origin } = loadKubeConfig({
      ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
      ...(env.KUBERNETES_SERVICE_HOST === undefined
        ? {}
        : { serviceHost: env.KUBERNETES_SERVICE_HOST }),
    });
    logger.info({ origin }, 'kubernetes credentials loaded');
    clients = createKubeClients(kubeConfig);
  } catch (error) {
    io.err(`aicb controller: cannot load Kubernetes credentials: ${(error as Error).message}\n`);
    return 1;
  }
  if (certFile === undefined) {
    logger.warn(
      'no --tls-cert-file: the delivery endpoint serves plain HTTP (acceptable only on a trusted network)',
    );
  }
  let webhook: ControllerOptions['webhook'];
  if (values['webhook-listen'] !== undefined) {
    const listen = hostPort(values['webhook-listen']);
    const configFile = values['injector-config'];
    if (listen === undefined || configFile === undefined) {
      io.err('aicb controller: --webhook-listen takes HOST:PORT and needs --injector-config\n');
      return 2;
    }
    let config: InjectorConfig;
    try {
      config = parseInjectorConfig(readFileSync(configFile, 'utf8'));
    } catch (error) {
      io.err(`aicb controller: ${configFile}: ${(error as Error).message}\n`);
      return 2;
    }
    const caFile = values['tls-ca-file'];
    if (config.caBundle === '' && caFile !== undefined)
      config = { ...config, caBundle: readFileSync(caFile, 'utf8') };
    webhook = {
      ...listen,
      config,
      ...(certFile === undefined || keyFile === undefined
        ? {}
        : { https: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } }),
    };
  }
  const secretNamespaces = values['secret-namespaces']
    ?.split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (secretNamespaces?.length === 0) {
    io.err('aicb controller: --secret-namespaces needs at least one namespace\n');
    return 2;
  }
  const leaseDurationMs =
    values['lease-duration-ms'] === undefined ? undefined : Number(values['lease-duration-ms']);
  const controller = buildController({
    clients,
    logger,
    clock: systemClock,
    identity: values.identity ?? env.POD_NAME ?? hostname(),
    leaseNamespace: values['lease-namespace'] ?? env.POD_NAMESPACE ?? 'aicb-system',
    ...(values['lease-name'] === undefined ? {} : { leaseName: values['lease-name'] }),
    ...(leaseDurationMs === undefined
      ? {}
      : {
          leaseDurationMs,
          renewDeadlineMs: Math.round((leaseDurationMs * 2) / 3),
          retryPeriodMs: Math.max(200, Math.round(leaseDurationMs / 7)),
        }),
    delivery: {
      ...delivery,
      ...(certFile === undefined || keyFile === undefined
        ? {}
        : { https: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } }),
    },
    admin,
    ...(webhook === undefined ? {} : { webhook }),
    // In a pod (downward API): the leader labels itself for the delivery Service.
    ...(env.POD_NAME === undefined || env.POD_NAMESPACE === undefined
      ? {}
      : { self: { namespace: env.POD_NAMESPACE, podName: env.POD_NAME } }),
    ...(secretNamespaces === undefined ? {} : { secretNamespaces }),
    env,
  });
  await controller.start();
  const { deliveryUrl, adminUrl } = await controller.listen();
  // Renewed certificates (cert-manager) replace the mounted files; pick them up without a restart.
  const reloadTls = () => {
    if (certFile === undefined || keyFile === undefined) return;
    try {
      controller.reloadTls({
        cert: readFileSync(certFile, 'utf8'),
        key: readFileSync(keyFile, 'utf8'),
      });
    } catch (error) {
      logger.error(
        { err: error },
        'could not reload the serving certificate; keeping the current one',
      );
    }
  };
  if (certFile !== undefined)
    watchFile(certFile, { interval: 30_000, persistent: false }, reloadTls);
  logger.info({ delivery: deliveryUrl, admin: adminUrl }, 'controller listening');
  return {
    controller,
    deliveryUrl,
    adminUrl,
    async stop() {
      if (certFile !== undefined) unwatchFile(certFile, reloadTls);
      await controller.stop({ release: true });
      logger.info('controller stopped');
      logger.flush();
    },
  };
}

function hostPort(text: string): { host: string; port: number } | undefined {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(port) || port < 0 || port > 65535) return undefined;
  return { host: text.slice(0, at), port };
}
