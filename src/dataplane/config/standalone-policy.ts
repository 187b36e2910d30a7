/**
 * Standalone mode: the sidecar's policy comes from one YAML file, which is watched. A valid
 * edit is applied without a restart (breakers of unchanged upstreams keep their state); an
 * invalid one is logged with every problem and its field path while the last good policy stays
 * in force.
 */
import { CodedError } from '../../shared/coded-error.ts';
import type { Logger } from '../../shared/create-logger.ts';
import type { Sidecar } from '../build-sidecar.ts';
import { formatProblems } from '../../policy/validate-policy.ts';
import { compilePolicyText, readPolicyFile } from './policy-file.ts';
import { watchFileContent, type FileWatch } from './watch-file.ts';

/** The policy file cannot be used (`AICB_POLICY_INVALID`); the message lists every problem. */
export class PolicyFileError extends CodedError {
  constructor(message: string) {
    super('AICB_POLICY_INVALID', message);
  }
}

/** Loads the file once (throws PolicyFileError when it is unusable) and then watches it. */
export async function startStandalonePolicy(
  path: string,
  sidecar: Sidecar,
  logger: Logger,
  options: { pollMs?: number } = {},
): Promise<FileWatch> {
  const firstRead = await readPolicyFile(path);
  const first = firstRead.ok ? compilePolicyText(firstRead.text) : firstRead;
  if (!first.ok)
    throw new PolicyFileError(`${path} is not a usable policy:\n${formatProblems(first.problems)}`);
  // The text last acted on. One edit reaches us more than once (the directory watch, then the
  // stat poll; editors also write in steps), and the same rejected text must be logged and
  // counted once, not once per notification.
  let lastSeen = seen(firstRead);
  const applied = sidecar.applySnapshot(first.snapshot);
  if (!applied.applied) throw new PolicyFileError(`${path}: ${applied.problems.join('; ')}`);
  logger.info(
    { file: path, policy: first.snapshot.policy.name, hash: first.snapshot.hash.slice(0, 12) },
    'policy loaded',
  );

  let reloading = Promise.resolve();
  const reload = async () => {
    const read = await readPolicyFile(path);
    if (seen(read) === lastSeen) return;
    lastSeen = seen(read);
    const result = read.ok ? compilePolicyText(read.text) : read;
    if (!result.ok) {
      sidecar.metrics.configReloads.inc({ result: 'rejected' });
      logger.error(
        {
          file: path,
          problems: result.problems.map((p) =>
            p.path === '' ? p.message : `${p.path}: ${p.message}`,
          ),
        },
        'policy file rejected; the last good policy stays in force',
      );
      return;
    }
    const outcome = sidecar.applySnapshot(result.snapshot);
    if (!outcome.applied) {
      logger.error(
        { file: path, problems: outcome.problems },
        'policy rejected; the last good policy stays in force',
      );
    } else if (outcome.changed) {
      logger.info(
        {
          file: path,
          policy: result.snapshot.policy.name,
          hash: result.snapshot.hash.slice(0, 12),
        },
        'policy reloaded',
      );
    }
  };
  return watchFileContent(
    path,
    () => {
      // Serialize reloads so an older read never overwrites a newer one.
      reloading = reloading.then(reload, reload);
    },
    options.pollMs === undefined ? {} : { pollMs: options.pollMs },
  );
}

/** What a read of the file amounts to: its text, or the reason it could not be read. */
function seen(read: Awaited<ReturnType<typeof readPolicyFile>>): string {
  return read.ok ? `text:${read.text}` : `error:${formatProblems(read.problems)}`;
}
