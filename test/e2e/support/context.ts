// What the e2e project's global setup hands to the tests (vitest `provide` / `inject`).
// Plain data only: it crosses from the main process into the test workers.

export interface E2eReady {
  readonly available: true;
  /** Admin kubeconfig of the single-node cluster (tools/kube-testenv/cluster-up.sh). */
  readonly kubeconfig: string;
  /** The pinned helm (tools/kube-testenv build). */
  readonly helm: string;
  /** The node's address on the cluster bridge: fake providers listen here for the pods. */
  readonly nodeIp: string;
  readonly nodeName: string;
  /** The product image, built from the repository's Dockerfile and imported into containerd. */
  readonly image: { readonly repository: string; readonly tag: string };
  /** The application image (official openai SDK), same recipe. */
  readonly appImage: string;
  /** Measured by the setup, for bench/e2e-results.md. */
  readonly setup: {
    /** As `buildah images` lists it (uncompressed), e.g. "322 MB". */
    readonly imageSize: string;
    /** The docker-archive imported into containerd (uncompressed layers). */
    readonly imageArchiveBytes: number;
    readonly imageBuildSeconds: number;
    readonly clusterUpSeconds: number;
    readonly imageImportSeconds: number;
  };
}

export interface E2eUnavailable {
  readonly available: false;
  /** Why the suite is skipped, printed by the setup and shown in the skip. */
  readonly reason: string;
}

export type E2eEnv = E2eReady | E2eUnavailable;

declare module 'vitest' {
  interface ProvidedContext {
    e2e: E2eEnv;
  }
}
