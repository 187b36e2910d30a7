// Fast fail as a Python app meets it: the official `openai` and `anthropic` Python SDKs, pinned
// in test/support/python/requirements.txt, at their DEFAULT settings (max_retries=2), against a
// sidecar whose circuits are all open. Installed by scripts/python-sdks.sh (CI runs it and sets
// REQUIRE_PYTHON_SDKS=1, so there a missing install fails instead of skipping).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allCircuitsOpen, type AllCircuitsOpen } from '../../support/all-circuits-open.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

const FAST_FAIL_BUDGET_MS = 100;
const MIN_SDK_BACKOFF_MS = 375;
const SCRIPT = join(REPO_ROOT, 'test/support/python/fast_fail.py');
const PINNED: Record<string, string | undefined> = Object.fromEntries(
  [
    ...readFileSync(join(REPO_ROOT, 'test/support/python/requirements.txt'), 'utf8').matchAll(
      /^([a-z]+)==(\S+)$/gm,
    ),
  ].map((m): [string, string | undefined] => [m[1] ?? '', m[2]]),
);

/** The venv's python with both SDKs at the pinned versions, or why there is none. */
function findPython(): { python: string } | { missing: string } {
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  const python =
    process.env.AICB_SDK_PYTHON ?? join(cache, 'ai-circuit-breaker/python-sdks/bin/python');
  if (!existsSync(python)) return { missing: `no ${python}` };
  try {
    const out = execFileSync(
      python,
      ['-c', 'import openai, anthropic; print(openai.__version__, anthropic.__version__)'],
      { encoding: 'utf8' },
    ).trim();
    const expected = `${PINNED.openai ?? '?'} ${PINNED.anthropic ?? '?'}`;
    return out === expected ? { python } : { missing: `${python} has ${out}, want ${expected}` };
  } catch (error) {
    return { missing: `${python} cannot import the SDKs: ${(error as Error).message}` };
  }
}

const found = findPython();
if ('missing' in found) {
  const how =
    'install them with scripts/python-sdks.sh (or point AICB_SDK_PYTHON at a python that has them)';
  if (process.env.REQUIRE_PYTHON_SDKS === '1') {
    throw new Error(
      `REQUIRE_PYTHON_SDKS=1 but the Python SDKs are missing (${found.missing}); ${how}`,
    );
  }
  console.warn(`SKIPPED: Python SDK fast-fail tests: ${found.missing}; ${how}`);
}

interface PythonResult {
  sdk: string;
  version: string;
  max_retries: number;
  ok: boolean;
  status?: number;
  code?: string | null;
  x_should_retry?: string | null;
  retry_after?: string | null;
  /** The first call of the process (SDK set-up included). */
  ms_first: number;
  /** The next call: what every later request sees. */
  ms: number;
}

let outage: AllCircuitsOpen;
beforeEach(async () => {
  outage = await allCircuitsOpen();
});
afterEach(async () => {
  await outage.close();
});

async function runPython(sdk: 'openai' | 'anthropic', baseUrl: string): Promise<PythonResult> {
  if (!('python' in found)) throw new Error('unreachable: skipped without a python');
  const { stdout } = await promisify(execFile)(found.python, [SCRIPT, sdk, baseUrl], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  return JSON.parse(stdout) as PythonResult;
}

describe.skipIf('missing' in found)(
  'fast fail with the official Python SDKs at default settings',
  () => {
    it.each([
      ['openai', '/openai/v1'],
      ['anthropic', '/anthropic'],
    ] as const)(
      '%s: the app gets 503 AICB_CIRCUIT_OPEN in under 100 ms, with no SDK retry',
      async (sdk, prefix) => {
        const before = await outage.shortCircuited();
        const result = await runPython(sdk, `${outage.sc.url}${prefix}`);
        expect(result).toMatchObject({
          sdk,
          version: PINNED[sdk],
          max_retries: 2,
          ok: false,
          status: 503,
          code: 'AICB_CIRCUIT_OPEN',
          x_should_retry: 'false',
        });
        expect(Number(result.retry_after)).toBeGreaterThanOrEqual(20);
        expect(result.ms).toBeLessThan(FAST_FAIL_BUDGET_MS);
        // Even the first call, which also pays the SDK's set-up, is far below the shortest retry
        // backoff (0.5 s less 25 % jitter): the SDK never slept.
        expect(result.ms_first).toBeLessThan(MIN_SDK_BACKOFF_MS);
        // Two calls, two requests: the SDK retried neither.
        expect((await outage.shortCircuited()) - before).toBe(2);
        expect(outage.providerRequests()).toBe(0);
        console.log(
          `fast fail, ${sdk} Python SDK ${result.version} at defaults: ${result.ms.toFixed(1)} ms ` +
            `(first call of the process: ${result.ms_first.toFixed(1)} ms)`,
        );
      },
      30_000,
    );
  },
);
