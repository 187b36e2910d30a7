import { describe, expect, it } from 'vitest';
import {
  LEADER_LABEL,
  LeaderLabel,
  type LeaderLabelApi,
} from '../../../src/controlplane/kube/leader-label.ts';
import type { Timers } from '../../../src/shared/timers.ts';

/** Pods of one namespace and their leader labels, as the API server would keep them. */
function fakeApi(labelled: Set<string>, failures = { list: 0 }): LeaderLabelApi {
  return {
    patchNamespacedPod({ name, body }) {
      const value = (body as { metadata: { labels: Record<string, string | null> } }).metadata
        .labels[LEADER_LABEL];
      if (value === 'true') labelled.add(name);
      else labelled.delete(name);
      return Promise.resolve({});
    },
    listNamespacedPod() {
      if (failures.list > 0) {
        failures.list -= 1;
        return Promise.reject(new Error('etcdserver: request timed out'));
      }
      return Promise.resolve({ items: [...labelled].map((name) => ({ metadata: { name } })) });
    },
  };
}

/** Timers fired by hand: `due` holds what is scheduled. */
function manualTimers() {
  const due: (() => void)[] = [];
  const timers: Timers = {
    setTimeout(callback) {
      due.push(callback);
      return () => {
        const i = due.indexOf(callback);
        if (i >= 0) due.splice(i, 1);
      };
    },
  };
  const fire = async () => {
    const next = due.shift();
    next?.();
    await new Promise((r) => setImmediate(r));
  };
  return { timers, due, fire };
}

const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
const settle = () => new Promise((r) => setImmediate(r));

describe('leader label sweep', () => {
  it('clears a label put back on a former leader after the takeover, on the next round', async () => {
    const labelled = new Set(['controller-b', 'controller-a']);
    const label = new LeaderLabel({
      api: fakeApi(labelled),
      self: { namespace: 'aicb-system', podName: 'controller-b' },
      logger: quiet,
    });
    const { timers, due, fire } = manualTimers();
    const stop = label.sweepOthers(() => true, timers);
    await settle();
    expect([...labelled]).toEqual(['controller-b']);
    // A crashed replica's pod comes back with its old label after the first clearing.
    labelled.add('controller-a');
    expect(due).toHaveLength(1);
    await fire();
    expect([...labelled]).toEqual(['controller-b']);
    stop();
    expect(due).toHaveLength(0);
  });

  it('retries after a failed clearing, and stops when no longer leading', async () => {
    const labelled = new Set(['controller-b', 'controller-a']);
    const failures = { list: 1 };
    let leading = true;
    const label = new LeaderLabel({
      api: fakeApi(labelled, failures),
      self: { namespace: 'aicb-system', podName: 'controller-b' },
      logger: quiet,
    });
    const { timers, due, fire } = manualTimers();
    label.sweepOthers(() => leading, timers);
    await settle();
    expect(labelled.has('controller-a')).toBe(true);
    await fire();
    expect(labelled.has('controller-a')).toBe(false);
    leading = false;
    labelled.add('controller-a');
    await fire();
    expect(labelled.has('controller-a')).toBe(true);
    expect(due).toHaveLength(0);
  });
});
