#!/usr/bin/env node
/**
 * The `aicb` command. Each subcommand lives in its own module; this file only dispatches and
 * is the one place that touches process arguments, streams and exit codes.
 */
import { readFileSync } from 'node:fs';
import type { CommandIo } from './command-io.ts';

// Subcommands are imported when chosen, not up front: the controller pulls in
// @kubernetes/client-node (~100 MB of resident memory once loaded), and the sidecar, which runs
// in every pod, must not pay for it. bench/RESULTS.md shows the sidecar's idle RSS with both.

const USAGE = `aicb — circuit breakers and fallback for AI provider calls

Usage:
  aicb sidecar --config FILE            Run the sidecar proxy (127.0.0.1:15400) and admin server
                                        (127.0.0.1:15401) on a policy file. See aicb sidecar --help.
  aicb validate -f FILE [-f FILE ...]   Validate AICircuitPolicy YAML (single or multi-document)
                                        offline, with the same rules as the cluster. Exit 1 on problems.
  aicb controller [options]             Run the controller (watches AICircuitPolicies, streams
                                        policies to sidecars, writes status). See --help.
  aicb status [--admin URL]             Show a sidecar's circuits as a table (exit 1 unless healthy).
  aicb crd                              Print the AICircuitPolicy CustomResourceDefinition.
  aicb --version                        Print the version.
  aicb --help                           Show this help.
`;

/**
 * Keeps a started server running until SIGTERM or SIGINT; in-flight work finishes before the
 * process exits. A number (usage error, failed start) is passed through as the exit code.
 */
function untilSignal(started: number | { stop(): Promise<void> }): Promise<number> | number {
  if (typeof started === 'number') return started;
  return new Promise<number>((resolve) => {
    const stop = () => {
      started.stop().then(
        () => {
          resolve(0);
        },
        () => {
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function main(argv: readonly string[], io: CommandIo): Promise<number> | number {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.out(USAGE);
      return command === undefined ? 2 : 0;
    case '-v':
    case '--version':
    case 'version':
      io.out(`${version()}\n`);
      return 0;
    case 'validate':
      return import('./validate-command.ts').then((m) => m.runValidate(rest, io));
    case 'crd':
      return import('./crd-command.ts').then((m) => m.runCrd(rest, io));
    case 'status':
      return import('./status-command.ts').then((m) => m.runStatus(rest, io, process.env));
    case 'sidecar':
      return import('./sidecar-command.ts')
        .then((m) => m.runSidecar(rest, io, process.env))
        .then(untilSignal);
    case 'controller':
      return import('./controller-command.ts')
        .then((m) => m.runController(rest, io, process.env))
        .then(untilSignal);
    default:
      io.err(`aicb: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

// `aicb crd | head` closes the pipe early: that is the reader being done, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const io: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  readFile: (path) => readFileSync(path, 'utf8'),
};

Promise.resolve()
  .then(() => main(process.argv.slice(2), io))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`aicb: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
