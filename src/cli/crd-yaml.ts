/** Renders the generated CRD as YAML, byte for byte what is checked in under crds/. */
import { stringify } from 'yaml';
import { buildCrdManifest } from '../policy/crd-manifest.ts';

export const CRD_FILE = 'crds/aicircuitpolicies.aicircuit.io.yaml';

const HEADER =
  '# Generated from src/policy/policy-schema.ts by `npm run gen:crd` (also printed by `aicb crd`).\n' +
  '# Do not edit by hand: CI fails when this file differs from the generator output.\n';

export function renderCrdYaml(): string {
  return HEADER + stringify(buildCrdManifest(), { lineWidth: 0 });
}
