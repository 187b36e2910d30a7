// What the cluster project's global setup hands to the tests (vitest `provide` / `inject`).
// Plain data only: it crosses from the main process into the test workers.

export interface KubeTestenvReady {
  readonly available: true;
  /** kubeconfig file (server, CA = the API server's generated serving cert, token). */
  readonly kubeconfig: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Bearer token of `envtest-admin`, a member of `system:masters`. */
  readonly token: string;
  /** Directory holding kube-apiserver, etcd and helm. */
  readonly assetsDir: string;
  /** kubectl discovery cache for this control plane (KUBECACHEDIR), never a stale one. */
  readonly kubectlCacheDir: string;
}

export interface KubeTestenvUnavailable {
  readonly available: false;
  /** Why the cluster tests are skipped, printed by the setup and shown in the skip. */
  readonly reason: string;
}

export type KubeTestenv = KubeTestenvReady | KubeTestenvUnavailable;

declare module 'vitest' {
  interface ProvidedContext {
    kubeTestenv: KubeTestenv;
  }
}
