/**
 * Where the controller's Kubernetes credentials come from, and the API clients built on them.
 * The entry point resolves flags and environment and passes them in (only entry files read
 * `process.env`); everything else in the control plane receives these clients.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import {
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  KubeConfig,
  RequestContext,
  Watch,
} from '@kubernetes/client-node';
import { fetch } from 'undici';
import { parseJsonObject } from '../../shared/json-object.ts';
import { KubeHttpError } from './api-errors.ts';
import type { CollectionTransport, ListPage, ListQuery } from './watched-collection.ts';

/** The service account token every pod gets mounted; its presence means "running in a pod". */
export const IN_CLUSTER_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** What the entry point knows about where credentials are. */
export interface KubeConfigSource {
  /** `--kubeconfig`, else `$KUBECONFIG` (a path list is merged, first file wins). */
  readonly kubeconfigPath?: string | undefined;
  /** `$KUBERNETES_SERVICE_HOST`, which the kubelet sets in every container. */
  readonly serviceHost?: string | undefined;
  /** Context to use instead of the kubeconfig's current one. */
  readonly context?: string | undefined;
}

/** How the configuration was found, for the startup log line. */
export type KubeConfigOrigin = 'kubeconfig' | 'in-cluster' | 'default';

/**
 * Loads credentials in controller-runtime's order: an explicit kubeconfig, else the pod's
 * service account when running in a pod, else `~/.kube/config` (client-node's default chain).
 */
export function loadKubeConfig(source: KubeConfigSource): {
  kubeConfig: KubeConfig;
  origin: KubeConfigOrigin;
} {
  const kubeConfig = new KubeConfig();
  let origin: KubeConfigOrigin;
  const paths = (source.kubeconfigPath ?? '').split(delimiter).filter((p) => p !== '');
  const [first, ...rest] = paths;
  if (first !== undefined) {
    kubeConfig.loadFromFile(first);
    for (const path of rest) {
      const more = new KubeConfig();
      more.loadFromFile(path);
      // Like kubectl: the first file that defines a name wins, and its current-context stays.
      kubeConfig.mergeConfig(more, true);
    }
    origin = 'kubeconfig';
  } else if (source.serviceHost !== undefined && existsSync(IN_CLUSTER_TOKEN_PATH)) {
    // Re-reads the projected token file every minute, so token rotation needs no restart.
    kubeConfig.loadFromCluster();
    origin = 'in-cluster';
  } else {
    kubeConfig.loadFromDefault();
    origin = 'default';
  }
  if (source.context !== undefined) kubeConfig.setCurrentContext(source.context);
  if (kubeConfig.getCurrentCluster() === null) {
    throw new Error(`kubeconfig (${origin}) has no current cluster`);
  }
  return { kubeConfig, origin };
}

/** The API clients the control plane uses, all sharing one configuration. */
export interface KubeClients {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly customObjects: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  readonly authentication: AuthenticationV1Api;
  /** List + watch as plain JSON, for `WatchedCollection`. */
  readonly transport: CollectionTransport;
}

/** Builds every client from one configuration. */
export function createKubeClients(kubeConfig: KubeConfig): KubeClients {
  reuseConnections(kubeConfig);
  const watch = new Watch(kubeConfig);
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    authentication: kubeConfig.makeApiClient(AuthenticationV1Api),
    transport: {
      // The generated clients turn lists into model classes (Date objects, renamed fields) while
      // watch events stay JSON; listing as JSON too keeps one shape in the cache.
      list: (path, query, signal) => listJson(kubeConfig, path, query, signal),
      watch: (path, query, onEvent, onDone) => watch.watch(path, query, onEvent, onDone),
    },
  };
}

/** GET of a collection with the configuration's TLS and credentials, parsed as JSON. */
async function listJson(
  kubeConfig: KubeConfig,
  path: string,
  query: ListQuery,
  signal: AbortSignal,
): Promise<ListPage> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  // Concatenated, not resolved: a server URL may carry a path prefix (API proxies do).
  const url = new URL(cluster.server + path);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const context = new RequestContext(url.toString(), HttpMethod.GET);
  context.setHeaderParam('Accept', 'application/json');
  await kubeConfig.applySecurityAuthentication(context);
  const dispatcher = context.getDispatcher();
  const response = await fetch(url, {
    method: 'GET',
    headers: context.getHeaders(),
    signal,
    ...(dispatcher === undefined ? {} : { dispatcher }),
  });
  const text = await response.text();
  if (!response.ok) throw KubeHttpError.fromBody(response.status, text);
  const body = parseJsonObject(text);
  if (body === undefined) throw new Error(`GET ${path}: the answer is not a JSON object`);
  // The API server's list JSON; the collection checks each item before using it.
  return body;
}

type DispatcherFactory = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

/**
 * client-node 2.0 builds a new connection pool (and a new TLS handshake) for every API call:
 * at 1000 sidecar connects that is 1000 TokenReview pools, over 100 MB of native memory and
 * most of the CPU. One pool per distinct set of TLS material is enough; the key covers the
 * server, CA, client certificate and key, so a rotated credential still gets a fresh pool.
 */
function reuseConnections(kubeConfig: KubeConfig): void {
  const target = kubeConfig as unknown as { createDispatcher?: DispatcherFactory };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return;
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const server = (cluster as { server?: unknown } | null)?.server;
    const material = [
      'ca',
      'cert',
      'key',
      'pfx',
      'passphrase',
      'rejectUnauthorized',
      'servername',
    ].map((k) => describeOption(agentOptions[k]));
    const key = createHash('sha256')
      .update(JSON.stringify([server, ...material]))
      .digest('hex');
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = original.call(kubeConfig, cluster, agentOptions);
      pools.set(key, pool);
    }
    return pool;
  };
}

function describeOption(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
    return String(value);
  }
  return JSON.stringify(value);
}
