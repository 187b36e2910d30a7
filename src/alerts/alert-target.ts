/**
 * Where alerts go. A target's URL is a secret (Slack and most webhook services put the token in
 * the path), so everything that leaves this module names a target by kind, index and a short
 * fingerprint, never by URL.
 */
import { createHash } from 'node:crypto';
import type { CredentialRef, PolicySnapshot } from '../snapshot/snapshot.ts';

/** Kind of receiver: a generic JSON webhook or a Slack incoming webhook. */
export type AlertTargetKind = 'webhook' | 'slack';

/** Every target kind, in a stable order (one stats entry and metric series per kind). */
export const ALERT_TARGET_KINDS: readonly AlertTargetKind[] = Object.freeze(['webhook', 'slack']);

/** A target with its resolved URL, as the caller passes it to `configure`. */
export interface AlertTarget {
  readonly kind: AlertTargetKind;
  /** Resolved `http:` or `https:` URL; secret. */
  readonly url: string;
  /** Position in the policy's list, for logs; defaults to the order among targets of its kind. */
  readonly index?: number;
}

/** How logs, stats, errors and events name a target: safe to print. */
export interface AlertTargetRef {
  readonly kind: AlertTargetKind;
  /** Position in the policy's list of that kind (`webhooks[1]` is 1; Slack is 0). */
  readonly index: number;
  /** First 12 hex digits of the URL's sha256: tells targets apart across reloads, reveals nothing. */
  readonly fingerprint: string;
}

/** Short sha256 of a URL, to correlate a target across logs without printing it. */
export function fingerprintUrl(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12);
}

/** A credential reference of the policy that could not be resolved to a URL. */
export interface UnresolvedAlertTarget {
  readonly kind: AlertTargetKind;
  readonly index: number;
}

/**
 * Turns the compiled `alerting` section into targets, resolving each URL reference with the
 * caller's resolver (env, file, Secret: the caller's business). References that resolve to
 * nothing are reported, not thrown, so one missing Secret key never stops the other targets.
 */
export function alertTargetsOf(
  alerting: PolicySnapshot['alerting'],
  resolve: (ref: CredentialRef) => string | null,
): { targets: AlertTarget[]; unresolved: UnresolvedAlertTarget[] } {
  const targets: AlertTarget[] = [];
  const unresolved: UnresolvedAlertTarget[] = [];
  alerting.webhooks.forEach((ref, index) => {
    const url = resolve(ref);
    if (url === null || url === '') unresolved.push({ kind: 'webhook', index });
    else targets.push({ kind: 'webhook', url, index });
  });
  if (alerting.slack !== null) {
    const url = resolve(alerting.slack);
    if (url === null || url === '') unresolved.push({ kind: 'slack', index: 0 });
    else targets.push({ kind: 'slack', url, index: 0 });
  }
  return { targets, unresolved };
}
