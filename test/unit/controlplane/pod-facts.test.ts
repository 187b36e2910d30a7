import { describe, expect, it } from 'vitest';
import { podFacts, type KubeObject } from '../../../src/controlplane/kube/resources.ts';

/** A pod roughly as the API server returns an injected one (trimmed, still kilobytes). */
function injectedPod(): KubeObject & Record<string, unknown> {
  const env = Array.from({ length: 12 }, (_, i) => ({
    name: `AICB_VAR_${i}`,
    value: 'x'.repeat(60),
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'chat-0',
      namespace: 'shop',
      uid: '6f1c2a3e-0000-4000-8000-000000000001',
      resourceVersion: '4242',
      creationTimestamp: '2026-12-03T05:00:00Z',
      labels: { app: 'chat', 'aicircuit.io/injected': 'true' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-12-03T05:00:00Z' },
      managedFields: Array.from({ length: 4 }, () => ({
        manager: 'kube-controller-manager',
        fieldsV1: { 'f:spec': { 'f:containers': 'y'.repeat(400) } },
      })),
    } as KubeObject['metadata'],
    spec: {
      serviceAccountName: 'chat',
      initContainers: [{ name: 'aicb-sidecar', env, restartPolicy: 'Always' }],
      containers: [{ name: 'app', env }],
      volumes: [{ name: 'aicb-token', projected: { sources: [] } }],
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

describe('the pod cache keeps identity and labels only', () => {
  it('keeps what reconcile and delivery read and drops the rest (managedFields, spec, status)', () => {
    const full = injectedPod();
    const facts = podFacts(full);
    expect(facts).toEqual({
      metadata: {
        name: 'chat-0',
        namespace: 'shop',
        uid: '6f1c2a3e-0000-4000-8000-000000000001',
        resourceVersion: '4242',
        creationTimestamp: '2026-12-03T05:00:00Z',
        labels: { app: 'chat', 'aicircuit.io/injected': 'true' },
      },
    });
    // A tenth of the object or less, held per pod for the controller's lifetime.
    expect(JSON.stringify(facts).length * 10).toBeLessThan(JSON.stringify(full).length);
  });
});
