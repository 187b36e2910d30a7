/**
 * `aicb status`: a sidecar's circuits as a table, read from its admin endpoint
 * (GET /health/circuit-breakers). Exit 0 when healthy, 1 when degraded or critical, 2 when the
 * sidecar cannot be reached.
 */
import { parseArgs } from 'node:util';
import type { CircuitHealthReport } from '../dataplane/circuit-health.ts';
import type { CommandIo } from './command-io.ts';

export const STATUS_USAGE = `Usage: aicb status [--admin URL] [--json]

  --admin URL   the sidecar's admin address (default http://127.0.0.1:15401, env AICB_ADMIN_URL)
  --json        print the raw health document
`;

export async function runStatus(
  args: readonly string[],
  io: CommandIo,
  env: Readonly<Record<string, string | undefined>>,
  fetchImpl: typeof fetch = fetch,
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        admin: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    io.err(`aicb status: ${(error as Error).message}\n\n${STATUS_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(STATUS_USAGE);
    return 0;
  }
  const admin = (values.admin ?? env.AICB_ADMIN_URL ?? 'http://127.0.0.1:15401').replace(
    /\/+$/,
    '',
  );
  let report: CircuitHealthReport;
  try {
    const res = await fetchImpl(`${admin}/health/circuit-breakers`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    report = (await res.json()) as CircuitHealthReport;
  } catch (error) {
    io.err(
      `aicb status: cannot read ${admin}/health/circuit-breakers: ${(error as Error).message}\n`,
    );
    return 2;
  }
  if (values.json === true) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.out(renderStatus(report));
  }
  return report.overall_health === 'healthy' ? 0 : 1;
}

/** The report as an aligned text table, one row per circuit. */
export function renderStatus(report: CircuitHealthReport): string {
  const rows: string[][] = [
    [
      'UPSTREAM',
      'ENDPOINT',
      'MODEL',
      'STATE',
      'FAILURES',
      'WINDOW',
      'OPEN FOR',
      'ATTEMPT',
      'LAST OPENED',
      'LAST RECOVERED',
    ],
  ];
  for (const [upstream, byEndpoint] of Object.entries(report.endpoints)) {
    const entries = Object.entries(byEndpoint);
    if (entries.length === 0) {
      rows.push([
        upstream,
        '-',
        '-',
        report.providers[upstream] ?? 'closed',
        '0',
        '0/0',
        '-',
        '0',
        '-',
        '-',
      ]);
      continue;
    }
    for (const [endpoint, circuits] of entries) {
      for (const c of circuits) {
        rows.push([
          upstream,
          endpoint,
          c.model ?? '-',
          c.state,
          `${c.consecutiveFailures}/${c.failureThreshold}`,
          `${c.windowFailures}/${c.windowCalls}`,
          c.openRemainingMs > 0 ? `${Math.ceil(c.openRemainingMs / 1000)}s` : '-',
          String(c.attempt),
          c.lastOpenedAt ?? '-',
          c.lastRecoveredAt ?? '-',
        ]);
      }
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const policy =
    report.policy === null
      ? 'no policy'
      : report.policy.mode === 'pass-through'
        ? `none: passing requests through unchanged since ${report.policy.passThroughSince ?? '?'} (was ${report.policy.namespace}/${report.policy.name})`
        : `${report.policy.namespace}/${report.policy.name} (${report.policy.hash.slice(0, 12)})`;
  return `policy: ${policy}\noverall: ${report.overall_health}\n\n${lines.join('\n')}\n`;
}
