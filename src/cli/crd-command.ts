/** `aicb crd`: prints the generated CRD, identical to crds/aicircuitpolicies.aicircuit.io.yaml. */
import type { CommandIo } from './command-io.ts';
import { renderCrdYaml } from './crd-yaml.ts';

export function runCrd(args: readonly string[], io: CommandIo): number {
  if (args.length > 0) {
    io.err(`aicb crd: takes no arguments, got ${args.join(' ')}\n`);
    return 2;
  }
  io.out(renderCrdYaml());
  return 0;
}
