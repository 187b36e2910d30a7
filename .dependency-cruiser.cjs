// Architecture rules (CONTRIBUTING.md): the pure core imports no I/O, the two planes never import
// each other, only the control plane may load the Kubernetes client (and nothing the sidecar
// reaches does), and the data plane's request path is layered.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'pure-core-has-no-io',
      comment:
        'src/policy, src/snapshot and src/breaker are pure: no network, file system, logging or metrics.',
      severity: 'error',
      from: { path: '^src/(policy|snapshot|breaker)/' },
      to: {
        path: [
          '^src/(dataplane|controlplane|alerts|cli)/',
          'node_modules/(fastify|undici|pino|prom-client|@kubernetes)/',
          '^(node:)?(fs|fs/promises|net|http|https|http2|tls|dgram|dns|child_process|cluster|worker_threads)$',
        ],
      },
    },
    {
      name: 'dataplane-never-imports-controlplane',
      severity: 'error',
      from: { path: '^src/dataplane/' },
      to: { path: '^src/controlplane/' },
    },
    {
      name: 'controlplane-never-imports-dataplane',
      severity: 'error',
      from: { path: '^src/controlplane/' },
      to: { path: '^src/dataplane/' },
    },
    {
      name: 'kubernetes-client-only-in-controlplane',
      severity: 'error',
      from: { pathNot: '^src/(controlplane|cli)/' },
      to: { path: 'node_modules/@kubernetes/' },
    },
    {
      name: 'shared-has-no-domain',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/(policy|breaker|dataplane|controlplane|alerts|cli)/' },
    },
    {
      name: 'alerts-never-import-planes',
      comment: 'src/alerts is used by both planes, so it imports neither of them (nor the CLI).',
      severity: 'error',
      from: { path: '^src/alerts/' },
      to: { path: '^src/(dataplane|controlplane|cli)/' },
    },
    {
      name: 'breaker-never-imports-policy',
      comment:
        'The breaker engine takes a resolved BreakerConfig; the policy compiler produces it, never the other way round.',
      severity: 'error',
      from: { path: '^src/breaker/' },
      to: { path: '^src/(policy|snapshot)/' },
    },
    {
      name: 'policy-never-imports-snapshot',
      comment:
        'src/policy is the Kubernetes resource; src/snapshot is the machine contract compiled from it (as Envoy AI Gateway keeps its filter config apart from its Kubernetes types). The snapshot builds on the policy, never the other way round.',
      severity: 'error',
      from: { path: '^src/policy/' },
      to: { path: '^src/snapshot/' },
    },
    {
      name: 'snapshot-contract-apart-from-crd-schema',
      comment:
        'The controller-sidecar contract (snapshot, wire protocol, pass-through) shares only the zod-free vocabulary with the policy, so a sidecar that runs it never loads the CRD schemas through it; only compile-snapshot.ts and policy-warnings.ts read the policy itself.',
      severity: 'error',
      from: { path: '^src/snapshot/(snapshot|sidecar-protocol|pass-through-snapshot)\\.ts$' },
      to: { path: '^src/policy/', pathNot: '^src/policy/schema/vocabulary\\.ts$' },
    },
    {
      name: 'policy-vocabulary-is-a-leaf',
      comment:
        'The names and bounds other contracts share with the policy (API identity, endpoint classes, providers, alert events) import nothing, not even zod, so using them never loads the CRD schemas.',
      severity: 'error',
      from: { path: '^src/policy/schema/vocabulary\\.ts$' },
      to: {},
    },
    {
      name: 'policy-status-schema-stands-alone',
      comment:
        'The status the controller writes is its own schema: it builds on none of the spec modules (the resource in policy-schema.ts joins the two).',
      severity: 'error',
      from: { path: '^src/policy/policy-status-schema\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'sidecar-never-reaches-kubernetes',
      comment:
        'The sidecar runs in every pod, so what it loads is memory paid N times: @kubernetes/client-node alone adds about 100 MB RSS, and it serves with Node http, no web framework. Nothing reachable from `aicb sidecar` (dynamic imports included) may load the Kubernetes client, fastify or the control plane.',
      severity: 'error',
      from: { path: '^src/cli/sidecar-command\\.ts$' },
      to: {
        path: ['node_modules/(@kubernetes|fastify)/', '^src/controlplane/'],
        reachable: true,
      },
    },
    {
      name: 'policy-sources-load-lazily',
      comment:
        'Each sidecar mode loads only its own policy source: the file watcher or the controller client, by import() once the mode is known.',
      severity: 'error',
      from: {},
      to: {
        path: '^src/dataplane/(config/standalone-policy|controller-client)\\.ts$',
        dependencyTypesNot: ['dynamic-import', 'type-only'],
      },
    },
    {
      name: 'sidecar-runs-the-snapshot-not-the-crd',
      comment:
        'Outside its file mode (dataplane/config/, loaded by import() when chosen) the sidecar runs the compiled snapshot: it loads neither the CRD schemas nor the compiler, which cost every pod memory and start-up time. Types are free.',
      severity: 'error',
      from: { path: '^src/dataplane/', pathNot: '^src/dataplane/config/' },
      to: {
        path: '^src/(policy/|snapshot/compile-snapshot\\.ts$)',
        pathNot: '^src/policy/(schema/vocabulary|field-path|default-pricing)\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'cli-loads-subcommands-lazily',
      comment: 'The aicb entry point imports a subcommand only when it is chosen.',
      severity: 'error',
      from: { path: '^src/cli/main\\.ts$' },
      to: {
        path: '^src/cli/[a-z-]+-command\\.ts$',
        dependencyTypesNot: ['dynamic-import', 'type-only'],
      },
    },
    // Data-plane layering. A request flows request/ -> chain/ -> exchange/ -> respond/, and each
    // stage builds on the parsed form of the ones before it, never on the stages that drive it.
    {
      name: 'dataplane-request-is-below-chain',
      comment:
        'request/ parses and routes the app request; it knows nothing of who walks the chain.',
      severity: 'error',
      from: { path: '^src/dataplane/request/' },
      to: { path: '^src/dataplane/(chain|exchange|respond|proxy)/' },
    },
    {
      name: 'dataplane-exchange-is-below-chain',
      comment: 'An exchange owns one target; the chain decides which targets are reached.',
      severity: 'error',
      from: { path: '^src/dataplane/exchange/' },
      to: { path: '^src/dataplane/(chain|proxy)/' },
    },
    {
      name: 'dataplane-chain-is-below-proxy',
      severity: 'error',
      from: { path: '^src/dataplane/chain/' },
      to: { path: '^src/dataplane/proxy/' },
    },
    {
      name: 'dataplane-respond-is-a-writer',
      comment: 'respond/ writes answers; it depends on no stage of the request path.',
      severity: 'error',
      from: { path: '^src/dataplane/respond/' },
      to: { path: '^src/dataplane/(request|chain|exchange|proxy)/' },
    },
    {
      name: 'dataplane-sse-and-json-are-leaves',
      comment:
        'The SSE reader and the JSON scanner are grammars: they import nothing of the data plane.',
      severity: 'error',
      from: { path: '^src/dataplane/(sse|json)/' },
      to: { path: '^src/dataplane/', pathNot: '^src/dataplane/$1/' },
    },
    {
      name: 'dataplane-providers-below-chain',
      comment: 'Provider facts and translators are used by exchanges; they never drive a request.',
      severity: 'error',
      from: { path: '^src/dataplane/providers/' },
      to: { path: '^src/dataplane/(chain|exchange|proxy)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    exclude: { path: '\\.test\\.ts$' },
  },
};
