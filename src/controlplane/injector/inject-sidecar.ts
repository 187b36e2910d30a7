/**
 * The sidecar injection itself, as a pure function from a pod (as the API server sends it to
 * the mutating webhook) to a JSON patch: a native sidecar (an init container with
 * `restartPolicy: Always`, so it starts before the app and stops after it), the projected
 * ServiceAccount token it authenticates with, an emptyDir for its last good policy, and the
 * base-URL environment variables that route the app's SDKs through it. Idempotent: a pod that
 * already has the sidecar is left alone, so reinvocation never injects twice.
 */
import type { Provider } from '../../policy/policy-schema.ts';

export const SIDECAR_CONTAINER = 'aicb-sidecar';
export const INJECTED_LABEL = 'aicircuit.io/injected';
export const INJECT_LABEL = 'aicircuit.io/inject';
export const STATUS_ANNOTATION = 'aicircuit.io/status';
export const TOKEN_AUDIENCE = 'aicircuit.io';
export const TOKEN_DIR = '/var/run/secrets/aicircuit.io';
export const STATE_DIR = '/var/run/aicb';
const TOKEN_VOLUME = 'aicb-token';
const STATE_VOLUME = 'aicb-state';
const PROXY_PORT = 15400;
const ADMIN_PORT = 15401;

/** What the chart configures (ConfigMap `<release>-injector`, key config.json). */
export interface InjectorConfig {
  readonly image: string;
  readonly imagePullPolicy: string;
  /** The controller's delivery endpoint, e.g. https://ai-circuit-breaker-controller.aicb-system.svc:15402 */
  readonly controllerUrl: string;
  /** PEM of the CA that signed the controller's certificate (delivered to sidecars as env). */
  readonly caBundle: string;
  readonly resources: Record<string, unknown>;
  readonly excludedNamespaces: readonly string[];
  readonly nodeOptions: string;
  readonly logLevel: string;
}

/** The parts of a Pod the injector reads (JSON as in the AdmissionReview). */
export interface PodJson {
  readonly metadata?: {
    readonly name?: string;
    readonly generateName?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly containers?: readonly ContainerJson[];
    readonly initContainers?: readonly ContainerJson[];
    readonly volumes?: readonly { readonly name: string }[];
  };
}

interface ContainerJson {
  readonly name: string;
  readonly env?: readonly { readonly name: string }[];
}

export interface JsonPatchOp {
  readonly op: 'add' | 'replace';
  readonly path: string;
  readonly value: unknown;
}

/** An upstream of the policy that governs the pod, for the base-URL variables. */
export interface PolicyUpstream {
  readonly name: string;
  readonly provider: Provider;
}

export type InjectionResult =
  | {
      readonly injected: true;
      readonly patch: readonly JsonPatchOp[];
      readonly env: Readonly<Record<string, string>>;
    }
  | { readonly injected: false; readonly reason: string };

/** Recorded on the pod so operators (and reinvocations) can see what was injected. */
export interface InjectionStatus {
  readonly version: 1;
  readonly sidecar: string;
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
}

export function injectSidecar(
  pod: PodJson,
  namespace: string,
  config: InjectorConfig,
  upstreams: readonly PolicyUpstream[],
  defaultUpstream: string | undefined,
): InjectionResult {
  if (config.excludedNamespaces.includes(namespace)) {
    return { injected: false, reason: `namespace ${namespace} is excluded from injection` };
  }
  if (pod.metadata?.labels?.[INJECT_LABEL] === 'false') {
    return { injected: false, reason: `the pod opted out (${INJECT_LABEL}=false)` };
  }
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (
    all.some((c) => c.name === SIDECAR_CONTAINER) ||
    pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined
  ) {
    return { injected: false, reason: 'already injected' };
  }

  const baseUrls = baseUrlEnv(upstreams, defaultUpstream);
  const patch: JsonPatchOp[] = [];
  const sidecar = sidecarContainer(config);
  if (pod.spec?.initContainers === undefined) {
    patch.push({ op: 'add', path: '/spec/initContainers', value: [sidecar] });
  } else {
    // First, so it is up before the other init containers and the app.
    patch.push({ op: 'add', path: '/spec/initContainers/0', value: sidecar });
  }
  const volumes = [tokenVolume(), { name: STATE_VOLUME, emptyDir: { sizeLimit: '1Mi' } }];
  if (pod.spec?.volumes === undefined) {
    patch.push({ op: 'add', path: '/spec/volumes', value: volumes });
  } else {
    for (const volume of volumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: volume });
  }
  (pod.spec?.containers ?? []).forEach((container, index) => {
    const present = new Set((container.env ?? []).map((e) => e.name));
    // A variable the app sets itself wins: the operator decided where that SDK goes.
    const added = Object.entries(baseUrls)
      .filter(([name]) => !present.has(name))
      .map(([name, value]) => ({ name, value }));
    if (added.length === 0) return;
    if (container.env === undefined) {
      patch.push({ op: 'add', path: `/spec/containers/${index}/env`, value: added });
    } else {
      for (const entry of added)
        patch.push({ op: 'add', path: `/spec/containers/${index}/env/-`, value: entry });
    }
  });
  const status: InjectionStatus = {
    version: 1,
    sidecar: SIDECAR_CONTAINER,
    image: config.image,
    env: baseUrls,
  };
  if (pod.metadata?.labels === undefined) {
    patch.push({ op: 'add', path: '/metadata/labels', value: { [INJECTED_LABEL]: 'true' } });
  } else {
    patch.push({
      op: 'add',
      path: `/metadata/labels/${escapePointer(INJECTED_LABEL)}`,
      value: 'true',
    });
  }
  if (pod.metadata?.annotations === undefined) {
    patch.push({
      op: 'add',
      path: '/metadata/annotations',
      value: { [STATUS_ANNOTATION]: JSON.stringify(status) },
    });
  } else {
    patch.push({
      op: 'add',
      path: `/metadata/annotations/${escapePointer(STATUS_ANNOTATION)}`,
      value: JSON.stringify(status),
    });
  }
  return { injected: true, patch, env: baseUrls };
}

