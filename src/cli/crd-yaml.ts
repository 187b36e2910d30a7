/** Renders the generated CRD as YAML, byte for byte what is checked in under crds/. */
import { stringify } from 'yaml';
import { buildCrdManifest } from '../policy/crd-manifest.ts';

export const CRD_FILE = 'crds/aicircuitpolicies.aicircuit.io.yaml';

const HEADER =
  '# Generated from src/policy/policy-schema.ts by `npm run gen:crd` (also printed by `aicb crd`).\n' +
  '# Do not edit by hand: CI fails when this file differs from the generator output.\n';

export function renderCrdYaml(): string {
  // version 1.1: quote the keys and strings that YAML 1.1 readers take for booleans. kubectl and
  // the API server read YAML 1.1 (sigs.k8s.io/yaml), where a bare `on:` is the key "true" (why
  // spec.alerting names its list `events`, ADR 0005).
  return HEADER + stringify(buildCrdManifest(), { lineWidth: 0, version: '1.1' });
}
