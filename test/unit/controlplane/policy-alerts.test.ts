import { describe, expect, it } from 'vitest';
import { PolicyAlerts } from '../../../src/controlplane/alerting/policy-alerts.ts';
import type { PolicyObject } from '../../../src/controlplane/kube/resources.ts';
import { reconcile } from '../../../src/controlplane/reconcile/reconcile.ts';
import { systemClock } from '../../../src/shared/clock.ts';
import { createLogger } from '../../../src/shared/create-logger.ts';

const policy = (): PolicyObject => ({
  apiVersion: 'aicircuit.io/v1alpha1',
  kind: 'AICircuitPolicy',
  metadata: {
    name: 'egress',
    namespace: 'shop',
    generation: 1,
    creationTimestamp: '2026-01-01T00:00:00Z',
  },
  spec: {
    upstreams: [{ name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' }],
    alerting: { webhooks: [{ url: { secretKeyRef: { name: 'alerts', key: 'url' } } }] },
  },
});

describe('controller alerting', () => {
  it('reconfigures (and logs it) only when a policy’s receivers change, not on every reconcile', async () => {
    const lines: string[] = [];
    const alerts = new PolicyAlerts({
      logger: createLogger({ destination: { write: (l: string) => void lines.push(l) } }),
      clock: systemClock,
      identity: 'controller-0',
    });
    const pass = (url: string) =>
      reconcile({
        policies: [policy()],
        pods: [],
        readSecret: () => url,
        lastGood: new Map(),
      });
    for (let i = 0; i < 5; i++) alerts.configure(pass('https://hooks.example/one'));
    const configured = () => lines.filter((l) => l.includes('alert targets configured'));
    expect(configured()).toHaveLength(1);
    alerts.configure(pass('https://hooks.example/two'));
    expect(configured()).toHaveLength(2);
    // The receiver URL is a secret: it never reaches the log.
    expect(lines.join('\n')).not.toContain('hooks.example');
    await alerts.close();
  });
});
