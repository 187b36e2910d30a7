// Architecture rules (CONTRIBUTING.md): the pure core imports no I/O, the two planes never import
// each other, and only the control plane may load the Kubernetes client.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'pure-core-has-no-io',
      comment: 'src/policy and src/breaker are pure: no network, file system, logging or metrics.',
      severity: 'error',
      from: { path: '^src/(policy|breaker)/' },
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
