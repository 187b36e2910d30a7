/**
 * What the sidecar tells the operator each time it loads a policy (at start-up and on every
 * reload): the policy's own warnings (src/snapshot/policy-warnings.ts), plus what this sidecar
 * cannot read: a fallback target's `apiKey` whose environment variable, file or Secret key is
 * missing (naming it, and the fallback it disables), and, when this sidecar sends alerts itself,
 * an alert target whose URL cannot be read. Values are never part of a message.
 */
import {
  credentialField,
  describeCredentialSource,
  fallbackTargetPath,
  policyWarnings,
  type PolicyWarning,
} from '../snapshot/policy-warnings.ts';
import type { CredentialRef, PolicySnapshot } from '../snapshot/snapshot.ts';

export interface LoadWarningOptions {
  /** Reads a credential here (env, file, delivered value); undefined when it cannot. */
  readonly resolve: (ref: CredentialRef) => string | undefined;
  readonly nowWallMs: number;
  /** Whether this sidecar delivers spec.alerting itself (standalone mode). */
  readonly alerting: boolean;
}

export function loadWarnings(
  snapshot: PolicySnapshot,
  options: LoadWarningOptions,
): PolicyWarning[] {
  return [
    ...policyWarnings(snapshot, options.nowWallMs),
    ...credentialWarnings(snapshot, options),
    ...(options.alerting ? alertTargetWarnings(snapshot, options) : []),
  ];
}

function credentialWarnings(
  snapshot: PolicySnapshot,
  options: LoadWarningOptions,
): PolicyWarning[] {
  const providers = new Map(snapshot.upstreams.map((u) => [u.name, u.provider]));
  const out: PolicyWarning[] = [];
  snapshot.upstreams.forEach((upstream, i) => {
    const ref = upstream.apiKey;
    if (ref === null || options.resolve(ref) !== undefined) return;
    // The key is only used when this upstream serves another upstream's request.
    const effects = Object.entries(snapshot.fallbacks).flatMap(([from, targets]) =>
      targets.flatMap((t, j) => {
        if (t.upstream !== upstream.name) return [];
        const sameProvider = providers.get(from) === upstream.provider;
        return [
          sameProvider
            ? `fallback ${from} -> ${upstream.name} sends the caller's own credentials instead`
            : `fallback ${from} -> ${upstream.name} is disabled (${fallbackTargetPath(from, j)} is skipped: skipped-no_credentials)`,
        ];
      }),
    );
    if (effects.length === 0) return;
    out.push({
      path: `spec.upstreams[${i}].apiKey.${credentialField(ref)}`,
      message: `${unreadable(ref)}: ${effects.join('; ')}`,
    });
  });
  return out;
}

function alertTargetWarnings(
  snapshot: PolicySnapshot,
  options: LoadWarningOptions,
): PolicyWarning[] {
  const out: PolicyWarning[] = [];
  snapshot.alerting.webhooks.forEach((ref, i) => {
    if (options.resolve(ref) === undefined) {
      out.push({
        path: `spec.alerting.webhooks[${i}].url.${credentialField(ref)}`,
        message: `${unreadable(ref)}: this webhook receives no alerts`,
      });
    }
  });
  const slack = snapshot.alerting.slack;
  if (slack !== null && options.resolve(slack) === undefined) {
    out.push({
      path: `spec.alerting.slack.webhookURL.${credentialField(slack)}`,
      message: `${unreadable(slack)}: Slack receives no alerts`,
    });
  }
  return out;
}

function unreadable(ref: CredentialRef): string {
  const source = describeCredentialSource(ref);
  switch (ref.source) {
    case 'env':
      return `${source} is not set (or empty)`;
    case 'file':
      return `${source} is missing, unreadable or empty`;
    case 'secret':
      return `${source} cannot be read here (only the controller resolves secretKeyRef; in standalone mode use env or file)`;
    case 'value':
      return `${source} is empty`;
  }
}
