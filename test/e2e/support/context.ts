// What the e2e project's global setup hands to the tests (vitest `provide` / `inject`).
// Plain data only: it crosses from the main process into the test workers.

export interface E2eReady {
  readonly available: true;
  /** Directory holding kube-apiserver, etcd and helm (tools/kube-testenv/build.sh). */
  readonly controlPlaneAssets: string;
  /** The product image, built from the repository's Dockerfile. */
  readonly image: {
    readonly repository: string;
    readonly tag: string;
    /** docker-archive to import into containerd. */
    readonly archive: string;
    /** As `buildah images` lists it (uncompressed), e.g. "278 MB". */
    readonly size: string;
    readonly archiveBytes: number;
    readonly buildSeconds: number;
  };
  /** The application image (official openai SDK), same recipe. */
  readonly appImage: { readonly name: string; readonly archive: string };
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
