// TokenReviewer on a real kube-apiserver: a projected ServiceAccount token bound to a Pod (as the
// injector mounts it, audience aicircuit.io) is traced back to namespace, service account and
// pod; tokens for another audience, garbage, and tokens of a deleted pod are refused; answers
// are cached by the token's hash and the token never reaches a log line.
import { AuthenticationV1TokenRequest, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import {
  SIDECAR_TOKEN_AUDIENCE,
  TokenReviewer,
  type TokenReviewApi,
} from '../../../src/controlplane/kube/token-reviewer.ts';
import {
  connect,
  eventually,
  kubeTestenv,
  type Cluster,
} from '../../support/kube-testenv/cluster.ts';
import { clientsFor, recordingLogger } from './kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'TokenReviewer against a real kube-apiserver';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let podUid: string;
  let sidecarToken: string;

  /** Creates a Pod using the `sidecar` service account (no kubelet runs it; the object suffices). */
  async function createPod(name: string): Promise<string> {
    const pod = await clients.core.createNamespacedPod({
      namespace: ns,
      body: Object.assign(new V1Pod(), {
        metadata: { name, labels: { app: 'chat' } },
        spec: {
          serviceAccountName: 'sidecar',
          containers: [{ name: 'app', image: 'registry.example/app:1' }],
        },
      }),
    });
    const uid = pod.metadata?.uid;
    if (uid === undefined) throw new Error('the created pod has no uid');
    return uid;
  }

  /** TokenRequest as the kubelet makes it for a projected volume. */
  async function requestToken(
    audiences: string[],
    pod?: { name: string; uid: string },
  ): Promise<string> {
    const answer = await clients.core.createNamespacedServiceAccountToken({
      name: 'sidecar',
      namespace: ns,
      body: Object.assign(new AuthenticationV1TokenRequest(), {
        spec: {
          audiences,
          expirationSeconds: 600,
          ...(pod === undefined
            ? {}
            : { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid } }),
        },
      }),
    });
    const token = answer.status?.token;
    if (token === undefined) throw new Error('TokenRequest returned no token');
    return token;
  }

  /** The real API behind a counter of TokenReview requests. */
  function countingApi(): TokenReviewApi & { calls: number } {
    const real: TokenReviewApi = clients.authentication;
    const api = {
      calls: 0,
      createTokenReview: (param: Parameters<TokenReviewApi['createTokenReview']>[0]) => {
        api.calls += 1;
        return real.createTokenReview(param);
      },
    };
    return api;
  }

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    ns = await cluster.createNamespace('kube-tokens');
    // No controller-manager: nobody creates service accounts but us.
    await clients.core.createNamespacedServiceAccount({
      namespace: ns,
      body: Object.assign(new V1ServiceAccount(), { metadata: { name: 'sidecar' } }),
    });
    podUid = await createPod('chat-7d9f');
    sidecarToken = await requestToken([SIDECAR_TOKEN_AUDIENCE], { name: 'chat-7d9f', uid: podUid });
  });

  it('identifies namespace, service account and pod of a bound projected token', async () => {
    const logger = recordingLogger();
    const reviewer = new TokenReviewer({ api: countingApi(), logger });
    const result = await reviewer.review(sidecarToken);
    expect(result).toEqual({
      authenticated: true,
      username: `system:serviceaccount:${ns}:sidecar`,
      namespace: ns,
      serviceAccount: 'sidecar',
      podName: 'chat-7d9f',
      podUid,
    });
    expect(JSON.stringify(logger.lines)).not.toContain(sidecarToken);
  });

  it('answers a repeated or concurrent review of the same token from one TokenReview', async () => {
    const api = countingApi();
    const reviewer = new TokenReviewer({ api });
    const [first, second] = await Promise.all([
      reviewer.review(sidecarToken),
      reviewer.review(sidecarToken),
    ]);
    const third = await reviewer.review(sidecarToken);
    expect(first).toEqual(second);
    expect(third).toEqual(first);
    expect(api.calls).toBe(1);
    expect(reviewer.reviews).toBe(1);
  });

  it('refuses a token minted for another audience', async () => {
    const other = await requestToken(['https://kubernetes.default.svc.cluster.local']);
    const logger = recordingLogger();
    const reviewer = new TokenReviewer({ api: countingApi(), logger });
    const result = await reviewer.review(other);
    expect(result.authenticated).toBe(false);
    expect(result).toMatchObject({ retryable: false });
    if (!result.authenticated) expect(result.reason).toMatch(/audience/i);
    expect(JSON.stringify(logger.lines)).not.toContain(other);
  });

  it('refuses garbage and empty tokens, remembering the refusal briefly', async () => {
    const api = countingApi();
    const reviewer = new TokenReviewer({ api });
    expect(await reviewer.review('')).toMatchObject({
      authenticated: false,
      reason: 'empty token',
    });
    expect(api.calls).toBe(0);
    const garbage = await reviewer.review('not-a-jwt');
    expect(garbage).toMatchObject({ authenticated: false, retryable: false });
    await reviewer.review('not-a-jwt');
    expect(api.calls).toBe(1);
  });

  it('refuses the token of a pod that no longer exists', async () => {
    const uid = await createPod('short-lived');
    const token = await requestToken([SIDECAR_TOKEN_AUDIENCE], { name: 'short-lived', uid });
    // Unscheduled pods are deleted at once (no kubelet to wait for). The token is not reviewed
    // before: the API server caches successful authentications for about 10 s.
    await clients.core.deleteNamespacedPod({ name: 'short-lived', namespace: ns });
    // Its pod lookup goes through an informer that may lag the delete by a moment.
    const refused = await eventually(
      async () => {
        const result = await new TokenReviewer({ api: countingApi() }).review(token);
        return result.authenticated ? undefined : result;
      },
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(refused).toMatchObject({ authenticated: false, retryable: false });
  });

  it('reports an unreachable TokenReview as retryable and does not cache it', async () => {
    let down = true;
    const real: TokenReviewApi = clients.authentication;
    const api: TokenReviewApi = {
      createTokenReview: (param) =>
        down
          ? Promise.reject(
              Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
            )
          : real.createTokenReview(param),
    };
    const reviewer = new TokenReviewer({ api });
    expect(await reviewer.review(sidecarToken)).toMatchObject({
      authenticated: false,
      retryable: true,
    });
    down = false;
    expect(await reviewer.review(sidecarToken)).toMatchObject({ authenticated: true });
  });
});
