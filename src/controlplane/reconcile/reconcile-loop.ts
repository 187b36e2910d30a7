/**
 * The debounced reconcile loop: any change to policies, pods or Secrets schedules one pass of
 * the pure `reconcile` over the caches; the result goes to every subscriber (delivery, alerts,
 * status). Bursts of watch events (a relist, a rollout) cost one pass, not one per event.
 */
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/create-logger.ts';
import { Emitter } from '../../shared/emitter.ts';
import type { ControllerMetrics } from '../controller-metrics.ts';
import type { PodObject, PolicyObject } from '../kube/resources.ts';
import type { SecretWatches } from '../kube/secret-watches.ts';
import { objectKey, reconcile, type LastGood, type ReconcileResult } from './reconcile.ts';

/** A finished pass: its result and when the change behind it was first seen. */
export interface ReconcilePass {
  readonly result: ReconcileResult;
  /** Wall time the first change of this pass was seen (the propagation metric starts here). */
  readonly changedAtWallMs: number;
}

export interface ReconcileLoopOptions {
  readonly policies: () => readonly PolicyObject[];
  /** Pods with a sidecar: the label watch, plus pods seen connecting before it showed them. */
  readonly pods: () => Iterable<PodObject>;
  readonly secrets: Pick<SecretWatches, 'read' | 'readable'>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
  /** Debounce between a change and the pass. Default 50 ms. */
  readonly debounceMs?: number;
}

export class ReconcileLoop {
  /** Every finished pass, in order. */
  readonly passes: Emitter<ReconcilePass>;
  readonly #o: ReconcileLoopOptions;
  #result: ReconcileResult | undefined;
  #lastGood: ReadonlyMap<string, LastGood> = new Map();
  #timer: NodeJS.Timeout | undefined;
  #changeSeenAtWallMs = 0;
  #stopped = false;

  constructor(options: ReconcileLoopOptions) {
    this.#o = options;
    this.passes = new Emitter((error) => {
      options.logger.error({ err: error }, 'a reconcile subscriber failed');
    });
  }

  /** The last pass's result; undefined before the first. */
  get result(): ReconcileResult | undefined {
    return this.#result;
  }

  /** Schedules a pass; the first change of a burst stamps the propagation start. */
  schedule(): void {
    if (this.#changeSeenAtWallMs === 0) this.#changeSeenAtWallMs = this.#o.clock.wallMs();
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.run();
    }, this.#o.debounceMs ?? 50);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One pass now. Never throws: a failed pass is counted and logged, the next change retries. */
  run(): void {
    const { metrics } = this.#o;
    const started = performance.now();
    const changedAtWallMs = this.#changeSeenAtWallMs || this.#o.clock.wallMs();
    this.#changeSeenAtWallMs = 0;
    let result: ReconcileResult;
    try {
      const pods = new Map<string, PodObject>();
      for (const pod of this.#o.pods()) {
        pods.set(objectKey(pod.metadata.namespace ?? '', pod.metadata.name), pod);
      }
      result = reconcile({
        policies: this.#o.policies(),
        pods: [...pods.values()],
        readSecret: (namespace, name, key) => this.#o.secrets.read(namespace, name, key),
        secretsReadable: (namespace) => this.#o.secrets.readable(namespace),
        lastGood: this.#lastGood,
      });
    } catch (error) {
      metrics.reconciles.inc({ result: 'error' });
      this.#o.logger.error({ err: error }, 'reconcile failed; will retry on the next change');
      metrics.reconcileDuration.observe((performance.now() - started) / 1000);
      return;
    }
    this.#result = result;
    this.#lastGood = result.lastGood;
    this.passes.emit({ result, changedAtWallMs });
    metrics.reconciles.inc({ result: 'ok' });
    metrics.reconcileDuration.observe((performance.now() - started) / 1000);
  }
}
