/**
 * `aicb validate -f FILE`: the cluster's validation, offline. Prints every problem with its
 * document and field path; exit 0 when every document is valid, 1 when any is not, 2 on usage
 * errors (missing or unreadable file). Valid documents may carry warnings (an override whose
 * `until` has passed, a retired model), printed but not failing the run.
 */
import { parseArgs } from 'node:util';
import { compilePolicy } from '../snapshot/compile-snapshot.ts';
import { parsePolicyDocuments } from '../policy/parse-policy-documents.ts';
import { policyWarnings } from '../snapshot/policy-warnings.ts';
import { formatProblems } from '../policy/validate-policy.ts';
import type { CommandIo } from './command-io.ts';

export function runValidate(
  args: readonly string[],
  io: CommandIo,
  now: number = Date.now(),
): number {
  let files: string[];
  try {
    const parsed = parseArgs({
      args: [...args],
      options: { file: { type: 'string', short: 'f', multiple: true } },
      allowPositionals: true,
    });
    files = [...(parsed.values.file ?? []), ...parsed.positionals];
  } catch (error) {
    io.err(`aicb validate: ${(error as Error).message}\n`);
    return 2;
  }
  if (files.length === 0) {
    io.err('aicb validate: give at least one file with -f FILE\n');
    return 2;
  }
  let invalid = 0;
  for (const file of files) {
    let text: string;
    try {
      text = io.readFile(file);
    } catch (error) {
      io.err(
        `aicb validate: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}\n`,
      );
      return 2;
    }
    const documents = parsePolicyDocuments(text);
    if (documents.length === 0) {
      io.err(`${file}: no documents\n`);
      invalid++;
      continue;
    }
    for (const doc of documents) {
      const where =
        documents.length > 1
          ? `${file} (document ${doc.index}, ${doc.label})`
          : `${file} (${doc.label})`;
      if (doc.result.ok) {
        // Valid, but perhaps not doing what was meant (an expired override, a retired model).
        const warnings = policyWarnings(compilePolicy(doc.result.policy), now);
        const n = warnings.length;
        io.out(`${where}: valid${n === 0 ? '' : `, ${n} warning${n === 1 ? '' : 's'}`}\n`);
        if (n > 0) io.out(`${indent(formatProblems(warnings), '  warning: ')}\n`);
      } else {
        invalid++;
        const n = doc.result.problems.length;
        io.out(`${where}: ${n} problem${n === 1 ? '' : 's'}\n`);
        io.out(`${indent(formatProblems(doc.result.problems))}\n`);
      }
    }
  }
  return invalid === 0 ? 0 : 1;
}

function indent(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}
