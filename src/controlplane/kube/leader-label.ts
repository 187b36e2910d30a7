/**
 * The label that routes sidecars to the leader (ADR 0004): the leader sets
 * `aicircuit.io/leader=true` on its own pod, the delivery Service selects it, and every replica
 * stays Ready for the webhook. Failures are logged, never fatal: a sidecar that reaches a
 * standby is refused and retries.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
} from '@kubernetes/client-node';
import { describeKubeError } from './api-errors.ts';
import type { CancelTimer, Timers } from '../../shared/timers.ts';
import type { KubeLogger } from './kube-logger.ts';

/** The leader's pod carries this label; the delivery Service selects it. */
export const LEADER_LABEL = 'aicircuit.io/leader';

/** How often a leader looks for other pods still labelled as leader (one list call). */
export const LABEL_SWEEP_MS = 10_000;

/** The pod calls the label needs; `CoreV1Api` satisfies it. */
export interface LeaderLabelApi {
  patchNamespacedPod(
    param: { namespace: string; name: string; body: unknown },
    options?: ConfigurationOptions,
  ): Promise<unknown>;
  listNamespacedPod(param: {
    namespace: string;
    labelSelector?: string;
  }): Promise<{ items: readonly { metadata?: { name?: string } }[] }>;
}

export interface LeaderLabelOptions {
  readonly api: LeaderLabelApi;
  /** This replica's pod; without it (tests, local runs) nothing is labelled. */
  readonly self: { readonly namespace: string; readonly podName: string } | undefined;
  readonly logger: KubeLogger;
}

export class LeaderLabel {
  readonly #o: LeaderLabelOptions;

  constructor(options: LeaderLabelOptions) {
    this.#o = options;
  }

  /** Sets or clears the label on this replica's pod. */
  async setSelf(leader: boolean): Promise<void> {
    const self = this.#o.self;
    if (self === undefined) return;
    try {
      await this.#set(self.namespace, self.podName, leader);
    } catch (error) {
      this.#o.logger.warn(
        { err: describeKubeError(error), leader },
        'could not update the leader label on this pod; sidecars may reach a standby and retry',
      );
    }
  }

  /**
   * A replica that crashed while leading keeps its label until its pod is deleted or its process
   * restarts, and the delivery Service keeps sending sidecars there meanwhile. The new leader
   * clears the label from every other pod, so the Service selects only the leader.
   */
  async clearOthers(): Promise<void> {
    const self = this.#o.self;
    if (self === undefined) return;
    try {
      const pods = await this.#o.api.listNamespacedPod({
        namespace: self.namespace,
        labelSelector: `${LEADER_LABEL}=true`,
      });
      for (const pod of pods.items) {
        const name = pod.metadata?.name;
        if (name === undefined || name === self.podName) continue;
        await this.#set(self.namespace, name, false);
        this.#o.logger.info({ pod: name }, 'cleared a former leader label');
      }
    } catch (error) {
      this.#o.logger.warn(
        { err: describeKubeError(error) },
        'could not clear the leader label of a former leader; sidecars may reach it and retry',
      );
    }
  }

  /**
   * Clears former leaders' labels now and then again every `intervalMs` while `leading()` holds:
   * one clearing at takeover misses a label put back later (a crashed replica's pod restarting
   * with an old label, a patch racing the takeover) and one that failed on a transient API error.
   * Returns the function that stops the sweep.
   */
  sweepOthers(leading: () => boolean, timers: Timers, intervalMs = LABEL_SWEEP_MS): CancelTimer {
    let cancel: CancelTimer = () => undefined;
    let stopped = false;
    const round = (): void => {
      if (stopped || !leading()) return;
      void this.clearOthers().finally(() => {
        if (!stopped) cancel = timers.setTimeout(round, intervalMs);
      });
    };
    round();
    return () => {
      stopped = true;
      cancel();
    };
  }

  async #set(namespace: string, name: string, leader: boolean): Promise<void> {
    await this.#o.api.patchNamespacedPod(
      {
        namespace,
        name,
        body: { metadata: { labels: { [LEADER_LABEL]: leader ? 'true' : null } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}