/**
 * The SDK variables for the policy's upstreams: OpenAI-style SDKs take a base URL with `/v1`,
 * the Anthropic SDK without, Azure OpenAI an endpoint. With several upstreams of one provider,
 * the default upstream wins, then the first declared.
 */
export function baseUrlEnv(
  upstreams: readonly PolicyUpstream[],
  defaultUpstream: string | undefined,
): Partial<Record<'OPENAI_BASE_URL' | 'ANTHROPIC_BASE_URL' | 'AZURE_OPENAI_ENDPOINT', string>> {
  const ordered = [...upstreams].sort(
    (a, b) => Number(b.name === defaultUpstream) - Number(a.name === defaultUpstream),
  );
  const env: Partial<
    Record<'OPENAI_BASE_URL' | 'ANTHROPIC_BASE_URL' | 'AZURE_OPENAI_ENDPOINT', string>
  > = {};
  const base = `http://127.0.0.1:${PROXY_PORT}`;
  for (const u of ordered) {
    switch (u.provider) {
      case 'openai':
      case 'openai-compatible':
        env.OPENAI_BASE_URL ??= `${base}/${u.name}/v1`;
        break;
      case 'anthropic':
        env.ANTHROPIC_BASE_URL ??= `${base}/${u.name}`;
        break;
      case 'azure-openai':
        env.AZURE_OPENAI_ENDPOINT ??= `${base}/${u.name}`;
        break;
    }
  }
  return env;
}

function sidecarContainer(config: InjectorConfig): Record<string, unknown> {
  const probe = (path: string, extra: Record<string, unknown>) => ({
    httpGet: { path, port: ADMIN_PORT },
    ...extra,
  });
  return {
    name: SIDECAR_CONTAINER,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    restartPolicy: 'Always',
    args: [
      'sidecar',
      '--controller',
      config.controllerUrl,
      '--token-file',
      `${TOKEN_DIR}/token`,
      '--state-dir',
      STATE_DIR,
      // Probes and Prometheus reach the admin port from outside the pod; the proxy stays loopback.
      '--admin-host',
      '0.0.0.0',
      '--log-level',
      config.logLevel,
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ...(config.caBundle === '' ? [] : [{ name: 'AICB_CONTROLLER_CA', value: config.caBundle }]),
      ...(config.nodeOptions === '' ? [] : [{ name: 'NODE_OPTIONS', value: config.nodeOptions }]),
    ],
    ports: [{ name: 'aicb-admin', containerPort: ADMIN_PORT, protocol: 'TCP' }],
    // The app starts once the sidecar listens; it is ready once it has a policy.
    startupProbe: probe('/healthz', { periodSeconds: 1, failureThreshold: 30 }),
    readinessProbe: probe('/readyz', { periodSeconds: 5 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10 }),
    resources: config.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      { name: STATE_VOLUME, mountPath: STATE_DIR },
    ],
  };
}

function tokenVolume(): Record<string, unknown> {
  return {
    name: TOKEN_VOLUME,
    projected: {
      sources: [
        {
          serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 3600, path: 'token' },
        },
      ],
    },
  };
}

/** RFC 6901: `~` and `/` in a key are escaped in a JSON pointer. */
function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
