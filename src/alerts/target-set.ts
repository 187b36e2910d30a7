/**
 * The targets of one dispatcher across hot reloads. A target is keyed by kind and URL, so a
 * reload that keeps a URL keeps its queue and attempts; a removed one drops what waits and is
 * kept aside until its attempts in flight finish. URLs are secrets: statuses and logs name a
 * target by kind, index and fingerprint.
 */
import {
  ALERT_TARGET_KINDS,
  fingerprintUrl,
  type AlertTarget,
  type AlertTargetKind,
  type AlertTargetRef,
} from './alert-target.ts';
import { AlertConfigError } from './errors.ts';
import type { TargetQueue } from './target-queue.ts';

/** How `configure` treated one target. */
export interface AlertTargetStatus extends AlertTargetRef {
  readonly accepted: boolean;
  /** Why it was not accepted: not an http(s) URL, the same URL twice, or its notifier failed to build. */
  readonly problem?: 'invalid_url' | 'duplicate' | 'notifier_error';
}

/** Throws `AlertConfigError` for a target of an unknown kind. */
export function checkTargetKinds(targets: readonly AlertTarget[]): void {
  for (const target of targets) {
    if (!ALERT_TARGET_KINDS.includes(target.kind)) {
      throw new AlertConfigError(`alerts: unknown target kind ${JSON.stringify(target.kind)}`);
    }
  }
}

export class TargetSet {
  #active = new Map<string, TargetQueue>();
  /** Removed by a reload but with attempts still in flight. */
  readonly #retired = new Set<TargetQueue>();

  /** Targets alerts go to. */
  get size(): number {
    return this.#active.size;
  }

  active(): IterableIterator<TargetQueue> {
    return this.#active.values();
  }

  /** Active and retired targets: everything that may still hold a delivery. */
  *all(): IterableIterator<TargetQueue> {
    yield* this.#active.values();
    yield* this.#retired;
  }

  /**
   * Makes `targets` the active set. Unchanged targets keep their queue; new ones get one from
   * `open`, which may throw (reported as `notifier_error`); the others are retired. Unusable
   * targets are reported, not thrown.
   */
  replace(
    targets: readonly AlertTarget[],
    open: (target: AlertTarget, ref: AlertTargetRef) => TargetQueue,
  ): AlertTargetStatus[] {
    const statuses: AlertTargetStatus[] = [];
    const next = new Map<string, TargetQueue>();
    const positions: Record<AlertTargetKind, number> = { webhook: 0, slack: 0 };
    for (const target of targets) {
      const position = positions[target.kind]++;
      const ref: AlertTargetRef = {
        kind: target.kind,
        index: target.index ?? position,
        fingerprint: fingerprintUrl(target.url),
      };
      const key = `${target.kind}\u0000${target.url}`;
      if (!isHttpUrl(target.url)) {
        statuses.push({ ...ref, accepted: false, problem: 'invalid_url' });
        continue;
      }
      if (next.has(key)) {
        statuses.push({ ...ref, accepted: false, problem: 'duplicate' });
        continue;
      }
      const existing = this.#active.get(key);
      if (existing !== undefined) {
        existing.ref = ref;
        next.set(key, existing);
      } else {
        let queue: TargetQueue;
        try {
          queue = open(target, ref);
        } catch {
          statuses.push({ ...ref, accepted: false, problem: 'notifier_error' });
          continue;
        }
        next.set(key, queue);
      }
      statuses.push({ ...ref, accepted: true });
    }
    for (const [key, old] of this.#active) {
      if (next.has(key)) continue;
      old.retire();
      if (old.inFlight > 0) this.#retired.add(old);
    }
    this.#active = next;
    return statuses;
  }

  /** Called after an attempt of `queue` settled: a retired queue is forgotten once idle. */
  settled(queue: TargetQueue): void {
    if (queue.removed && queue.inFlight === 0) this.#retired.delete(queue);
  }
}

function isHttpUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    // The TypeError quotes the input, which is the secret: never let it out.
    return false;
  }
}
